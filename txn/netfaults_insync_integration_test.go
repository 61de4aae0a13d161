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
	// Hold the cut until the processors saw NOT_ENOUGH_REPLICAS and for
	// longer than their delivery timeout after the ISR shrank.
	hold := time.Now().Add(60 * time.Second)
	for time.Now().Before(hold) && (n.produced.notEnough.Load()+n.produced.afterAppend.Load()+n.produced.retried.Load() == 0 || time.Since(shrunk) < netDeliveryTimeout+2*time.Second) {
		time.Sleep(200 * time.Millisecond)
	}
	n.effect("processors' produce errors while the ISR was short: %v", &n.produced)
	if err := n.c.Network().Heal(testCtx(t, 30*time.Second)); err != nil { // ctx may have run out while held
		t.Fatalf("heal: %v", err)
	}
	healed := time.Now()
	_, isr = waitPartition(t, n.c, n.out, 0, -1, 2*time.Minute, "ISR of all 3 replicas", func(_ int32, isr []int32) bool { return len(isr) == 3 })
	n.effect("%s/0: ISR %v again %v after the heal", n.out, isr, time.Since(healed).Round(time.Second))
	return fmt.Sprintf("leader %d of %s/0 cut from both followers (broker links) for %v", leader, n.out, healed.Sub(cut).Round(time.Second))
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
