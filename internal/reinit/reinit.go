// Package reinit re-initialises a transactional producer ID at the producer
// ID and epoch its holder last had (KIP-360), the ownership check shared by
// txn's session rebuild and producer's recovery from a refused commit.
//
// A plain InitProducerID (no producer ID) takes a transactional ID from
// whoever holds it: a zombie that re-initialises that way fences its own
// replacement. Re-initialising with the last (producer ID, epoch) asks the
// coordinator instead: it answers PRODUCER_FENCED when the epoch moved past
// that one (another instance initialised), and otherwise bumps the epoch,
// which aborts what the old epoch left open without an EndTxn on it
// (KAFKA-17754).
//
// The check has one blind spot, the coordinator's own: a holder of the
// epoch just before the current one is answered as a retry of its bump
// (the coordinator's lastProducerEpoch), not fenced.
package reinit

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Outcome is what the coordinator answered.
type Outcome int

const (
	// Unknown: no definitive answer (a transport error, a deadline, an
	// unexpected error code, or CONCURRENT_TRANSACTIONS past the tries).
	// The caller decides how to go on; Err says why.
	Unknown Outcome = iota
	// Bumped: the epoch moved to Result.Epoch; the caller still owns the ID.
	Bumped
	// Fenced: PRODUCER_FENCED or INVALID_PRODUCER_EPOCH: another instance
	// initialised the transactional ID. Err is the broker's error.
	Fenced
)

func (o Outcome) String() string {
	switch o {
	case Bumped:
		return "bumped"
	case Fenced:
		return "fenced"
	}
	return "unknown"
}

// Result is Reinit's answer.
type Result struct {
	Outcome    Outcome
	ProducerID int64
	Epoch      int16
	Err        error // the cause for Unknown and Fenced
}

// Request says whom to re-initialise.
type Request struct {
	TransactionalID string
	Timeout         time.Duration // the producer's transaction timeout
	ProducerID      int64
	Epoch           int16
	// Tries bounds the retries of CONCURRENT_TRANSACTIONS and
	// COORDINATOR_LOAD_IN_PROGRESS (the coordinator is still completing an
	// abort); Backoff is the wait between them. Defaults 10 and 100 ms.
	Tries   int
	Backoff time.Duration
}

// Reinit sends InitProducerID with r's producer ID and epoch through cl
// (franz-go routes it to the transactional ID's coordinator).
func Reinit(ctx context.Context, cl *kgo.Client, r Request) Result {
	tries, backoff := r.Tries, r.Backoff
	if tries <= 0 {
		tries = 10
	}
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &r.TransactionalID
	req.TransactionTimeoutMillis = int32(r.Timeout.Milliseconds())
	req.ProducerID, req.ProducerEpoch = r.ProducerID, r.Epoch
	var last error
	for range tries {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return Result{Outcome: Unknown, Err: err}
		}
		err = kerr.ErrorForCode(resp.ErrorCode)
		switch {
		case err == nil:
			return Result{Outcome: Bumped, ProducerID: resp.ProducerID, Epoch: resp.ProducerEpoch}
		case IsFenced(err):
			return Result{Outcome: Fenced, Err: err}
		case errors.Is(err, kerr.ConcurrentTransactions), errors.Is(err, kerr.CoordinatorLoadInProgress):
			last = err
			select {
			case <-ctx.Done():
				return Result{Outcome: Unknown, Err: errors.Join(last, ctx.Err())}
			case <-time.After(backoff):
			}
		default:
			return Result{Outcome: Unknown, Err: err}
		}
	}
	return Result{Outcome: Unknown, Err: last}
}

// IsFenced reports a coordinator's fencing answer: PRODUCER_FENCED or
// INVALID_PRODUCER_EPOCH.
func IsFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}
