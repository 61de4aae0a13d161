package sink

import (
	"errors"
	"fmt"
)

var (
	// ErrPoisonRecord reports a record whose handler call kept failing
	// after its retries, with no dead-letter table configured: Run stops
	// and returns an *eoskit.PartitionError naming the record, wrapping
	// this and the handler's error. Nothing of the record's batch is
	// committed; the next start retries it. Fix the handler or the data,
	// or set WithDeadLetterTable.
	ErrPoisonRecord = errors.New("poison record: the handler kept failing")

	// ErrOwnershipLost reports a batch the offsets table refused: another
	// sink bumped the partition's owner epoch (it was assigned the
	// partition after this one lost it). The batch's database transaction
	// is rolled back; the partition is dropped until the group assigns it
	// again. Run keeps going: it is reported through HookFenceRefused and
	// the log, not returned.
	ErrOwnershipLost = errors.New("partition ownership lost: another sink owns it now")
)

// FenceRefusedError is one partition whose commit the fence refused. It
// matches ErrOwnershipLost.
type FenceRefusedError struct {
	Group     string
	Topic     string
	Partition int32
	Epoch     int64 // this sink's epoch
	Current   int64 // the table's epoch (-1 if the row is gone)
}

func (e *FenceRefusedError) Error() string {
	return fmt.Sprintf("group %q topic %q partition %d: commit with owner epoch %d refused (the table has epoch %d): %v",
		e.Group, e.Topic, e.Partition, e.Epoch, e.Current, ErrOwnershipLost)
}

// Is reports ErrOwnershipLost.
func (e *FenceRefusedError) Is(target error) bool { return target == ErrOwnershipLost }
