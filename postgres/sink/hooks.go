package sink

import (
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
