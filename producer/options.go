package producer

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/eoskit/eoskit"
)

// Opt configures New and NewTransactional.
type Opt interface{ apply(*config) }

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

// Hooks may implement any of ProduceHook and TxnHook; pass it with WithHooks.
// For franz-go's own metrics plugins (kprom, kotel) use
// WithKgoOpts(kgo.WithHooks(...)).

// ProduceHook is called once per record with its outcome (err nil: acked
// by all in-sync replicas). It must not block.
type ProduceHook interface {
	OnProduce(r *kgo.Record, err error)
}

// TxnHook is called when a transaction ends. committed is false for an abort
// or a failed commit; err is what Commit or Abort returned.
type TxnHook interface {
	OnTxnEnd(txnID string, committed bool, err error)
}

type config struct {
	brokers  []string
	clientID string
	tls      *tls.Config
	sasl     sasl.Mechanism
	logger   *slog.Logger
	hooks    []any

	linger      *time.Duration
	batchBytes  int32
	compression []kgo.CompressionCodec
	partitioner kgo.Partitioner
	retries     int
	txnTimeout  time.Duration

	unsafeAcks        *kgo.Acks
	unsafeNoIdem      bool
	unsafeCancellable bool

	kgoOpts []kgo.Opt
}

// DefaultRecordRetries is how many times a record is tried before its error
// is returned (unless the record's fate is unknown: an idempotent producer
// then keeps waiting for the broker's answer so it can never duplicate).
// With franz-go's backoff (250 ms doubling to 5 s) that is about a minute.
const DefaultRecordRetries = 15

// DefaultTransactionTimeout is the broker-side transaction timeout.
const DefaultTransactionTimeout = 40 * time.Second

