// Package sink consumes Kafka topics into PostgreSQL exactly once: the
// consumed offsets are stored in the same database transaction as the
// data, and every transaction is fenced by a per-partition owner epoch in
// the database, so that a sink that lost its partitions (revoked, paused
// past its session timeout, partitioned away) cannot commit.
//
// # Lifecycle
//
//	pool, _ := pgxpool.New(ctx, dsn)
//	_ = sink.Migrate(ctx, pool)                       // once; or copy SchemaSQL into your migrations
//	s, err := sink.New(conn, pool, handler,
//	    sink.WithGroup("orders-to-pg"), sink.WithTopics("orders"))
//	err = s.Run(ctx)                                  // until ctx is cancelled
//
// Run joins the consumer group (read_committed) and loops:
//
//  1. On assignment (kgo's AdjustFetchOffsetsFn), one database transaction
//     bumps owner_epoch of every newly assigned partition in the offsets
//     table (creating its row at next_offset -1) and reads next_offset;
//     consumption starts there (WithStartOffset for a partition without a
//     committed row). The Kafka group's own committed offset is ignored.
//
//  2. Records are gathered into a batch of up to WithMaxBatchRecords
//     records or WithBatchInterval after the first. Records of partitions
//     the sink does not hold, or below the position it already handed out,
//     are dropped (records fetched before a revocation never reach a
//     handler after the seek). Rebalances wait while a batch is gathered
//     (kgo.BlockRebalanceOnPoll) and while one commits (a revocation waits
//     for the batch in flight, so a clean hand-over loses no work).
//
//  3. One database transaction per batch: the Handler gets the records and
//     the open pgx.Tx; then the sink runs, in the same transaction,
//     UPDATE offsets SET next_offset = n WHERE ... AND owner_epoch = $mine
//     AND next_offset = $prev for every partition of the batch, and
//     commits only if every row moved. A partition whose row did not move
//     belongs to another sink now: the transaction rolls back, the
//     partition is dropped (HookFenceRefused, Stats.FenceRefusals) and the
//     rest of the batch is retried in a new transaction.
//
//     Steps 2 and 3 overlap (a pipeline of two): the next batch is gathered
//     from Kafka while the previous batch's transaction runs, and is handed
//     to the handler only after that transaction ended. Still one database
//     transaction at a time, in offset order; the next batch's fence
//     expects the row where the previous one leaves it, and partitions that
//     were lost or refused meanwhile are dropped from it before its
//     transaction begins (Stats.Dropped).
//
//  4. After the COMMIT, the offsets are also committed to the Kafka group,
//     asynchronously, as a hint for lag tools (WithMirrorOffsets). The
//     database is authoritative: a sink never resumes from the group's
//     offsets, and a failed mirror commit is only logged at debug level.
//
// Revoked and lost partitions are forgotten at once: nothing of theirs is
// committed after that, by this sink, in any epoch it held before.
//
// # Failures
//
// What Run does, by cause:
//
//	database down, connection lost,    the batch is rolled back and retried with
//	serialization failure, restart     backoff (WithRetryBackoff..WithMaxBackoff)
//	                                   until ctx ends; the in-memory batch is
//	                                   reused, nothing is re-fetched
//	COMMIT sent, answer lost           the retry's fence sees the rows already
//	                                   moved under this epoch and counts the
//	                                   batch as committed (no duplicate)
//	fence refused a partition          that partition is dropped (not an error:
//	                                   ErrOwnershipLost, *FenceRefusedError in the
//	                                   log and HookFenceRefused); the rest retried
//	handler error (not a DB outage)    the batch is rolled back and redone one
//	                                   record at a time, each in a savepoint with
//	                                   WithHandlerRetries retries and backoff; a
//	                                   record that keeps failing goes to the
//	                                   dead-letter table in the same transaction
//	                                   (WithDeadLetterTable) or Run returns an
//	                                   *eoskit.PartitionError matching
//	                                   ErrPoisonRecord (nothing of its batch is
//	                                   committed)
//	position out of range / data loss  Run returns an error matching
//	                                   eoskit.ErrPositionLost (no silent reset)
//	topic or group not authorized      Run returns an *eoskit.AccessError
//	                                   (eoskit.ErrAccessDenied)
//	ctx cancelled                      the batch in flight rolls back; Run leaves
//	                                   the group and returns nil
//
// New returns an *eoskit.OptionError (eoskit.ErrInvalidOption) listing every
// invalid option at once, franz-go options in conn.KgoOpts that would undo
// a guarantee included (isolation level, offset reset, session timeout,
// group, topics, autocommit settings, BlockRebalanceOnPoll, partition
// callbacks, offset adjusters, a transactional ID).
//
// Bound stuck transactions in the database itself if you need to (the
// role's idle_in_transaction_session_timeout and statement_timeout): a
// handler that blocks blocks the batch, and a batch that outlives the
// group's rebalance timeout costs the sink its partitions (the fence then
// refuses its commit; nothing is duplicated).
//
// # Schema
//
// SchemaSQL is the migration for the default names (Schema for others,
// WithOffsetsTable and WithDeadLetterTable); Migrate runs it:
//
//	CREATE TABLE IF NOT EXISTS "eoskit_offsets" (
//	    consumer_group text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
//	    next_offset bigint NOT NULL,  -- next offset to consume; -1: none committed yet
//	    owner_epoch bigint NOT NULL,  -- bumped by every assignment: the fence
//	    owner text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
//	    PRIMARY KEY (consumer_group, topic, partition));
//	CREATE TABLE IF NOT EXISTS "eoskit_dead_letters" (
//	    id bigserial PRIMARY KEY, consumer_group text NOT NULL,
//	    topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL,
//	    key bytea, value bytea, headers jsonb NOT NULL, error text NOT NULL,
//	    record_time timestamptz, dead_lettered_at timestamptz NOT NULL DEFAULT now());
//
// To move a group's position by hand, stop its sinks and UPDATE next_offset;
// bumping owner_epoch as well fences any sink you could not stop.
//
// # Goroutine safety
//
// A Sink runs one Run at a time (a second returns ErrAlreadyRunning); Stats
// is safe from any goroutine. The Handler is called from the sink's batch
// goroutine (not Run's: Run fetches the next batch meanwhile), one batch
// at a time, so it needs no locking of its own. Hooks are called
// synchronously from those goroutines or franz-go's group goroutine
// (HookAssigned, HookRevoked): keep them fast. Several sinks (processes)
// share a group; the pool may be shared with the rest of the program.
//
// # Logging and hooks
//
// WithLogger takes a *slog.Logger (silent by default; keys topic,
// partition, group, err). WithHooks takes eoskit's HookHandled,
// HookDeadLetter, HookAssigned, HookRevoked, HookSessionStart (Run joined:
// no producer, ProducerID -1) and HookTxnEnd, and this package's
// HookBatchCommit (duration, rows, offsets of every batch transaction) and
// HookFenceRefused.
//
// Each batch transaction is also an eoskit.TxnEnd, so metrics/prom (and
// internal/health's readiness) serve a sink as they serve txn:
//
//	batch committed                  TxnCommitted: Records (rows' inputs; eoskit_txn_records),
//	                                 Flush = the handler's writes, Commit = fenced
//	                                 offsets UPDATE + COMMIT, Duration from BEGIN
//	                                 (eoskit_txn_end_duration_seconds: batch commit duration)
//	refused by the fence             TxnAborted, AbortRebalance, Err matching
//	                                 ErrOwnershipLost (eoskit_txn_aborted_total{reason="rebalance"}:
//	                                 the sink's only cause of that reason)
//	handler failed                   TxnAborted, AbortHandlerError
//	COMMIT sent, answer lost         TxnOutcomeUnknown
//	ctx cancelled / other failure    TxnAborted, AbortShutdown / AbortOther
//
// Lag: prom.NewLagCollector on the group reads the mirrored offsets
// (WithMirrorOffsets), so it trails the database by one asynchronous
// commit. `eosctl sink postgres --metrics-addr` wires all of it.
//
// # Performance
//
// The append handler writes a batch with one COPY (pgx CopyFrom); the
// library's own writes are one set-based statement per batch (the fenced
// UPDATE of every partition's row, unnest arrays) and one per claim; dead
// letters, on the rare failure path, one INSERT each inside the batch's
// transaction. bench/README.md (case sink-postgres) has the figures
// against a hand-written at-least-once pgx sink and a bare COPY.
package sink
