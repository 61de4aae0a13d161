// Package txn runs exactly-once consume-transform-produce pipelines on
// Apache Kafka: a Processor consumes input topics in a consumer group, calls
// a handler for each input record, and commits the handler's outputs (to any
// topics) together with the input offsets in one Kafka transaction. Each
// input record's effect is visible to read_committed readers exactly once,
// across processor crashes, zombies, rebalances and broker failures.
//
//	conn := eoskit.Conn{Brokers: []string{"localhost:9092"}}
//	p, err := txn.New(conn, handler,
//		txn.WithGroup("uppercaser"),
//		txn.WithTopics("words"),
//		txn.WithTransactionalID("uppercaser-0"), // stable per instance
//	)
//	err = p.Run(ctx)
//
// It is built on franz-go's kgo.GroupTransactSession and adds the rules that
// make it safe by default:
//
//   - Transactions close after WithMaxTxnRecords input records or
//     WithCommitInterval after their first record, whichever comes first
//     (defaults 500 and 100 ms, as Kafka Streams under exactly_once_v2).
//   - One stable transactional ID per instance (see WithTransactionalID).
//     The producer ID is initialised when a session starts, so a restarted
//     instance fences its zombie and unblocks read_committed readers at once
//     instead of after the transaction timeout.
//   - Input is read read_committed; a new group starts at WithStartOffset
//     (pinned when it names the end, so a hand-over before the first commit
//     skips nothing), and a committed offset that falls out of range is
//     never reset silently (eoskit.ErrPositionLost).
//   - Conn.KgoOpts may tune franz-go but not change what exactly-once rests
//     on (isolation level, offset reset, group, topics, transactional ID,
//     acks, idempotence, BlockRebalanceOnPoll, partition callbacks, offset
//     adjusters): New names such an option
//     with eoskit.ErrInvalidOption. franz-go's kgo.RecordDeliveryTimeout is
//     accepted, but it times a record from its Timestamp, not from its
//     produce: Copy and dead letters keep the input's Timestamp, so with it
//     an output of an input older than the timeout fails before it is sent
//     and its transaction aborts again at every retry. Give such outputs a
//     fresh Timestamp (or the zero one: franz-go stamps it) if you set it.
//   - A handler error retries that record alone (a BatchHandler: the whole
//     batch) with backoff; then the input goes to the dead-letter topic
//     inside the same transaction, or Run stops with a *HandlerError.
//   - Every output carries the ProvenanceHeader naming its input record
//     ("<topic>/<partition>/<offset>"), so any pipeline's output can be
//     checked for duplicates and losses (package txn/verify).
//
// # How a transaction ends, and what Run does next
//
// One function ends every transaction; its outcome is counted in Stats,
// reported to every eoskit.HookTxnEnd (eoskit.TxnEnd.Outcome, Reason) and
// logged, then Run does what this table says.
//
//	outcome (Stats)              cause                                         Run
//	committed (TxnsCommitted)    the commit was confirmed                       goes on
//	aborted (TxnsAborted)        a revoke or loss of partitions (rebalance)     goes on from the committed offsets
//	                             a transient produce error (ProduceRetries)     goes on after a growing backoff
//	                             an output that can never be produced           with a dead-letter topic: its input is dead-lettered
//	                                                                            in the retry; else stops, *eoskit.UnproducibleError
//	                             INVALID_PRODUCER_EPOCH on a produce (the       rebuilds the session (new epoch) and goes on
//	                             coordinator timed the transaction out)
//	                             the handler kept failing, no dead-letter topic  stops with *HandlerError (ErrHandler)
//	                             shutdown with polled records unhandled          returns nil
//	                             a flush or abort that failed                    rebuilds the session (the new epoch aborts it)
//	                             a fence on a transaction open past its         rebuilds the session (new epoch) and goes on
//	                             timeout, the coordinator one epoch on and
//	                             aborting it (its own timeout abort)
//	unknown (TxnsUnknown)        a commit sent and not confirmed: an error,     rebuilds the session: the broker's committed offsets
//	                             or franz-go's abort-retry of an unconfirmed     are read again and the epoch is bumped, so it is
//	                             EndTxn with no rebalance to explain it         never aborted on the same epoch (KAFKA-17754);
//	                                                                            at shutdown Run returns eoskit.ErrCommitOutcomeUnknown
//	fenced                       PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH     stops with eoskit.ErrFenced
//	                             from the coordinator
//
// Besides transaction ends, Run stops on eoskit.ErrAccessDenied
// (credentials, an ACL, TLS: an *eoskit.AccessError saying what was
// denied), eoskit.ErrPositionLost and eoskit.ErrInvalidOption; every other
// failure (a lost coordinator, broker failures) rebuilds the session with
// backoff.
//
// # Lifecycle and goroutines
//
// New validates options and connects to nothing. Run does the work on the
// calling goroutine and may be called once; the handler is called from that
// goroutine, and its Emit (BatchEmit) may be called from any goroutine
// until the handler returns (an emit after that panics: the output could
// not be committed with its input). Cancelling Run's context is the
// graceful shutdown: the open transaction is committed if every polled
// record was handled (else aborted), the member leaves the group, and Run
// returns nil. Stats may be called concurrently at any time. Hooks
// (WithHooks, the eoskit.Hook* interfaces) and the logger observe
// progress.
//
// Exactly-once covers Kafka outputs and input offsets only: side effects
// the handler makes elsewhere may happen more than once.
//
// Session rebuilds and replacements (a liveness limit, not a safety one):
// a session is rebuilt with a fresh InitProducerID after its fence probe
// found no newer instance. A replacement that initialises the same
// transactional ID between that probe and the rebuild is fenced by the
// rebuilt session, so the older instance keeps the ID. Every
// initialisation aborts the other's open transaction, so exactly-once
// holds either way; start a replacement only after the old instance has
// stopped, or expect either one to be the survivor. On transaction.version
// 1 the probe is off and a woken zombie can take the ID back the same way.
package txn
