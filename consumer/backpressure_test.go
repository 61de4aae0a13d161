package consumer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// TestSlowPartitionIsPausedOthersFlow: partition 0's handler is slow, the
// others' fast. The records fetched but not handled of partition 0 must
// stay near WithMaxPending (its fetching pauses), and the fast partitions
// must finish long before it (no head-of-line blocking by the slow one).
func TestSlowPartitionIsPausedOthersFlow(t *testing.T) {
	const parts, perPart, maxPending = 3, 600, 100
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	// Small batches, so that one fetch holds tens of records, not all.
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1000))
	if err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for p := range int32(parts) {
		for i := range perPart {
			rs = append(rs, &kgo.Record{Topic: "t", Partition: p, Value: fmt.Appendf(nil, "%d-%d-%s", p, i, strings.Repeat("x", 80))})
		}
	}
	if err := pcl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pcl.Close()

	var mu sync.Mutex
	maxWaiting := map[int32]int{}
	cons, err := New(eoskit.Conn{Brokers: addrs, KgoOpts: []kgo.Opt{kgo.FetchMaxPartitionBytes(2000)}},
		WithGroup("g"), WithTopics("t"), StartAtEarliest(), WithMaxPending(maxPending))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	cons.cfg.onPush = func(p int32, pending int) {
		mu.Lock()
		maxWaiting[p] = max(maxWaiting[p], pending)
		mu.Unlock()
	}
	runCtx, stop := context.WithCancel(ctx)
	handled := map[int32]int{}
	slowWhenFastDone := -1
	err = cons.Run(runCtx, func(_ context.Context, r *kgo.Record) error {
		if r.Partition == 0 {
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		handled[r.Partition]++
		if slowWhenFastDone < 0 && handled[1] == perPart && handled[2] == perPart {
			slowWhenFastDone = handled[0]
		}
		if handled[0] == perPart && slowWhenFastDone >= 0 {
			stop()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("records waiting after a fetch, at most: %v (WithMaxPending %d); slow partition: %d of %d handled when the fast ones finished",
		maxWaiting, maxPending, slowWhenFastDone, perPart)
	for p, n := range handled {
		if n != perPart {
			t.Errorf("partition %d: %d records handled, want %d", p, n, perPart)
		}
	}
	if maxWaiting[0] > 3*maxPending {
		t.Errorf("partition 0 had %d records waiting; its fetching should pause near %d", maxWaiting[0], maxPending)
	}
	if slowWhenFastDone < 0 || slowWhenFastDone > perPart/2 {
		t.Errorf("the fast partitions finished when the slow one had handled %d of %d: they waited for it", slowWhenFastDone, perPart)
	}
}
