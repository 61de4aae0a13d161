package consumer_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
)

// TestStartAtLatestSurvivesHandOverBeforeFirstCommit (#12 item 3): member
// A joins with StartAtLatest, records are produced, and A leaves before
// committing anything (its handler never finishes a record). Member B
// takes the partition over: it must start where A started (pinned at the
// assignment), not at the new end, so no record produced after A joined is
// skipped, and none produced before is read.
func TestStartAtLatestSurvivesHandOverBeforeFirstCommit(t *testing.T) {
	c := fake(t, 1, "t")
	addrs := c.ListenAddrs()
	ctx := ctxT(t)
	seed(t, addrs, "t", 1, 5) // before the group exists: never read
	produce := func(from, n int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := from; i < from+n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: 0, Value: fmt.Appendf(nil, "after-%02d", i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts := func() []consumer.Opt {
		return []consumer.Opt{consumer.WithGroup("handover"), consumer.WithTopics("t"),
			consumer.StartAtLatest(), consumer.WithGracePeriod(200 * time.Millisecond), consumer.WithCommitInterval(time.Hour)}
	}

	// A: assigned, then never finishes a record.
	a, err := consumer.New(eoskit.Conn{Brokers: addrs}, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	actx, acancel := context.WithCancel(ctx)
	first := make(chan string, 1)
	adone := make(chan error, 1)
	go func() {
		adone <- a.Run(actx, func(hctx context.Context, r *kgo.Record) error {
			select {
			case first <- string(r.Value):
			default:
			}
			<-hctx.Done()
			return hctx.Err()
		})
	}()
	// Produce one record at a time until A handles one: A's start position
	// is then resolved, and every record from that one on must be read.
	n := 0
	var from string
	for from == "" {
		produce(n, 1)
		n++
		select {
		case from = <-first:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("A never got a record")
		}
	}
	produce(n, 3)
	n += 3
	acancel()
	<-adone
	produce(n, 4) // while nobody owns the partition
	n += 4
	var want []string
	for i := range n {
		if v := fmt.Sprintf("after-%02d", i); v >= from {
			want = append(want, v)
		}
	}

	// B takes over.
	b, err := consumer.New(eoskit.Conn{Brokers: addrs}, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	defer bcancel()
	var mu sync.Mutex
	var got []string
	_ = b.Run(bctx, func(_ context.Context, r *kgo.Record) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(r.Value))
		if len(got) == len(want) {
			bcancel()
		}
		return nil
	})
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) || len(want) < 8 {
		t.Fatalf("B read %v, want %v: records produced after A started were skipped", got, want)
	}
}
