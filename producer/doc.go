// Package producer provides Kafka producers with safe defaults on franz-go.
//
// # Idempotent producer
//
// New(conn, opts...) returns a Producer for the cluster that conn (an
// eoskit.Conn: seed brokers, TLS, SASL, client ID, extra franz-go options)
// names. It writes with acks=all and idempotence on (at most five requests
// in flight per broker), so franz-go's retries never duplicate or reorder
// records within a partition. A configuration that would weaken that (lower
// acks, idempotence off, cancellable in-flight records, a transactional ID
// on New), whether through this package's options or franz-go options in
// conn.KgoOpts, is refused with an *eoskit.OptionError (matching
// eoskit.ErrInvalidOption) that lists every problem and names each option,
// unless it is requested by name with UnsafeAcks, UnsafeDisableIdempotence
// or UnsafeAllowProduceCancellation.
//
// Produce waits until every record has an outcome and returns a
// *ProduceError listing the failed records and their reasons. Reasons wrap a
// sentinel (ErrRecordTooLarge, ErrUnknownTopic, ErrNotEnoughReplicas,
// ErrClosed, or an *eoskit.AccessError matching eoskit.ErrAccessDenied for
// a missing ACL) and the broker's kerr code, so both
// errors.Is(err, producer.ErrNotEnoughReplicas) and errors.Is(err,
// kerr.NotEnoughReplicas) work. Nothing is dropped silently: a record either
// is acknowledged or its error is returned (or passed to its callback).
//
// ProduceAsync buffers one record and passes its outcome, mapped the same
// way, to a callback. At the highest rates, pass a nil callback and observe
// outcomes with an eoskit.HookProduce (WithHooks): that callback is built
// once per producer, while a per-record callback costs one small allocation
// for the error mapping.
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
// NewTransactional(ctx, conn, txnID, opts...) returns a TxProducer for a
// stable transactional ID. It initialises the ID at once, fencing any older
// instance. Run is the easy path:
//
//	err := p.Run(ctx, func(tx *producer.Tx) error {
//		return tx.Produce(ctx, records...)
//	})
//
// commits when the function returns nil and aborts when it returns an error
// or panics (re-panicking after the abort). Begin, Tx.Commit and Tx.Abort
// are there for callers who need them. Outcomes are distinct errors:
//
//	outcome                                    Commit returns                  then
//	committed                                  nil                             Begin the next one
//	a record failed, flush cut short, refused  ErrAborted                      retry: nothing is visible
//	commit refused with INVALID_TXN_STATE      ErrAborted                      retry: the producer was re-initialised
//	  ... and a newer instance owns the ID     eoskit.ErrFenced                fatal: close and stop
//	answer lost, the TV2 retry confirms it     nil                             Begin the next one
//	answer lost, not confirmable               eoskit.ErrCommitOutcomeUnknown  treat as maybe written
//	fenced: a newer instance owns the ID       eoskit.ErrFenced                fatal: close and stop
//
// A commit whose answer was lost is never followed by an abort on the same
// epoch (which could abort or commit a later transaction, KAFKA-17754): the
// producer is re-initialised on a new epoch. A producer re-initialises only
// after asking with its own producer ID and epoch (KIP-360) whether the
// transactional ID is still its own, so it never takes the ID back from a
// newer instance. Both transaction.version 1 and 2 brokers are supported.
//
// # Concurrency, logging, metrics
//
// Producer is safe for concurrent use. A TxProducer has one transaction at a
// time; a Tx's Produce methods may be called concurrently. Logging goes to the
// *slog.Logger given with WithLogger (silent by default), with the
// eoskit.LogKey* attribute keys. WithHooks takes eoskit hook values: the
// producer calls eoskit.HookProduce for every record's outcome and, on a
// TxProducer, eoskit.HookTxnBegin and eoskit.HookTxnEnd (the same TxnEnd
// event txn.Processor emits, with the outcome, abort reason, producer ID
// and epoch, outputs and phase durations). franz-go hooks (kprom, kotel) go
// in conn.KgoOpts with kgo.WithHooks.
//
// franz-go's kgo.RecordDeliveryTimeout (accepted in conn.KgoOpts) times a
// record from its Timestamp, not from the Produce call: a record given a
// timestamp older than the timeout (an event time, a copied input's) fails
// with kgo.ErrRecordTimeout before it is sent.
package producer
