package txn

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eoskit/eoskit/internal/reinit"
)

// ErrHandler is wrapped by every *HandlerError. The shared failures
// (fenced, position lost, access denied, unproducible, invalid option,
// commit outcome unknown) are the sentinels of package eoskit.
var ErrHandler = errors.New("handler failed")

// HandlerError is returned by Run when the handler kept failing on an input
// record after every retry and no dead-letter topic is configured. The open
// transaction was aborted, so the record was not consumed: a restart meets
// it again. errors.Is(err, ErrHandler) is true; Unwrap also yields the
// handler's own error.
type HandlerError struct {
	Topic     string
	Partition int32
	Offset    int64
	Attempts  int
	Err       error
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("txn: handler failed %d times on %s/%d/%d: %v (fix the handler or the record, or set a dead-letter topic to route such records aside)",
		e.Attempts, e.Topic, e.Partition, e.Offset, e.Err)
}

// Unwrap returns ErrHandler and the handler's error.
func (e *HandlerError) Unwrap() []error { return []error{ErrHandler, e.Err} }

// isFencedCoordinator reports the coordinator's answers (InitProducerID,
// EndTxn) after which this transactional ID must stop: a newer epoch owns
// it.
func isFencedCoordinator(err error) bool { return reinit.IsFenced(err) }

// isFencedProduce reports a produce answer that fences: only
// PRODUCER_FENCED. INVALID_PRODUCER_EPOCH on a produce is abortable
// (KIP-588): the coordinator timed the transaction out.
func isFencedProduce(err error) bool { return errors.Is(err, kerr.ProducerFenced) }

func isEpochError(err error) bool { return errors.Is(err, kerr.InvalidProducerEpoch) }

var permanent = []error{kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.UnknownTopicOrPartition,
	kerr.UnknownTopicID, kerr.TopicAuthorizationFailed, kerr.InvalidRecord, kerr.InvalidTopicException}

// isPermanent reports produce errors that no retry fixes: the record is
// too large, its topic does not exist (after franz-go's metadata retries)
// or may not be written, or the broker refuses the record itself.
func isPermanent(err error) bool {
	for _, e := range permanent {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func isOffsetOutOfRange(err error) bool { return errors.Is(err, kerr.OffsetOutOfRange) }
