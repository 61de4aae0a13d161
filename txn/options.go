package txn

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/eoskit/eoskit/internal/conn"
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
// the result once.
type Opt interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

type config struct {
	conn           conn.Config
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
	hooks          []Hook
	kopts          []kgo.Opt
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

// Brokers sets the seed brokers (host:port). Required.
func Brokers(seeds ...string) Opt {
	return optFunc(func(c *config) { c.conn.Brokers = append(c.conn.Brokers, seeds...) })
}

// TLS encrypts the connections with cfg (for mTLS, with a client
// certificate in cfg.Certificates).
func TLS(cfg *tls.Config) Opt { return optFunc(func(c *config) { c.conn.TLS = cfg }) }

// SASL authenticates with m, e.g. scram.Auth{User: u, Pass: p}.AsSha512Mechanism()
// from github.com/twmb/franz-go/pkg/sasl/scram.
func SASL(m sasl.Mechanism) Opt { return optFunc(func(c *config) { c.conn.SASL = m }) }

// ClientID sets the Kafka client ID. Default "eoskit".
func ClientID(id string) Opt { return optFunc(func(c *config) { c.conn.ClientID = id }) }

// Group sets the consumer group the processors share. Required.
func Group(group string) Opt { return optFunc(func(c *config) { c.group = group }) }

// Topics sets the input topics. Required.
func Topics(topics ...string) Opt {
	return optFunc(func(c *config) { c.topics = append(c.topics, topics...) })
}

// TransactionalID sets this instance's transactional ID. Required.
//
// Rule: the ID must be stable across restarts of the same instance and
// unique among the instances running at the same time, for example
// "<app>-<group>-<ordinal>" with the ordinal of a StatefulSet pod or a
// process slot. A restarted instance with the same ID fences its zombie at
// start-up and unblocks read_committed readers at once. A random ID per
// start leaves a crashed instance's open transaction blocking readers until
// TransactionTimeout; two live instances with one ID fence each other
// (Run returns ErrFenced).
func TransactionalID(id string) Opt { return optFunc(func(c *config) { c.txnID = id }) }

// StartOffset sets where a partition without a committed offset starts
// (a new group). Default: the start of the partition. Once the group has
// committed offsets, consumption resumes there; an out-of-range committed
// offset is never reset silently (Run returns ErrOffsetReset).
func StartOffset(o kgo.Offset) Opt { return optFunc(func(c *config) { c.start = o }) }

// MaxTxnRecords closes a transaction once it holds this many input records.
// Default DefaultMaxTxnRecords. A transaction also closes after
// CommitInterval, whichever comes first.
func MaxTxnRecords(n int) Opt { return optFunc(func(c *config) { c.maxRecords = n }) }

// MaxPollRecords caps how many records one handler call (and one poll)
// gets; a transaction then spans several polls. Default: MaxTxnRecords.
func MaxPollRecords(n int) Opt { return optFunc(func(c *config) { c.maxPoll = n }) }

// CommitInterval closes a transaction this long after its first input
// record. Default DefaultCommitInterval.
func CommitInterval(d time.Duration) Opt { return optFunc(func(c *config) { c.interval = d }) }

// TransactionTimeout is the broker-side transaction timeout: how long a
// crashed instance's open transaction can block read_committed readers if
// no instance with the same transactional ID restarts. Default
// DefaultTransactionTimeout; the broker caps it at
// transaction.max.timeout.ms.
func TransactionTimeout(d time.Duration) Opt { return optFunc(func(c *config) { c.txnTimeout = d }) }

// SessionTimeout sets the consumer group session timeout (kgo default 45 s).
func SessionTimeout(d time.Duration) Opt { return optFunc(func(c *config) { c.sessionTimeout = d }) }

// Provenance turns the provenance header (ProvenanceHeader) on every output
// record on or off. Default on.
func Provenance(on bool) Opt { return optFunc(func(c *config) { c.provenance = on }) }

// HandlerRetries sets how many times a failing handler is retried on the
// same input (with backoff starting at RetryBackoff) before the record is
// dead-lettered (DeadLetterTopic) or Run stops with a *HandlerError.
// Default DefaultHandlerRetries; 0 means no retry.
func HandlerRetries(n int) Opt { return optFunc(func(c *config) { c.retries = n }) }

// RetryBackoff sets the first backoff between handler retries and between
// session rebuilds; it doubles up to MaxBackoff. Default DefaultRetryBackoff.
func RetryBackoff(d time.Duration) Opt { return optFunc(func(c *config) { c.retryBackoff = d }) }

// MaxBackoff caps the backoff between handler retries and session rebuilds.
// Default DefaultMaxBackoff.
func MaxBackoff(d time.Duration) Opt { return optFunc(func(c *config) { c.maxBackoff = d }) }

// DeadLetterTopic routes an input record the handler still fails on after
// HandlerRetries to topic, inside the same transaction, with its key, value
// and headers plus DeadLetterError, DeadLetterTopicHeader,
// DeadLetterPartition and DeadLetterOffset headers. Outputs the handler
// emitted in failed attempts are discarded. Default: none (Run stops).
func DeadLetterTopic(topic string) Opt { return optFunc(func(c *config) { c.deadLetter = topic }) }

// Logger receives the processor's log records (attribute keys topic,
// partition, group, txn_id, epoch). Default: silent.
func Logger(l *slog.Logger) Opt { return optFunc(func(c *config) { c.logger = l }) }

// Hooks registers values implementing one or more Hook interfaces.
func Hooks(hooks ...Hook) Opt {
	return optFunc(func(c *config) { c.hooks = append(c.hooks, hooks...) })
}

// KgoOpts passes extra franz-go options to every session client (TLS,
// SASL, tuning). They are applied after eoskit's, so they can override
// them; do not override the group, topics, transactional ID or offset
// reset policy.
func KgoOpts(opts ...kgo.Opt) Opt {
	return optFunc(func(c *config) { c.kopts = append(c.kopts, opts...) })
}

func (c *config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("txn: "+format+": %w", append(args, ErrInvalidOption)...)
	}
	if err := c.conn.Validate(); err != nil {
		return fmt.Errorf("txn: %w (option Brokers): %w", err, ErrInvalidOption)
	}
	switch {
	case c.group == "":
		return bad("no consumer group: set Group")
	case len(c.topics) == 0:
		return bad("no input topics: set Topics")
	case c.txnID == "":
		return bad("no transactional ID: set TransactionalID to a stable per-instance ID (see its doc)")
	case c.maxRecords <= 0:
		return bad("MaxTxnRecords %d: use a positive count", c.maxRecords)
	case c.maxPoll < 0:
		return bad("MaxPollRecords %d: use a positive count", c.maxPoll)
	case c.interval <= 0:
		return bad("CommitInterval %v: use a positive duration", c.interval)
	case c.txnTimeout < time.Second:
		return bad("TransactionTimeout %v: use at least 1s", c.txnTimeout)
	case c.interval >= c.txnTimeout:
		return bad("CommitInterval %v must be well below TransactionTimeout %v", c.interval, c.txnTimeout)
	case c.retries < 0:
		return bad("HandlerRetries %d: use 0 or more", c.retries)
	case c.retryBackoff <= 0 || c.maxBackoff < c.retryBackoff:
		return bad("RetryBackoff %v / MaxBackoff %v: both positive, MaxBackoff >= RetryBackoff", c.retryBackoff, c.maxBackoff)
	case c.logger == nil:
		return bad("nil Logger: omit the option for silence")
	}
	for _, t := range c.topics {
		if t == c.deadLetter {
			return bad("dead-letter topic %q is also an input topic: use another topic", t)
		}
	}
	return nil
}
