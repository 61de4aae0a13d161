package txn

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Defaults, in the spirit of Kafka Streams under exactly_once_v2 (100 ms
// commit interval).
const (
	DefaultMaxTxnRecords      = 500
	DefaultCommitInterval     = 100 * time.Millisecond
	DefaultTransactionTimeout = 40 * time.Second
	DefaultHandlerRetries     = 3
	DefaultRetryBackoff       = 100 * time.Millisecond
	DefaultMaxBackoff         = 5 * time.Second
)

// Opt configures a Processor. Options are applied in order; New validates
// the result once and reports every problem at once.
type Opt interface{ apply(*config) }

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

type config struct {
	conn           eoskit.Conn
	group          string
	topics         []string
	txnID          string
	start          kgo.Offset
	maxRecords     int
	maxPoll        int
	interval       time.Duration
	txnTimeout     time.Duration
	sessionTimeout time.Duration
	provenance     bool
	retries        int
	retryBackoff   time.Duration
	maxBackoff     time.Duration
	deadLetter     string
	logger         *slog.Logger
	hooks          []eoskit.Hook
}

func defaultConfig() config {
	return config{
		start:        kgo.NewOffset().AtStart(),
		maxRecords:   DefaultMaxTxnRecords,
		interval:     DefaultCommitInterval,
		txnTimeout:   DefaultTransactionTimeout,
		provenance:   true,
		retries:      DefaultHandlerRetries,
		retryBackoff: DefaultRetryBackoff,
		maxBackoff:   DefaultMaxBackoff,
		logger:       slog.New(slog.DiscardHandler),
	}
}

// WithGroup sets the consumer group the processors share. Required.
func WithGroup(group string) Opt { return opt(func(c *config) { c.group = group }) }

// WithTopics sets the input topics. Required.
func WithTopics(topics ...string) Opt { return opt(func(c *config) { c.topics = topics }) }

// WithTransactionalID sets this instance's transactional ID. Required.
//
// Rule: the ID must be stable across restarts of the same instance and
// unique among the instances running at the same time, for example
// "<app>-<group>-<ordinal>" with the ordinal of a StatefulSet pod or a
// process slot. A restarted instance with the same ID fences its zombie at
// start-up and unblocks read_committed readers at once. A random ID per
// start leaves a crashed instance's open transaction blocking readers until
// the transaction timeout; two live instances with one ID fence each other
// (Run returns an error matching eoskit.ErrFenced).
func WithTransactionalID(id string) Opt { return opt(func(c *config) { c.txnID = id }) }

// WithStartOffset sets where a partition without a committed offset starts
// (a new group). Default: the start of the partition. With an offset at
// the end (kgo.NewOffset().AtEnd()), Run pins the end when it starts: it
// commits the current last stable offset for every input partition that
// has no committed offset yet (only while the group has no member), so
// that no record produced after the first processor started is skipped
// when a partition changes owner before its first commit. Once the group
// has committed offsets, consumption resumes there; an out-of-range
// committed offset is never reset silently (eoskit.ErrPositionLost).
func WithStartOffset(o kgo.Offset) Opt { return opt(func(c *config) { c.start = o }) }

// WithMaxTxnRecords closes a transaction once it holds this many input
// records. Default DefaultMaxTxnRecords. A transaction also closes after
// the commit interval, whichever comes first.
func WithMaxTxnRecords(n int) Opt { return opt(func(c *config) { c.maxRecords = n }) }

// WithMaxPollRecords caps how many records one poll (and one BatchHandler
// call) gets; a transaction then spans several polls. Default: the
// transaction's record limit.
func WithMaxPollRecords(n int) Opt { return opt(func(c *config) { c.maxPoll = n }) }

// WithCommitInterval closes a transaction this long after its first input
// record. Default DefaultCommitInterval.
func WithCommitInterval(d time.Duration) Opt { return opt(func(c *config) { c.interval = d }) }

// WithTransactionTimeout is the broker-side transaction timeout: how long a
// crashed instance's open transaction can block read_committed readers if
// no instance with the same transactional ID restarts. Default
// DefaultTransactionTimeout; the broker caps it at
// transaction.max.timeout.ms.
func WithTransactionTimeout(d time.Duration) Opt { return opt(func(c *config) { c.txnTimeout = d }) }

// WithSessionTimeout sets the consumer group session timeout (franz-go's
// default 45 s).
func WithSessionTimeout(d time.Duration) Opt { return opt(func(c *config) { c.sessionTimeout = d }) }

// WithProvenance turns the provenance header (ProvenanceHeader) on every
// output record on or off. Default on.
func WithProvenance(on bool) Opt { return opt(func(c *config) { c.provenance = on }) }

// WithHandlerRetries sets how many times a failing handler is retried on
// the same input (with backoff starting at the retry backoff) before the
// record is dead-lettered (WithDeadLetterTopic) or Run stops with a
// *HandlerError. A Handler retries only the record that failed; a
// BatchHandler retries the whole batch. Default DefaultHandlerRetries; 0
// means no retry.
func WithHandlerRetries(n int) Opt { return opt(func(c *config) { c.retries = n }) }

// WithRetryBackoff sets the first backoff between handler retries, between
// transactions aborted by a transient produce error, and between session
// rebuilds; it doubles up to the maximum backoff. Default
// DefaultRetryBackoff.
func WithRetryBackoff(d time.Duration) Opt { return opt(func(c *config) { c.retryBackoff = d }) }

// WithMaxBackoff caps the backoffs of WithRetryBackoff. Default
// DefaultMaxBackoff.
func WithMaxBackoff(d time.Duration) Opt { return opt(func(c *config) { c.maxBackoff = d }) }

// WithDeadLetterTopic routes aside, inside the same transaction as its
// offset, an input record the handler still fails on after its retries,
// or whose output can never be produced (too large, unknown topic, not
// authorized, invalid): the dead letter carries the input's key, value and
// headers plus DeadLetterError, DeadLetterTopicHeader,
// DeadLetterPartition and DeadLetterOffset. Outputs of failed attempts
// are discarded. Default: none (Run stops with a *HandlerError or an
// *eoskit.UnproducibleError).
func WithDeadLetterTopic(topic string) Opt { return opt(func(c *config) { c.deadLetter = topic }) }

// WithLogger receives the processor's log records, with the attribute keys
// topic, partition, group, txn_id, producer_id, epoch and err: one line per
// transaction outcome at Debug, per abort, rebalance and session restart
// at Info, per fatal error at Error. Default: silent.
func WithLogger(l *slog.Logger) Opt { return opt(func(c *config) { c.logger = l }) }

// WithHooks registers values implementing eoskit's hook interfaces:
// HookTxnBegin, HookTxnEnd, HookProduce (every output), HookHandled,
// HookAssigned, HookRevoked, HookDeadLetter and HookSessionRestart.
func WithHooks(hooks ...eoskit.Hook) Opt {
	return opt(func(c *config) { c.hooks = append(c.hooks, hooks...) })
}

func (c *config) validate() error {
	ps := eoskit.NewProblems("txn")
	ps.Add(c.conn.Validate())
	if c.group == "" {
		ps.Addf("no consumer group: set WithGroup")
	}
	if len(c.topics) == 0 {
		ps.Addf("no input topics: set WithTopics")
	}
	if c.txnID == "" {
		ps.Addf("no transactional ID: set WithTransactionalID to a stable per-instance ID (see its doc)")
	}
	if c.maxRecords <= 0 {
		ps.Addf("WithMaxTxnRecords(%d): use a positive count", c.maxRecords)
	}
	if c.maxPoll < 0 {
		ps.Addf("WithMaxPollRecords(%d): use a positive count", c.maxPoll)
	}
	if c.interval <= 0 {
		ps.Addf("WithCommitInterval(%v): use a positive duration", c.interval)
	}
	if c.txnTimeout < time.Second {
		ps.Addf("WithTransactionTimeout(%v): use at least 1s", c.txnTimeout)
	} else if c.interval >= c.txnTimeout {
		ps.Addf("WithCommitInterval(%v) must be well below the transaction timeout %v", c.interval, c.txnTimeout)
	}
	if c.sessionTimeout < 0 {
		ps.Addf("WithSessionTimeout(%v): use a positive duration", c.sessionTimeout)
	}
	if c.retries < 0 {
		ps.Addf("WithHandlerRetries(%d): use 0 or more", c.retries)
	}
	if c.retryBackoff <= 0 || c.maxBackoff < c.retryBackoff {
		ps.Addf("WithRetryBackoff(%v) / WithMaxBackoff(%v): both positive, the maximum at least the first", c.retryBackoff, c.maxBackoff)
	}
	if c.logger == nil {
		ps.Addf("WithLogger(nil): leave the option out for silence")
	}
	for _, t := range c.topics {
		if t == c.deadLetter {
			ps.Addf("dead-letter topic %q is also an input topic: use another topic", t)
		}
	}
	return ps.Err()
}
