package consumer

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/hooks"
	"github.com/eoskit/eoskit/internal/kgoguard"
)

// Opt configures New.
type Opt interface{ apply(*config) }

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

// Handler handles one record. Records of a partition are handled one at a
// time, in offset order; records of different partitions concurrently. A
// nil return marks the record handled (committable). ctx is cancelled when
// the partition is lost, or when a revoke or shutdown outlasts its grace
// period.
type Handler func(ctx context.Context, r *kgo.Record) error

// ErrorHandler decides what happens to a record the handler failed after
// every retry: return nil to count it handled (after sending it to a
// dead-letter topic, for instance) and go on, or an error to stop Run.
type ErrorHandler func(ctx context.Context, r *kgo.Record, err error) error

type config struct {
	conn     eoskit.Conn
	group    string
	topics   []string
	start    *kgo.Offset
	logger   *slog.Logger
	hookVals []eoskit.Hook
	hooks    hooks.Set // built once by New

	readUncommitted bool
	kip848          bool
	concurrency     int
	maxPending      int
	maxPendingBytes int
	timeHandler     bool // a HookHandled wants each handler's duration
	handledRuns     bool // every HookHandled takes quiet calls as runs (HookHandledRun)

	onPush         func(partition int32, pending, pendingBytes int) // tests: records and bytes waiting after each fetch
	retries        int
	backoff        time.Duration
	onError        ErrorHandler
	commitInterval time.Duration
	grace          time.Duration
}

// Defaults.
const (
	DefaultConcurrency     = 8
	DefaultMaxPending      = 10000
	DefaultMaxPendingBytes = 4 << 20
	// DefaultFetchMaxWait is how long a broker may hold a fetch that has
	// no data yet: Java's fetch.max.wait.ms, not franz-go's 5 s, so that a
	// partition resumed after a pause is fetched again soon even when the
	// others are idle. kgo.FetchMaxWait(d) in eoskit.Conn.KgoOpts overrides it.
	DefaultFetchMaxWait   = 500 * time.Millisecond
	DefaultCommitInterval = time.Second
	DefaultGrace          = 30 * time.Second
	DefaultBackoff        = 100 * time.Millisecond
)

func newConfig(conn eoskit.Conn, opts []Opt) config {
	c := config{
		conn:            conn,
		logger:          slog.New(slog.DiscardHandler),
		concurrency:     DefaultConcurrency,
		maxPending:      DefaultMaxPending,
		maxPendingBytes: DefaultMaxPendingBytes,
		backoff:         DefaultBackoff,
		commitInterval:  DefaultCommitInterval,
		grace:           DefaultGrace,
	}
	for _, o := range opts {
		o.apply(&c)
	}
	c.hooks = hooks.New(c.hookVals)
	c.timeHandler = c.hooks.HasHandled()
	c.handledRuns = c.hooks.HandledRuns()
	return c
}

// WithGroup sets the consumer group. Required.
func WithGroup(group string) Opt { return opt(func(c *config) { c.group = group }) }

// WithTopics sets the topics to consume. Required.
func WithTopics(topics ...string) Opt { return opt(func(c *config) { c.topics = topics }) }

// StartAtEarliest makes partitions without a committed offset start at the
// log start. One Start option is required.
func StartAtEarliest() Opt { return WithStartOffset(kgo.NewOffset().AtStart()) }

// StartAtLatest makes partitions without a committed offset start at the log
// end (records produced before the group first joined are not read). The
// end is resolved once, when the partition is first assigned, and committed
// for the group at once: a partition that changes owner before its first
// commit resumes there, so no record produced after that is skipped.
func StartAtLatest() Opt { return WithStartOffset(kgo.NewOffset().AtEnd()) }

// WithStartOffset sets where partitions without a committed offset start,
// e.g. kgo.NewOffset().AfterMilli(ms). It never applies to a partition
// whose committed position is out of range: that is eoskit.ErrPositionLost.
func WithStartOffset(o kgo.Offset) Opt { return opt(func(c *config) { c.start = &o }) }

// WithReadUncommitted reads records of open and aborted transactions too.
// Default read_committed.
func WithReadUncommitted() Opt { return opt(func(c *config) { c.readUncommitted = true }) }

// WithConsumerProtocol uses the KIP-848 consumer group protocol (Kafka 4.0+,
// broker-side assignment) instead of the classic protocol with
// cooperative-sticky balancing. Brokers without it fall back to classic.
func WithConsumerProtocol() Opt { return opt(func(c *config) { c.kip848 = true }) }

// WithConcurrency bounds how many records are handled at once across
// partitions. Default DefaultConcurrency.
func WithConcurrency(n int) Opt { return opt(func(c *config) { c.concurrency = n }) }

