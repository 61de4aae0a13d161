// Package txn runs exactly-once consume-transform-produce pipelines on
// Apache Kafka: a Processor consumes input topics in a consumer group, calls
// a handler for each input record, and commits the handler's outputs (to any
// topics) together with the input offsets in one Kafka transaction. Each
// input record's effect is visible to read_committed readers exactly once,
// across processor crashes, zombies, rebalances and broker failures.
//
// It is built on franz-go's kgo.GroupTransactSession and adds the rules that
// make it safe by default:
//
//   - Transactions close after MaxTxnRecords input records or CommitInterval
//     after their first record, whichever comes first (defaults 500 and
//     100 ms, as Kafka Streams under exactly_once_v2).
//   - One stable TransactionalID per instance (see TransactionalID for the
//     rule). The producer ID is initialised when a session starts, so a
//     restarted instance fences its zombie and unblocks read_committed
//     readers at once instead of after the transaction timeout.
//   - Input is read read_committed; a new group starts at StartOffset and a
//     committed offset that falls out of range is never reset silently: Run
//     returns ErrOffsetReset.
//   - An aborted transaction rewinds the consumer to the committed offsets,
//     so aborted work is redone, never skipped.
//   - Any error from ending a transaction closes the session and builds a
//     new one with backoff. A commit of unknown outcome is never followed by
//     an abort on the same producer epoch (KAFKA-17754): the new session
//     bumps the epoch first.
//   - Fencing (another instance took the transactional ID) stops Run with
//     ErrFenced.
//   - A handler error is retried HandlerRetries times with backoff; then the
//     input goes to DeadLetterTopic inside the same transaction, or Run stops
//     with a *HandlerError.
//   - Every output carries the ProvenanceHeader naming its input record
//     ("<topic>/<partition>/<offset>"), so any pipeline's output can be
//     checked for duplicates and losses.
//
// # Lifecycle and goroutines
//
// New validates options and connects to nothing. Run does the work on the
// calling goroutine and may be called once; the handler is called from that
// goroutine only. Cancelling Run's context is the graceful shutdown: the
// open transaction is committed if every polled record was handled (else
// aborted), the member leaves the group, and Run returns nil. Stats may be
// called concurrently at any time. Hooks and the Logger observe progress.
//
// # Errors
//
// Run returns nil after a shutdown, or an error matching ErrFenced,
// ErrOffsetReset, ErrHandler (errors.Is; a *HandlerError with errors.As) or
// ErrInvalidOption (franz-go rejected the options passed with KgoOpts).
// Everything else is retried inside Run by rebuilding the session.
//
// Exactly-once covers Kafka outputs and input offsets only: side effects
// the handler makes elsewhere may happen more than once.
package txn
