package producer

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/hooks"
	"github.com/eoskit/eoskit/internal/kgoguard"
)

// Opt configures New and NewTransactional.
type Opt interface{ apply(*config) }

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

type config struct {
	conn     eoskit.Conn
	logger   *slog.Logger
	hookVals []eoskit.Hook
	hooks    hooks.Set // built once by the constructor

	linger      *time.Duration
	batchBytes  int32
	compression []kgo.CompressionCodec
	partitioner kgo.Partitioner
	retries     int
	txnTimeout  time.Duration

	unsafeAcks        *kgo.Acks
	unsafeNoIdem      bool
	unsafeCancellable bool
}

// DefaultRecordRetries is how many times a record is tried before its error
// is returned (unless the record's fate is unknown: an idempotent producer
// then keeps waiting for the broker's answer so it can never duplicate).
// With franz-go's backoff (250 ms doubling to 5 s) that is about a minute.
const DefaultRecordRetries = 15

// DefaultTransactionTimeout is the broker-side transaction timeout.
const DefaultTransactionTimeout = 40 * time.Second

func newConfig(conn eoskit.Conn, opts []Opt) config {
	c := config{
		conn:       conn,
		logger:     slog.New(slog.DiscardHandler),
		retries:    DefaultRecordRetries,
		txnTimeout: DefaultTransactionTimeout,
	}
	for _, o := range opts {
		o.apply(&c)
	}
	c.hooks = hooks.New(c.hookVals)
	return c
}

// WithLogger receives this package's log lines (fenced, commit outcome
// unknown, re-initialisation). Default: silent.
func WithLogger(l *slog.Logger) Opt { return opt(func(c *config) { c.logger = l }) }

// WithHooks registers hook values: the producer calls eoskit.HookProduce
// for every record's outcome and, on a TxProducer, eoskit.HookTxnEnd for
// every ended transaction (and eoskit.HookTxnBegin). franz-go's own hooks
// (plugin/kprom, kotel) go in eoskit.Conn.KgoOpts with kgo.WithHooks.
func WithHooks(hs ...eoskit.Hook) Opt {
	return opt(func(c *config) { c.hookVals = append(c.hookVals, hs...) })
}

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

// validate reports every problem at once as an *eoskit.OptionError.
func (c *config) validate(txnID string) error {
	ps := eoskit.NewProblems("producer")
	ps.Add(c.conn.Validate())
	transactional := txnID != ""
	if c.logger == nil {
		ps.Addf("WithLogger(nil): pass a logger or leave the option out for silence")
	}
	if c.retries < -1 {
		ps.Addf("WithRecordRetries(%d): use -1 (forever) or a count >= 0", c.retries)
	}
	if c.linger != nil && *c.linger < 0 {
		ps.Addf("WithLinger(%v): use a duration >= 0", *c.linger)
	}
	if c.batchBytes < 0 {
		ps.Addf("WithBatchMaxBytes(%d): use a positive size", c.batchBytes)
	}
	if transactional {
		if c.unsafeAcks != nil || c.unsafeNoIdem || c.unsafeCancellable {
			ps.Addf("a transactional producer needs acks=all and idempotence: remove the Unsafe options")
		}
		if c.txnTimeout < time.Second {
			ps.Addf("WithTransactionTimeout(%v): use at least 1s", c.txnTimeout)
		}
	}
	if c.unsafeNoIdem && c.unsafeCancellable {
		ps.Addf("UnsafeAllowProduceCancellation needs idempotence: drop one of the two options")
	}
	c.checkKgoOpts(ps, txnID)
	return ps.Err()
}

// kgoOptions builds the franz-go options: the connection, eoskit's
// defaults and this package's options, then the caller's conn.KgoOpts
// (already checked: they cannot undo a guarantee), then guardedOpts.
func (c *config) kgoOptions(txnID string) []kgo.Opt {
	opts := append(c.conn.BaseOpts(), kgo.UnknownTopicRetries(2))
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
	opts = append(opts, c.conn.KgoOpts...)
	return append(opts, c.guardedOpts(txnID)...)
}

// guardedOpts are the franz-go options the producer's guarantees rest on:
// acks, idempotence and cancellation (weakened only by the Unsafe
// options), the transactional ID and timeout.
func (c *config) guardedOpts(txnID string) []kgo.Opt {
	acks := kgo.AllISRAcks()
	if c.unsafeAcks != nil {
		acks = *c.unsafeAcks
	}
	opts := []kgo.Opt{kgo.RequiredAcks(acks)}
	if acks != kgo.AllISRAcks() || c.unsafeNoIdem {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if c.unsafeCancellable {
		opts = append(opts, kgo.AllowIdempotentProduceCancellation())
	}
	if txnID != "" {
		opts = append(opts, kgo.TransactionalID(txnID), kgo.TransactionTimeout(c.txnTimeout))
	}
	return opts
}

// checkKgoOpts refuses franz-go options (Conn.KgoOpts) that undo a
// guarantee the Unsafe options did not request by name (internal/kgoguard,
// compared with the settings the producer makes itself).
func (c *config) checkKgoOpts(ps *eoskit.Problems, txnID string) {
	sets := []kgoguard.Set{kgoguard.Producing, kgoguard.Transactional}
	ps.Add(kgoguard.Check("producer", nil, c.guardedOpts(txnID), c.conn.KgoOpts, kgoguard.For("producer", sets...)))
}

// newClient validates and builds the franz-go client.
func (c *config) newClient(txnID string) (*kgo.Client, error) {
	if err := c.validate(txnID); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(c.kgoOptions(txnID)...)
	if err != nil {
		ps := eoskit.NewProblems("producer")
		ps.Addf("franz-go refuses the options: %v", err)
		return nil, ps.Err()
	}
	return cl, nil
}
