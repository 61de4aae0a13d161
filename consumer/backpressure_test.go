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
	// Small batches, so that one fetch holds tens of records, not all.
	addrs := seedPartitions(ctx, t, parts, 1000, func(p int32, i int) []byte {
		if i == perPart {
			return nil
		}
		return fmt.Appendf(nil, "%d-%d-%s", p, i, strings.Repeat("x", 80))
	})

	var mu sync.Mutex
	maxWaiting := map[int32]int{}
	cons, err := New(eoskit.Conn{Brokers: addrs, KgoOpts: []kgo.Opt{kgo.FetchMaxPartitionBytes(2000)}},
		WithGroup("g"), WithTopics("t"), StartAtEarliest(), WithMaxPending(maxPending))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	cons.cfg.onPush = func(p int32, pending, _ int) {
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

// TestPendingBytesDrain: a byte bound (WithMaxPendingBytes) far below one
// partition's data. A worker releases a fetch's bytes in proportion at its
// marks and the rest at the fetch's end. With records of one size the
// bytes waiting must always be exactly the records waiting times that size
// (released too much or too little shows at once), and every record must
// get through (bytes never released would keep the partition paused).
func TestPendingBytesDrain(t *testing.T) {
	const parts, perPart, size, maxBytes = 2, 3000, 200, 20000
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addrs := seedPartitions(ctx, t, parts, 4000, func(p int32, i int) []byte {
		if i == perPart {
			return nil
		}
		return fmt.Appendf(nil, "%d-%06d-%s", p, i, strings.Repeat("x", size-9))
	})

	cons, err := New(eoskit.Conn{Brokers: addrs, KgoOpts: []kgo.Opt{kgo.FetchMaxPartitionBytes(30000)}},
		WithGroup("g"), WithTopics("t"), StartAtEarliest(), WithMaxPendingBytes(maxBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var mu sync.Mutex
	maxWaiting, pushes := map[int32]int{}, 0
	cons.cfg.onPush = func(p int32, pending, pendingBytes int) {
		mu.Lock()
		defer mu.Unlock()
		pushes++
		maxWaiting[p] = max(maxWaiting[p], pendingBytes)
		if pendingBytes != pending*size {
			t.Errorf("partition %d: %d bytes counted for %d records of %d bytes waiting", p, pendingBytes, pending, size)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	handled := map[int32]int{}
	next := map[int32]int64{}
	err = cons.Run(runCtx, func(_ context.Context, r *kgo.Record) error {
		if r.Partition == 0 {
			time.Sleep(20 * time.Microsecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if r.Offset != next[r.Partition] {
			t.Errorf("partition %d: offset %d handled, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition] = r.Offset + 1
		handled[r.Partition]++
		if handled[0]+handled[1] == parts*perPart {
			stop()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Run ended by the test's deadline: %v handled of %d per partition (bytes never released?)", handled, perPart)
	}
	t.Logf("%d fetches pushed; bytes waiting after one, at most: %v (WithMaxPendingBytes %d)", pushes, maxWaiting, maxBytes)
	if pushes < 2*parts {
		t.Errorf("only %d fetches pushed: the byte bound was never in play", pushes)
	}
	for p := range int32(parts) {
		if handled[p] != perPart {
			t.Errorf("partition %d: %d records handled, want %d", p, handled[p], perPart)
		}
	}
}

// seedPartitions starts a kfake cluster (closed with the test) with topic
// "t" of parts partitions, fills partition p with the values value(p, 0),
// value(p, 1), ... up to the first nil, in producer batches of at most
// batchBytes, and returns the cluster's addresses.
func seedPartitions(ctx context.Context, t *testing.T, parts int32, batchBytes int32, value func(p int32, i int) []byte) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(batchBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	var rs []*kgo.Record
	for p := range parts {
		for i := 0; ; i++ {
			v := value(p, i)
			if v == nil {
				break
			}
			rs = append(rs, &kgo.Record{Topic: "t", Partition: p, Value: v})
		}
	}
	if err := pcl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return addrs
}
