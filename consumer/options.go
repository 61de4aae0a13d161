package consumer

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/eoskit/eoskit"
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

// HandleHook is called after every handler call (each try of a record)
// with its result and duration. It must not block.
type HandleHook interface {
	OnHandle(r *kgo.Record, err error, took time.Duration)
}

// CommitHook is called after each commit attempt with the offsets sent
// (the next offset to consume, per partition).
type CommitHook interface {
	OnCommit(offsets map[string]map[int32]int64, err error)
}

type config struct {
	brokers  []string
	clientID string
	tls      *tls.Config
	sasl     sasl.Mechanism
	group    string
	topics   []string
	start    *kgo.Offset
	logger   *slog.Logger
	hooks    []any

	readUncommitted bool
	kip848          bool
	concurrency     int
	maxPending      int
	maxPendingBytes int
	timeHandler     bool // a HandleHook wants each handler's duration

	onPush         func(partition int32, pending int) // tests: records waiting after each fetch
	retries        int
	backoff        time.Duration
	onError        ErrorHandler
	commitInterval time.Duration
	grace          time.Duration

	kgoOpts []kgo.Opt
}

// Defaults.
const (
	DefaultConcurrency     = 8
	DefaultMaxPending      = 10000
	DefaultMaxPendingBytes = 4 << 20
	// DefaultFetchMaxWait is how long a broker may hold a fetch that has
	// no data yet: Java's fetch.max.wait.ms, not franz-go's 5 s, so that a
	// partition resumed after a pause is fetched again soon even when the
	// others are idle. WithKgoOpts(kgo.FetchMaxWait(d)) overrides it.
	DefaultFetchMaxWait   = 500 * time.Millisecond
	DefaultCommitInterval = time.Second
	DefaultGrace          = 30 * time.Second
	DefaultBackoff        = 100 * time.Millisecond
)

func defaultConfig() config {
	return config{
		logger:          slog.New(slog.DiscardHandler),
		concurrency:     DefaultConcurrency,
		maxPending:      DefaultMaxPending,
		maxPendingBytes: DefaultMaxPendingBytes,
		backoff:         DefaultBackoff,
		commitInterval:  DefaultCommitInterval,
		grace:           DefaultGrace,
	}
}

// WithBrokers sets the seed brokers (host:port). Required.
func WithBrokers(brokers ...string) Opt { return opt(func(c *config) { c.brokers = brokers }) }

// WithTLS encrypts connections with cfg (conn.LoadTLS-style: system roots
// or a CA, and a client certificate for mTLS). Default: plaintext.
func WithTLS(cfg *tls.Config) Opt { return opt(func(c *config) { c.tls = cfg }) }

// WithSASL authenticates with m: franz-go's plain, scram or oauth
// mechanisms. Default: no authentication.
func WithSASL(m sasl.Mechanism) Opt { return opt(func(c *config) { c.sasl = m }) }

// conn is the shared connection config of c.
func (c *config) conn() eoskit.Conn {
	return eoskit.Conn{Brokers: c.brokers, ClientID: c.clientID, TLS: c.tls, SASL: c.sasl}
}

// WithClientID sets the client ID. Default "eoskit".
func WithClientID(id string) Opt { return opt(func(c *config) { c.clientID = id }) }

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
// whose committed position is out of range: that is ErrPositionLost.
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

// WithHooks registers values implementing HandleHook and/or CommitHook.
func WithHooks(hooks ...any) Opt { return opt(func(c *config) { c.hooks = append(c.hooks, hooks...) }) }

// WithKgoOpts passes extra franz-go options through (TLS, SASL, session
// timeout, kgo hooks). Options that would let the consumer skip records,
// read uncommitted data or commit unhandled ones (isolation level,
// ConsumeResetOffset, ConsumeStartOffset, auto-commit settings,
// BlockRebalanceOnPoll, partition and commit callbacks, the group, the
// topics, a transactional ID) are refused with ErrInvalidOption naming the
// option.
func WithKgoOpts(opts ...kgo.Opt) Opt {
	return opt(func(c *config) { c.kgoOpts = append(c.kgoOpts, opts...) })
}

func (c *config) validate() error {
	var problems []string
	if err := c.conn().Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if c.group == "" {
		problems = append(problems, "no group: pass consumer.WithGroup")
	}
	if len(c.topics) == 0 {
		problems = append(problems, "no topics: pass consumer.WithTopics")
	}
	if c.start == nil {
		problems = append(problems, "no start position for a new group: pass consumer.StartAtEarliest() or StartAtLatest()")
	}
	if c.logger == nil {
		problems = append(problems, "WithLogger(nil): leave the option out for silence")
	}
	if c.concurrency < 1 {
		problems = append(problems, fmt.Sprintf("WithConcurrency(%d): use at least 1", c.concurrency))
	}
	if c.maxPending < 1 {
		problems = append(problems, fmt.Sprintf("WithMaxPending(%d): use at least 1", c.maxPending))
	}
	if c.maxPendingBytes < 1 {
		problems = append(problems, fmt.Sprintf("WithMaxPendingBytes(%d): use at least 1", c.maxPendingBytes))
	}
	for _, h := range c.hooks {
		if _, ok := h.(HandleHook); ok {
			c.timeHandler = true
		}
	}
	if c.retries < 0 || c.backoff < 0 {
		problems = append(problems, "WithRetries: use a count and backoff >= 0")
	}
	if c.commitInterval <= 0 || c.grace <= 0 {
		problems = append(problems, "WithCommitInterval and WithGracePeriod take positive durations")
	}
	if len(problems) == 0 {
		problems = append(problems, c.checkKgoOpts()...)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidOption, strings.Join(problems, "; "))
	}
	return nil
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
	{"kgo.ConsumeResetOffset", kgo.ConsumeResetOffset, "would reset a lost position silently: the consumer stops with ErrPositionLost instead; move the group's offsets deliberately", false},
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
	if len(c.kgoOpts) == 0 {
		return nil
	}
	iso := kgo.ReadCommitted()
	if c.readUncommitted {
		iso = kgo.ReadUncommitted()
	}
	opts := append(c.connOpts(),
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
	probe, err := kgo.NewClient(append(opts, c.kgoOpts...)...)
	if err != nil {
		return []string{fmt.Sprintf("WithKgoOpts: franz-go refuses them with the consumer's settings: %v", err)}
	}
	defer probe.Close()
	// franz-go wraps its group callbacks, so OptValue cannot tell a
	// caller's from the default: those are found by the option's name.
	named := map[string]bool{}
	for _, o := range c.kgoOpts {
		named[kgoOptName(o)] = true
	}
	var problems []string
	for _, g := range guarded {
		if g.byName && named[g.name] || !g.byName && differ(ref.OptValue(g.opt), probe.OptValue(g.opt)) {
			problems = append(problems, g.name+" "+g.why)
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

func (c *config) connOpts() []kgo.Opt {
	return c.conn().Opts()
}

func (c *config) onHandle(r *kgo.Record, err error, took time.Duration) {
	for _, h := range c.hooks {
		if hh, ok := h.(HandleHook); ok {
			hh.OnHandle(r, err, took)
		}
	}
}

func (c *config) onCommit(offsets map[string]map[int32]int64, err error) {
	for _, h := range c.hooks {
		if ch, ok := h.(CommitHook); ok {
			ch.OnCommit(offsets, err)
		}
	}
}
