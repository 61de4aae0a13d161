// Package dlq inspects and redrives the dead-letter topics txn.Processor
// writes (txn.WithDeadLetterTopic), exactly once.
//
// A dead-lettered record carries the headers txn.DeadLetterError,
// txn.DeadLetterTopicHeader, txn.DeadLetterPartition and
// txn.DeadLetterOffset; Decode reads them into a Record, and Inspect counts
// a topic's records by error, by source partition and by replay count.
//
// # Replay
//
// A Replayer is a txn.Processor over the dead-letter topic, in a consumer
// group and with a transactional ID derived from the topic's name
// (GroupFor, TransactionalIDFor) unless given. Its handler writes each
// record back to its origin (or WithTarget) with Redrive — without the
// eoskit-dlq-* headers and with ReplayCountHeader raised — and the
// dead-letter offsets commit in the same transaction. So a replay that is
// killed and started again resumes where it committed and never writes a
// record twice; the transactional ID fences the killed instance at once.
//
// Records the filters leave out (WithErrorFilter, WithSince) and records
// replayed WithMaxReplays times already are kept: written again,
// unchanged, at the end of the dead-letter topic in the same transaction,
// so a later replay still finds them after the group's position.
// Inspect with InspectOptions.Group set to the replay group counts only
// what is still to replay. A record that fails again in the pipeline goes
// back to the dead-letter topic with its replay count (the pipeline copies
// the header), so WithMaxReplays stops a record that can never succeed.
//
// Run goes through the records below the topic's last stable offsets when
// it starts, then returns a Summary computed from the committed offsets
// (exact, whatever was retried or aborted on the way).
//
// # Concurrency and errors
//
// Run runs once per Replayer; run one replay per dead-letter topic at a
// time (a second one with the same transactional ID fences the first:
// eoskit.ErrFenced). Cancelling ctx stops it cleanly: what was committed
// stays replayed. Invalid options match eoskit.ErrInvalidOption; a topic
// that does not exist ErrUnknownTopic; access failures
// eoskit.ErrAccessDenied.
package dlq
