package txn_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
)

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func uniq(t *testing.T, what string) string {
	return fmt.Sprintf("%s-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), what, time.Now().UnixNano())
}

// fake starts a kfake cluster with the topics (name -> partitions).
func fake(t *testing.T, topics map[string]int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// kconn is the connection to a test cluster.
func kconn(addrs []string) eoskit.Conn { return eoskit.Conn{Brokers: addrs} }

func client(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceValues produces n records "v-<from+i>" (key = value) and waits.
func produceValues(t *testing.T, addrs []string, topic string, from, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := []byte(fmt.Sprintf("v-%06d", from+i))
		recs[i] = &kgo.Record{Topic: topic, Key: v, Value: v}
	}
	produceAll(t, client(t, addrs), recs)
}

// produceAll produces recs asynchronously and waits for every ack.
func produceAll(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	ctx := testCtx(t, 2*time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, r := range recs {
		wg.Add(1)
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				first = fmt.Errorf("produce to %s: %w", r.Topic, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

// readCommitted reads topic read_committed up to its end offsets.
func readCommitted(t *testing.T, addrs []string, topic string) []*kgo.Record {
	t.Helper()
	return readTopic(t, addrs, topic, kgo.ReadCommitted())
}

// readTopic reads topic from the start to its end offsets (high
// watermarks); with read_committed, a transaction left open makes it fail.
func readTopic(t *testing.T, addrs []string, topic string, level kgo.IsolationLevel) []*kgo.Record {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	adm := kadm.NewClient(client(t, addrs))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	// Control records (transaction markers) are kept so that the read can
	// stop exactly at the end offset; they are not returned.
	cl := client(t, addrs, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(level),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %v (waiting for %v: a hanging transaction?)", topic, ctx.Err(), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// exactlyOnce checks that every input source appears exactly once among the
// outputs' provenance headers and nothing else does.
func exactlyOnce(t *testing.T, in, out []*kgo.Record) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range out {
		src, ok := header(r, txn.ProvenanceHeader)
		if !ok {
			t.Fatalf("output %s/%d/%d has no %s header", r.Topic, r.Partition, r.Offset, txn.ProvenanceHeader)
		}
		seen[src]++
	}
	var dup, missing int
	for _, r := range in {
		src := txn.Source(r)
		switch seen[src] {
		case 0:
			missing++
		case 1:
		default:
			dup += seen[src] - 1
		}
		delete(seen, src)
	}
	if dup != 0 || missing != 0 || len(seen) != 0 {
		t.Fatalf("inputs %d outputs %d: duplicates %d, missing %d, unexplained %d", len(in), len(out), dup, missing, len(seen))
	}
}

// proc is a Processor running in the background.
type proc struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's result, once done is closed
}

// wait waits for Run to return by itself and returns its error.
func (r *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(d):
		t.Fatalf("Run still running after %v", d)
		return nil
	}
}

// stop cancels Run and returns its error.
func (r *proc) stop() error {
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(time.Minute):
		return fmt.Errorf("run did not return within a minute of cancel")
	}
}

// copyAndStop runs p until group has committed every record of in, checks
// that out is an exactly-once copy of in, and stops p, whose Run must
// return nil.
func copyAndStop(t *testing.T, addrs []string, p *txn.Processor, group, in, out string) {
	t.Helper()
	r := runProc(t, p)
	waitCommitted(t, addrs, group, in)
	exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// runProc runs p in the background until the test ends or stop is called.
func runProc(t *testing.T, p *txn.Processor) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &proc{cancel: cancel, done: make(chan struct{})}
	go func() { r.err = p.Run(ctx); close(r.done) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// waitCommitted waits until group's committed offsets are past the last
// record of topic (read read_committed, so a transactional input's final
// marker does not count).
func waitCommitted(t *testing.T, addrs []string, group, topic string) {
	t.Helper()
	want := map[int32]int64{}
	for _, r := range readCommitted(t, addrs, topic) {
		want[r.Partition] = max(want[r.Partition], r.Offset+1)
	}
	ctx := testCtx(t, 2*time.Minute)
	adm := kadm.NewClient(client(t, addrs))
	for {
		cs, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			done := true
			for p, end := range want {
				c, ok := cs.Lookup(topic, p)
				if !ok || c.At < end {
					done = false
				}
			}
			if done {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s did not commit to the end of %s", group, topic)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
