package sink

import (
	"context"
	"errors"
	"time"

	"github.com/eoskit/eoskit"
)

// BatchCommit describes one batch's database transaction, committed or not.
type BatchCommit struct {
	Group        string
	Records      int // records handed to the handler and committed (dead letters included)
	DeadLettered int
	Partitions   int
	// Offsets are the next offsets written to the offsets table, per topic
	// and partition.
	Offsets  map[string]map[int32]int64
	Handle   time.Duration // in the handler
	Duration time.Duration // from BEGIN to the COMMIT's answer
	Err      error         // nil: committed
}

// HookBatchCommit is called after every batch transaction ends.
type HookBatchCommit interface{ OnBatchCommit(BatchCommit) }

// FenceRefused is a partition whose commit the offsets table refused
// (ErrOwnershipLost): a late, revoked or paused sink fenced off.
type FenceRefused struct {
	Group     string
	Topic     string
	Partition int32
	Epoch     int64 // this sink's epoch
	Current   int64 // the table's epoch
}

// HookFenceRefused is called once per refused partition.
type HookFenceRefused interface{ OnFenceRefused(FenceRefused) }

// sinkHooks are the package's own hooks, sorted once.
type sinkHooks struct {
	batch []HookBatchCommit
	fence []HookFenceRefused
}

func newSinkHooks(hs []eoskit.Hook) sinkHooks {
	var s sinkHooks
	for _, h := range hs {
		if x, ok := h.(HookBatchCommit); ok {
			s.batch = append(s.batch, x)
		}
		if x, ok := h.(HookFenceRefused); ok {
			s.fence = append(s.fence, x)
		}
	}
	return s
}

// txnEndOf is a batch transaction in eoskit's vocabulary (eoskit.TxnEnd,
// what metrics/prom and internal/health consume), so that one metrics hook
// serves the sink as it serves txn:
//
//	committed                         TxnCommitted (Records, DeadLettered, Offsets)
//	refused by the fence              TxnAborted, AbortRebalance, Err matching ErrOwnershipLost
//	the handler failed                TxnAborted, AbortHandlerError
//	COMMIT sent, its answer lost      TxnOutcomeUnknown (the retry's fence tells)
//	ctx cancelled                     TxnAborted, AbortShutdown
//	any other failure                 TxnAborted, AbortOther
//
// Phases: Flush is the handler's writes (and dead letters), Commit the
// fenced offsets update and COMMIT, Duration all of it from BEGIN.
func txnEndOf(ctx context.Context, ev BatchCommit, began, written time.Time, committing bool) eoskit.TxnEnd {
	e := eoskit.TxnEnd{
		Group: ev.Group, ProducerID: -1, Epoch: -1, Outcome: eoskit.TxnAborted,
		Records: ev.Records, DeadLettered: ev.DeadLettered, Began: began,
		Duration: ev.Duration, Offsets: ev.Offsets, Err: ev.Err,
	}
	if !written.IsZero() {
		e.Flush, e.Commit = written.Sub(began), ev.Duration-written.Sub(began)
	}
	var he errHandler
	switch {
	case ev.Err == nil:
		e.Outcome = eoskit.TxnCommitted
	case errors.Is(ev.Err, ErrOwnershipLost):
		e.Reason = eoskit.AbortRebalance
	case committing:
		e.Outcome = eoskit.TxnOutcomeUnknown
	case ctx.Err() != nil:
		e.Reason = eoskit.AbortShutdown
	case errors.As(ev.Err, &he):
		e.Reason = eoskit.AbortHandlerError
	default:
		e.Reason = eoskit.AbortOther
	}
	return e
}
