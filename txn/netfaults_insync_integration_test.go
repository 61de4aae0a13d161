//go:build integration

package txn_test

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The min-insync-lost scenario's producer settings (see netScenarios).
const (
	netDeliveryTimeout = 5 * time.Second
	netRecordRetries   = 3
)

// minInsyncLost cuts the leader of output partition 0 off from both its
// followers on the broker links only (Network.PartitionBrokers: replication
// and transaction markers; the KRaft quorum stays whole, so the leader is
// neither fenced nor replaced): after replica.lag.time.max.ms the leader
// is alone in the ISR, below min.insync.replicas 2, and acks=all produces
// to it fail with NOT_ENOUGH_REPLICAS. The cut is held until the
// processors saw that error and for longer than their delivery timeout
// after the ISR shrank, then healed; the scenario's effects are the ISR
// shrunk to the leader, the errors seen, and the ISR whole again.
func minInsyncLost(n *netRun) string {
	t := n.t
	leader, isr := partitionLeader(t, n.c, n.out, 0, -1, -1, time.Minute)
	if len(isr) != 3 {
		t.Fatalf("%s/0: ISR %v before the cut, want all 3 replicas", n.out, isr)
	}
	notEnough := func() int64 {
		return n.produced.notEnough.Load() + n.produced.afterAppend.Load() + n.produced.retried.Load()
	}
	notEnough0 := notEnough()
	ctx := testCtx(t, 30*time.Second)
	if err := n.c.Network().PartitionBrokers(ctx, []int32{leader}); err != nil {
		t.Fatalf("partition brokers %d: %v", leader, err)
	}
	cut := time.Now()
	_, isr = waitPartition(t, n.c, n.out, 0, leader, 90*time.Second, fmt.Sprintf("ISR of leader %d alone", leader), func(l int32, isr []int32) bool {
		return l == leader && slices.Equal(isr, []int32{leader})
	})
	shrunk := time.Now()
	n.effect("%s/0: ISR %v (leader %d alone, below min.insync.replicas 2) %v after the cut", n.out, isr, leader, shrunk.Sub(cut).Round(time.Second))
	// Hold the cut for longer than the processors' delivery timeout after
	// the ISR shrank, and until the fault showed on the processors: a
	// NOT_ENOUGH_REPLICAS answer to one of their produces, or a transaction
	// of theirs that failed (aborted, unknown outcome, session restarted).
	// Which of the two they meet depends on timing: a produce to a
	// partition already in the open transaction is answered
	// NOT_ENOUGH_REPLICAS(_AFTER_APPEND); a transaction that must first
	// write the coordinator's own log (adding a partition, EndTxn, a new
	// epoch) fails there, and the coordinator answers with a retriable
	// coordinator error, never NOT_ENOUGH_REPLICAS (a CI run saw no
	// NOT_ENOUGH_REPLICAS in 60 s on tv2; tv1 never does). Meanwhile no
	// transaction can commit: the window from 2 s after the shrink to the
	// heal is measured and must show none.
	failures := func() int64 {
		s := sumStats(n.procs)
		return s.TxnsAborted + s.TxnsUnknown + s.SessionRestarts
	}
	// NOT_ENOUGH_REPLICAS answers count from the cut (the leader answers
	// so from its own shrink, before metadata shows it; a CI run saw
	// franz-go retry 7 and none after 2 s past the shrink: the processors
	// stalled); commits and failures from 2 s after the shrink (a
	// transaction acknowledged just before it may still end).
	time.Sleep(2 * time.Second)
	committed0, failures0 := sumStats(n.procs).TxnsCommitted, failures()
	hold := time.Now().Add(60 * time.Second)
	for time.Now().Before(hold) && (notEnough() == notEnough0 && failures() == failures0 || time.Since(shrunk) < netDeliveryTimeout+2*time.Second) {
		time.Sleep(200 * time.Millisecond)
	}
	short := time.Since(shrunk) - 2*time.Second
	n.mu.Lock()
	n.short = shortISR{held: short, committed: sumStats(n.procs).TxnsCommitted - committed0, failed: failures() - failures0, notEnough: notEnough() - notEnough0}
	sh := n.short
	n.mu.Unlock()
	n.effect("while the ISR was short (%v from 2 s after the shrink): %d transactions committed, %d failed (aborts, unknown outcomes, session restarts); %d NOT_ENOUGH_REPLICAS since the cut; processors' produce errors: %v",
		sh.held.Round(time.Second), sh.committed, sh.failed, sh.notEnough, &n.produced)
	if err := n.c.Network().Heal(testCtx(t, 30*time.Second)); err != nil { // ctx may have run out while held
		t.Fatalf("heal: %v", err)
	}
	healed := time.Now()
	_, isr = waitPartition(t, n.c, n.out, 0, -1, 2*time.Minute, "ISR of all 3 replicas", func(_ int32, isr []int32) bool { return len(isr) == 3 })
	n.effect("%s/0: ISR %v again %v after the heal", n.out, isr, time.Since(healed).Round(time.Second))
	return fmt.Sprintf("leader %d of %s/0 cut from both followers (broker links) for %v", leader, n.out, healed.Sub(cut).Round(time.Second))
}

// shortISR is what the processors did while min-insync-lost held the ISR
// of their output partition below min.insync.replicas.
type shortISR struct {
	held                         time.Duration
	committed, failed, notEnough int64
}

// notEnoughLogger is a franz-go logger (kgo.WithLogger through
// Conn.KgoOpts) that counts NOT_ENOUGH_REPLICAS in the client's debug log:
// franz-go retries that answer and reports it nowhere else (no hook sees a
// retried partition error; its "produced" debug line names it as
// "retrying@offset,records(NOT_ENOUGH_REPLICAS: ...)").
type notEnoughLogger struct{ n *atomic.Int64 }

func (notEnoughLogger) Level() kgo.LogLevel { return kgo.LogLevelDebug }

func (l notEnoughLogger) Log(_ kgo.LogLevel, _ string, keyvals ...any) {
	for _, kv := range keyvals {
		if s, ok := kv.(string); ok && strings.Contains(s, "NOT_ENOUGH_REPLICAS") {
			l.n.Add(int64(strings.Count(s, "NOT_ENOUGH_REPLICAS")))
		}
	}
}
