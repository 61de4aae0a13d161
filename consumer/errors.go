package consumer

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOption reports a missing or conflicting option.
	ErrInvalidOption = errors.New("consumer: invalid option")

	// ErrPositionLost: the broker reported that the position of a partition
	// with committed progress is out of range, or that data below it was
	// lost (truncation after an unclean leader election, retention deleting
	// unconsumed records). The consumer never jumps silently: Run stops.
	// Inspect the partition, then move the group's offset deliberately
	// (eosctl / kadm) if skipping or re-reading is acceptable.
	ErrPositionLost = errors.New("consumer: partition position lost")

	// ErrHandler: the handler failed a record after every retry, and no
	// WithOnHandlerError callback accepted it. Run stopped; the record and
	// everything after it in its partition were not committed.
	ErrHandler = errors.New("consumer: handler failed")

	// ErrCommit: a commit failed (on revoke or shutdown). The records are
	// handled again by the next owner: at least once, never skipped.
	ErrCommit = errors.New("consumer: commit failed")

	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("consumer: Run already called")

	// ErrFetch: a fetch error that cannot be retried (authorization, ...).
	ErrFetch = errors.New("consumer: fetch failed")
)

// PartitionError says which partition an error belongs to and, for handler
// errors, which record.
type PartitionError struct {
	Topic     string
	Partition int32
	Offset    int64 // the failed record's offset; -1 if not about one record
	Err       error
}

func (e *PartitionError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("topic %q partition %d offset %d: %v", e.Topic, e.Partition, e.Offset, e.Err)
	}
	return fmt.Sprintf("topic %q partition %d: %v", e.Topic, e.Partition, e.Err)
}

func (e *PartitionError) Unwrap() error { return e.Err }
