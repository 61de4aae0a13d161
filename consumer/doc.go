// Package consumer runs a Kafka consumer group member with at-least-once
// defaults on franz-go: nothing is skipped, nothing is committed before the
// handler finished it.
//
// New(conn, opts...) takes the connection first: conn is an eoskit.Conn
// (seed brokers, TLS, SASL, client ID, extra franz-go options). Options are
// validated once, and every problem is reported at once in an
// *eoskit.OptionError (matching eoskit.ErrInvalidOption); a franz-go option
// in conn.KgoOpts that would undo a guarantee below (isolation level,
// offset reset or start, auto-commit settings, BlockRebalanceOnPoll,
// partition callbacks, the group, the topics, a transactional ID) is one
// such problem, named.
//
// # Defaults
//
//   - read_committed isolation (WithReadUncommitted to opt out);
//   - classic protocol with cooperative-sticky balancing, or the KIP-848
//     consumer protocol with WithConsumerProtocol;
//   - an explicit start position for partitions the group never committed
//     (StartAtEarliest, StartAtLatest or WithStartOffset: New refuses to
//     guess). The earliest or latest position is resolved once, when the
//     partition is first assigned, and committed at once, so a partition
//     that changes owner before its first commit resumes there;
//   - no silent offset reset: if the broker reports a committed or current
//     position out of range, or data loss below it, Run stops with an error
//     matching eoskit.ErrPositionLost (franz-go's NoResetOffset) instead of
//     jumping.
//
// # Run
//
// Run(ctx, handler) joins the group and calls the handler for every record.
// Records of one partition are handled one at a time in offset order, on a
// goroutine per partition; at most WithConcurrency handlers run at once.
// Backpressure: when, after a poll, a partition has WithMaxPending records
// (or WithMaxPendingBytes) fetched but not handled, the poll loop waits up
// to 50 ms for its handler to catch up, then pauses that partition's
// fetching until half of them are handled; the other partitions keep
// fetching. Records are handed to the partition's goroutine a fetch at a
// time, not one by one under a lock.
//
// A record is marked handled when its handler returns nil; handled offsets
// are committed every WithCommitInterval, when partitions are revoked (after
// their in-flight records finish), and at shutdown. A commit never passes a
// record that was not handled. Records handled but not yet committed when
// a member crashes are handled again by the next owner: at least once.
//
// A failing record is retried WithRetries times with doubling backoff; then
// the WithOnHandlerError callback decides (nil: count it handled, e.g. after
// writing it to a dead-letter topic), or Run stops with an error wrapping
// ErrHandler, as an *eoskit.PartitionError naming the record.
//
// Cancelling ctx is a graceful shutdown: queued records are dropped,
// in-flight ones finish (the handler's context is cancelled only after the
// grace period), handled offsets are committed, and the member leaves the
// group. Lost partitions (session expired, fenced member) cancel their
// handlers at once and commit nothing.
//
// Lag reports per partition how far the group's committed offsets are
// behind the last stable offset (what a read_committed member can reach)
// and the high watermark, and flags a partition an open transaction pins
// (LSO below HWM): a hanging transaction never looks like no lag.
//
// # Errors
//
// Run returns nil after a graceful shutdown, or: an *eoskit.PartitionError
// matching eoskit.ErrPositionLost or ErrHandler; ErrFetch with an
// *eoskit.AccessError (eoskit.ErrAccessDenied) for a missing ACL; ErrCommit
// when the final commit failed; an *eoskit.AccessError at start for wrong
// credentials or an untrusted certificate.
//
// # Concurrency, logging, metrics
//
// Run is called once per Consumer. The handler is called concurrently for
// different partitions. Logging goes to the *slog.Logger given with
// WithLogger (silent by default), with the eoskit.LogKey* attribute keys.
// WithHooks takes eoskit hook values: eoskit.HookHandled after every
// handler call (a hook that also implements eoskit.HookHandledRun, as
// metrics/prom does, gets the quiet calls counted in runs instead),
// eoskit.HookCommit after every commit, eoskit.HookAssigned
// and eoskit.HookRevoked on rebalances (the same events txn.Processor
// emits). franz-go hooks (kprom, kotel) go in conn.KgoOpts with
// kgo.WithHooks.
package consumer