// WithMaxPending bounds the records fetched but not yet handled, per
// partition: when, after a poll, n records (or WithMaxPendingBytes bytes)
// are waiting, the poll loop gives the handler up to 50 ms to catch up, then
// pauses fetching of that partition until the handler has worked through
// half of them. A partition therefore holds at most about n records plus
// one fetch. Default
// DefaultMaxPending; see WithMaxPendingBytes for the byte bound.
func WithMaxPending(n int) Opt { return opt(func(c *config) { c.maxPending = n }) }

// WithMaxPendingBytes is WithMaxPending's bound in bytes of keys, values and
// headers, per partition. Default DefaultMaxPendingBytes.
func WithMaxPendingBytes(n int) Opt { return opt(func(c *config) { c.maxPendingBytes = n }) }

// WithRetries retries a failed record n more times, waiting backoff,
// doubling up to 32×backoff, between tries. Default: no retry, 100 ms.
func WithRetries(n int, backoff time.Duration) Opt {
	return opt(func(c *config) { c.retries, c.backoff = n, backoff })
}

// WithOnHandlerError receives records that failed after every retry;
// without it Run stops with ErrHandler.
func WithOnHandlerError(fn ErrorHandler) Opt { return opt(func(c *config) { c.onError = fn }) }

// WithCommitInterval sets how often handled offsets are committed while
// running (they are also committed on revoke and at shutdown). Default
// DefaultCommitInterval.
func WithCommitInterval(d time.Duration) Opt { return opt(func(c *config) { c.commitInterval = d }) }

// WithGracePeriod bounds how long a revoke or shutdown waits for in-flight
// handlers before cancelling their context, and how long the final commit
// may take. Default DefaultGrace.
func WithGracePeriod(d time.Duration) Opt { return opt(func(c *config) { c.grace = d }) }

// WithLogger receives this package's log lines. Default: silent.
func WithLogger(l *slog.Logger) Opt { return opt(func(c *config) { c.logger = l }) }

// WithHooks registers eoskit hook values: the consumer calls
// eoskit.HookHandled after every handler call, eoskit.HookCommit after
// every offset commit, and eoskit.HookAssigned / eoskit.HookRevoked on
// rebalances. franz-go's own hooks go in eoskit.Conn.KgoOpts.
func WithHooks(hs ...eoskit.Hook) Opt {
	return opt(func(c *config) { c.hookVals = append(c.hookVals, hs...) })
}

// validate reports every problem at once as an *eoskit.OptionError.
func (c *config) validate() error {
	ps := eoskit.NewProblems("consumer")
	ps.Add(c.conn.Validate())
	if c.group == "" {
		ps.Addf("no group: pass consumer.WithGroup")
	}
	if len(c.topics) == 0 {
		ps.Addf("no topics: pass consumer.WithTopics")
	}
	if c.start == nil {
		ps.Addf("no start position for a new group: pass consumer.StartAtEarliest() or StartAtLatest()")
	}
	if c.logger == nil {
		ps.Addf("WithLogger(nil): leave the option out for silence")
	}
	if c.concurrency < 1 {
		ps.Addf("WithConcurrency(%d): use at least 1", c.concurrency)
	}
	if c.maxPending < 1 {
		ps.Addf("WithMaxPending(%d): use at least 1", c.maxPending)
	}
	if c.maxPendingBytes < 1 {
		ps.Addf("WithMaxPendingBytes(%d): use at least 1", c.maxPendingBytes)
	}
	if c.retries < 0 || c.backoff < 0 {
		ps.Addf("WithRetries: use a count and backoff >= 0")
	}
	if c.commitInterval <= 0 || c.grace <= 0 {
		ps.Addf("WithCommitInterval and WithGracePeriod take positive durations")
	}
	if err := ps.Err(); err != nil {
		return err
	}
	ps.Add(c.checkKgoOpts())
	return ps.Err()
}

// checkKgoOpts refuses franz-go options (Conn.KgoOpts) that would undo a
// guarantee (internal/kgoguard, compared with guardedOpts).
func (c *config) checkKgoOpts() error {
	gs := kgoguard.For("consumer", kgoguard.Consuming, kgoguard.AutoCommit, kgoguard.Transactional)
	minimal := []kgo.Opt{kgo.ConsumerGroup(c.group), kgo.ConsumeTopics(c.topics...)}
	return kgoguard.Check("consumer", minimal, c.guardedOpts(), c.conn.KgoOpts, gs)
}

// guardedOpts are the franz-go options the consumer's guarantees rest on
// (its callbacks come on top, in run.kgoOpts).
func (c *config) guardedOpts() []kgo.Opt {
	iso := kgo.ReadCommitted()
	if c.readUncommitted {
		iso = kgo.ReadUncommitted()
	}
	return []kgo.Opt{
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topics...),
		kgo.FetchIsolationLevel(iso),
		kgo.ConsumeStartOffset(*c.start),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.BlockRebalanceOnPoll(),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(c.commitInterval),
	}
}

func (c *config) connOpts() []kgo.Opt { return c.conn.Opts() }
