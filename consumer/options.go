package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/hooks"
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

	onPush         func(partition int32, pending int) // tests: records waiting after each fetch
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
	for _, p := range c.checkKgoOpts() {
		ps.Addf("%s", p)
	}
	return ps.Err()
}

// guarded are the franz-go options a caller cannot set through
// WithKgoOpts, and why.
var guarded = []struct {
	name   string
	opt    any
	why    string
	byName bool // OptValue cannot tell (wrapped callbacks, settings eoskit also sets)
}{
	{"kgo.ConsumerGroup", kgo.ConsumerGroup, "overrides the group: use consumer.WithGroup", false},
	{"kgo.ConsumeTopics", kgo.ConsumeTopics, "overrides the topics: use consumer.WithTopics", false},
	{"kgo.ConsumeRegex", kgo.ConsumeRegex, "changes what the topics mean: name them with consumer.WithTopics", false},
	{"kgo.FetchIsolationLevel", kgo.FetchIsolationLevel, "overrides the isolation level: the consumer reads read_committed (consumer.WithReadUncommitted is the named opt-out)", false},
	{"kgo.ConsumeStartOffset", kgo.ConsumeStartOffset, "overrides the start position: use consumer.WithStartOffset", false},
	{"kgo.ConsumeResetOffset", kgo.ConsumeResetOffset, "would reset a lost position silently: the consumer stops with eoskit.ErrPositionLost instead; move the group's offsets deliberately", false},
	{"kgo.DisableAutoCommit", kgo.DisableAutoCommit, "would stop the periodic commit of handled records", false},
	{"kgo.AutoCommitMarks", kgo.AutoCommitMarks, "is the consumer's own setting: drop it", true},
	{"kgo.AutoCommitInterval", kgo.AutoCommitInterval, "overrides the commit interval: use consumer.WithCommitInterval", false},
	{"kgo.BlockRebalanceOnPoll", kgo.BlockRebalanceOnPoll, "is the consumer's own setting: drop it", true},
	{"kgo.RequireStableFetchOffsets", kgo.RequireStableFetchOffsets, "is the consumer's own setting: drop it", true},
	{"kgo.TransactionalID", kgo.TransactionalID, "makes no sense on a consumer: use txn for transactions", false},
	{"kgo.OnPartitionsAssigned", kgo.OnPartitionsAssigned, "replaces the consumer's own callback (it pins start positions): use consumer.WithHooks to observe rebalances", true},
	{"kgo.OnPartitionsRevoked", kgo.OnPartitionsRevoked, "replaces the consumer's own callback (it commits on revoke): use consumer.WithHooks to observe rebalances", true},
	{"kgo.OnPartitionsLost", kgo.OnPartitionsLost, "replaces the consumer's own callback: use consumer.WithHooks to observe rebalances", true},
	{"kgo.AutoCommitCallback", kgo.AutoCommitCallback, "replaces the consumer's own callback: use consumer.WithHooks to observe commits", true},
	{"kgo.AdjustFetchOffsetsFn", kgo.AdjustFetchOffsetsFn, "could move the committed positions: move the group's offsets deliberately instead", true},
	{"kgo.OnOffsetsFetched", kgo.OnOffsetsFetched, "could move the committed positions: move the group's offsets deliberately instead", true},
}

// checkKgoOpts returns a problem for every franz-go option (WithKgoOpts)
// that would undo a guarantee: it builds two clients (never dialled) from
// the connection and the settings eoskit needs, the second with the
// caller's options after them, and compares the values they read back
// (kgo.Client.OptValue).
func (c *config) checkKgoOpts() []string {
	if len(c.conn.KgoOpts) == 0 {
		return nil
	}
	iso := kgo.ReadCommitted()
	if c.readUncommitted {
		iso = kgo.ReadUncommitted()
	}
	opts := append(c.conn.BaseOpts(),
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topics...),
		kgo.FetchIsolationLevel(iso),
		kgo.ConsumeStartOffset(*c.start),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.AutoCommitInterval(c.commitInterval),
	)
	ref, err := kgo.NewClient(opts...)
	if err != nil {
		return []string{err.Error()}
	}
	defer ref.Close()
	probe, err := kgo.NewClient(append(opts, c.conn.KgoOpts...)...)
	if err != nil {
		return []string{fmt.Sprintf("Conn.KgoOpts: franz-go refuses them with the consumer's settings: %v", err)}
	}
	defer probe.Close()
	// franz-go wraps its group callbacks, so OptValue cannot tell a
	// caller's from the default: those are found by the option's name.
	named := map[string]bool{}
	for _, o := range c.conn.KgoOpts {
		named[kgoOptName(o)] = true
	}
	var problems []string
	for _, g := range guarded {
		if g.byName && named[g.name] || !g.byName && differ(ref.OptValue(g.opt), probe.OptValue(g.opt)) {
			problems = append(problems, "Conn.KgoOpts sets "+g.name+", which "+g.why)
		}
	}
	return problems
}

// kgoOptName returns "kgo.X" for an option built by kgo.X, or "": the
// name of the closure inside a kgo option is "<pkg>.X.funcN" (the package
// is the caller's when the constructor was inlined).
func kgoOptName(o kgo.Opt) string {
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Struct || v.NumField() == 0 || v.Field(0).Kind() != reflect.Func {
		return ""
	}
	f := runtime.FuncForPC(v.Field(0).Pointer())
	if f == nil {
		return ""
	}
	name := f.Name()
	i := strings.LastIndex(name, ".func")
	if i < 0 {
		return ""
	}
	name = name[:i]
	return "kgo." + name[strings.LastIndex(name, ".")+1:]
}

// differ compares option values; functions by their code pointer.
func differ(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() == reflect.Func && vb.Kind() == reflect.Func {
		return va.Pointer() != vb.Pointer()
	}
	return !reflect.DeepEqual(a, b)
}

func (c *config) connOpts() []kgo.Opt { return c.conn.Opts() }