func defaultConfig() config {
	return config{
		logger:     slog.New(slog.DiscardHandler),
		retries:    DefaultRecordRetries,
		txnTimeout: DefaultTransactionTimeout,
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

// WithClientID sets the client ID brokers log and quota by. Default "eoskit".
func WithClientID(id string) Opt { return opt(func(c *config) { c.clientID = id }) }

// WithLogger receives this package's log lines (fenced, commit outcome
// unknown, re-initialisation). Default: silent.
func WithLogger(l *slog.Logger) Opt { return opt(func(c *config) { c.logger = l }) }

// WithHooks registers values implementing ProduceHook and/or TxnHook.
func WithHooks(hooks ...any) Opt { return opt(func(c *config) { c.hooks = append(c.hooks, hooks...) }) }

// WithLinger sets how long a partition waits for more records before
// sending a batch. Default franz-go's (10 ms).
func WithLinger(d time.Duration) Opt { return opt(func(c *config) { c.linger = &d }) }

// WithBatchMaxBytes caps a batch's size. Default franz-go's (1 MB).
func WithBatchMaxBytes(n int32) Opt { return opt(func(c *config) { c.batchBytes = n }) }

// WithCompression sets the compression preference, e.g. kgo.ZstdCompression().
func WithCompression(codecs ...kgo.CompressionCodec) Opt {
	return opt(func(c *config) { c.compression = codecs })
}

// WithPartitioner sets the partitioner. Default franz-go's sticky key partitioner.
func WithPartitioner(p kgo.Partitioner) Opt { return opt(func(c *config) { c.partitioner = p }) }

// WithRecordRetries sets how many times a record is tried before its error
// (NOT_ENOUGH_REPLICAS, for instance) is returned; -1 retries forever
// (bounded only by the Produce context). Default DefaultRecordRetries.
func WithRecordRetries(n int) Opt { return opt(func(c *config) { c.retries = n }) }

// WithTransactionTimeout sets the transaction timeout the coordinator
// enforces (NewTransactional only). Default DefaultTransactionTimeout.
func WithTransactionTimeout(d time.Duration) Opt { return opt(func(c *config) { c.txnTimeout = d }) }

// WithKgoOpts passes extra franz-go options through (hooks, SASL, TLS,
// request timeouts...). Options that weaken durability are refused unless the
// matching Unsafe option names the weakening.
func WithKgoOpts(opts ...kgo.Opt) Opt {
	return opt(func(c *config) { c.kgoOpts = append(c.kgoOpts, opts...) })
}

// UnsafeAcks lowers the required acks below all in-sync replicas: an
// acknowledged record can be lost when the leader fails. Only New accepts it.
func UnsafeAcks(acks kgo.Acks) Opt { return opt(func(c *config) { c.unsafeAcks = &acks }) }

// UnsafeDisableIdempotence turns idempotent writes off: retries can then
// duplicate and reorder records. Only New accepts it.
func UnsafeDisableIdempotence() Opt { return opt(func(c *config) { c.unsafeNoIdem = true }) }

// UnsafeAllowProduceCancellation lets a context or retry limit fail records
// whose request is in flight (kgo.AllowIdempotentProduceCancellation): a
// record failed this way may still be written, and producing it again can
// duplicate it. Only New accepts it.
func UnsafeAllowProduceCancellation() Opt {
	return opt(func(c *config) { c.unsafeCancellable = true })
}

func (c *config) validate(transactional bool) error {
	if err := c.conn().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if c.logger == nil {
		return fmt.Errorf("%w: WithLogger(nil): pass a logger or leave the option out for silence", ErrInvalidOption)
	}
	if c.retries < -1 {
		return fmt.Errorf("%w: WithRecordRetries(%d): use -1 (forever) or a count >= 0", ErrInvalidOption, c.retries)
	}
	if c.linger != nil && *c.linger < 0 {
		return fmt.Errorf("%w: WithLinger(%v): use a duration >= 0", ErrInvalidOption, *c.linger)
	}
	if c.batchBytes < 0 {
		return fmt.Errorf("%w: WithBatchMaxBytes(%d): use a positive size", ErrInvalidOption, c.batchBytes)
	}
	if transactional {
		switch {
		case c.unsafeAcks != nil, c.unsafeNoIdem, c.unsafeCancellable:
			return fmt.Errorf("%w: a transactional producer needs acks=all and idempotence: remove the Unsafe options", ErrInvalidOption)
		case c.txnTimeout < time.Second:
			return fmt.Errorf("%w: WithTransactionTimeout(%v): use at least 1s", ErrInvalidOption, c.txnTimeout)
		}
	}
	if c.unsafeNoIdem && c.unsafeCancellable {
		return fmt.Errorf("%w: UnsafeAllowProduceCancellation needs idempotence: drop one of the two options", ErrInvalidOption)
	}
	return nil
}

// kgoOpts builds the franz-go options: connection, safe defaults, tuning,
// then the caller's pass-through, then what must not be overridden.
func (c *config) kgoOptions(txnID string) []kgo.Opt {
	opts := c.conn().Opts()
	opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	if c.unsafeAcks != nil {
		opts = append(opts, kgo.RequiredAcks(*c.unsafeAcks))
	}
	if c.unsafeAcks != nil && *c.unsafeAcks != kgo.AllISRAcks() || c.unsafeNoIdem {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if c.unsafeCancellable {
		opts = append(opts, kgo.AllowIdempotentProduceCancellation())
	}
	if c.retries >= 0 {
		opts = append(opts, kgo.RecordRetries(c.retries))
	}
	if c.linger != nil {
		opts = append(opts, kgo.ProducerLinger(*c.linger))
	}
	if c.batchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(c.batchBytes))
	}
	if len(c.compression) > 0 {
		opts = append(opts, kgo.ProducerBatchCompression(c.compression...))
	}
	if c.partitioner != nil {
		opts = append(opts, kgo.RecordPartitioner(c.partitioner))
	}
	opts = append(opts, kgo.UnknownTopicRetries(2))
	opts = append(opts, c.kgoOpts...)
	if txnID != "" {
		opts = append(opts, kgo.TransactionalID(txnID), kgo.TransactionTimeout(c.txnTimeout))
	}
	return opts
}

// checkDurability refuses franz-go options (WithKgoOpts) that undo a
// guarantee the Unsafe options did not request by name. It builds a client
// from the connection and the caller's kgo options alone (franz-go's
// defaults are the safe ones) and reads the values back, so each problem
// names the kgo option that caused it; the real client then applies
// eoskit's settings after the caller's.
func (c *config) checkDurability(txnID string) error {
	if len(c.kgoOpts) == 0 {
		return nil
	}
	probe, err := kgo.NewClient(append(c.conn().Opts(), c.kgoOpts...)...)
	if err != nil {
		return fmt.Errorf("%w: WithKgoOpts: %w", ErrInvalidOption, err)
	}
	defer probe.Close()
	acks, _ := probe.OptValue(kgo.RequiredAcks).(kgo.Acks)
	noIdem, _ := probe.OptValue(kgo.DisableIdempotentWrite).(bool)
	cancellable, _ := probe.OptValue(kgo.AllowIdempotentProduceCancellation).(bool)
	id, _ := probe.OptValue(kgo.TransactionalID).(string)
	var problems []string
	if acks != kgo.AllISRAcks() && (txnID != "" || c.unsafeAcks == nil || *c.unsafeAcks != acks) {
		problems = append(problems, "kgo.RequiredAcks below all in-sync replicas can lose acknowledged records: use producer.UnsafeAcks (New only) to request it by name")
	}
	if noIdem && (txnID != "" || !c.unsafeNoIdem && (c.unsafeAcks == nil || *c.unsafeAcks == kgo.AllISRAcks())) {
		problems = append(problems, "kgo.DisableIdempotentWrite allows duplicates and reordering: use producer.UnsafeDisableIdempotence (New only) to request it by name")
	}
	if cancellable && (txnID != "" || !c.unsafeCancellable) {
		problems = append(problems, "kgo.AllowIdempotentProduceCancellation can duplicate records: use producer.UnsafeAllowProduceCancellation (New only) to request it by name")
	}
	switch {
	case id != "" && txnID == "":
		problems = append(problems, "kgo.TransactionalID passed to New: use producer.NewTransactional")
	case id != "" && id != txnID:
		problems = append(problems, fmt.Sprintf("kgo.TransactionalID(%q) overrides the transactional ID %q: pass the ID to NewTransactional only", id, txnID))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidOption, strings.Join(problems, "; "))
	}
	return nil
}

func (c *config) onProduce(r *kgo.Record, err error) {
	for _, h := range c.hooks {
		if ph, ok := h.(ProduceHook); ok {
			ph.OnProduce(r, err)
		}
	}
}

func (c *config) onTxnEnd(id string, committed bool, err error) {
	for _, h := range c.hooks {
		if th, ok := h.(TxnHook); ok {
			th.OnTxnEnd(id, committed, err)
		}
	}
}
