// Package producer provides Kafka producers with safe defaults on franz-go.
//
// # Idempotent producer
//
// New returns a Producer that writes with acks=all and idempotence on (at
// most five requests in flight per broker), so franz-go's retries never
// duplicate or reorder records within a partition. A configuration that would
// weaken that (lower acks, idempotence off, cancellable in-flight records),
// whether through this package's options or kgo options passed with
// WithKgoOpts, is refused with ErrInvalidOption unless it is requested by name
// with UnsafeAcks, UnsafeDisableIdempotence or UnsafeAllowProduceCancellation.
//
// Produce waits until every record has an outcome and returns a
// *ProduceError listing the failed records and their reasons. Reasons wrap a
// sentinel (ErrRecordTooLarge, ErrUnknownTopic, ErrAuthorization,
// ErrNotEnoughReplicas, ErrClosed) and the broker's kerr code, so both
// errors.Is(err, producer.ErrNotEnoughReplicas) and errors.Is(err,
// kerr.NotEnoughReplicas) work. Nothing is dropped silently: a record either
// is acknowledged or its error is returned (or passed to its callback).
//
// How long Produce takes: a retriable error is retried WithRecordRetries
// times (default DefaultRecordRetries, about a minute of backoff) before it is
// returned. Cancelling the context fails records that are still buffered or
// whose last attempt was answered. A record whose request is on the wire is
// never failed early: the producer cannot tell whether the broker wrote it,
// and failing it would let a retry duplicate it, so Produce waits for the
// broker's answer.
//
// # Transactional producer
//
// NewTransactional returns a TxProducer for a stable transactional ID. It
// initialises the ID at once, fencing any older instance. Run is the easy
// path:
//
//	err := p.Run(ctx, func(tx *producer.Tx) error {
//		return tx.Produce(ctx, records...)
//	})
//
// commits when the function returns nil and aborts when it returns an error
// or panics (re-panicking after the abort). Begin, Tx.Commit and Tx.Abort
// are there for callers who need them. Outcomes are distinct errors:
// ErrAborted (nothing visible, retry), ErrCommitOutcomeUnknown (the commit was
// sent but its answer lost: the producer is re-initialised on a new epoch
// instead of aborting on the old one, which could abort or commit a later
// transaction, KAFKA-17754) and ErrFenced (fatal: another instance owns the
// ID; close and stop). Both transaction.version 1 and 2 brokers are
// supported.
//
// # Concurrency, logging, metrics
//
// Producer is safe for concurrent use. A TxProducer has one transaction at a
// time; a Tx's Produce methods may be called concurrently. Logging goes to the
// *slog.Logger given with WithLogger (silent by default). WithHooks takes
// values implementing ProduceHook and/or TxnHook; franz-go hooks (kprom,
// kotel) go through WithKgoOpts(kgo.WithHooks(...)).
package producer
