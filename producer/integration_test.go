//go:build integration

package producer_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/producer"
)

// shared is a 3-node cluster (transaction.version 2) for every test that
// leaves it healthy.
var shared *integration.Shared

func TestMain(m *testing.M) {
	shared = integration.StartShared(integration.WithNodes(3))
	integration.AnnounceSuite("producer", shared.Cluster)
	os.Exit(shared.Run(m))
}

func createTopic(t *testing.T, c *integration.Cluster, topic string, partitions int32, rf int16, minISR string) {
	t.Helper()
	cl, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(integration.Context(t, 30*time.Second), partitions, rf,
		map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}

// readAll reads every record below the high watermarks, read_uncommitted.
func readAll(t *testing.T, c *integration.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx := integration.Context(t, 2*time.Minute)
	cl, err := c.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: still waiting for %v", topic, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

// TestIdempotentProducerBrokerKillNoDuplicatesNoGaps produces a numbered
// sequence per partition, asynchronously and continuously, while a broker
// of three is killed and restarted. Every record must be acknowledged, and
// reading back each partition must give exactly 0, 1, 2, ... in order.
func TestIdempotentProducerBrokerKillNoDuplicatesNoGaps(t *testing.T) {
	c := shared.Cluster
	topic := integration.UniqueName(t, "t")
	const parts = 3
	createTopic(t, c, topic, parts, 3, "2")
	ctx := integration.Context(t, 5*time.Minute)
	p, err := producer.New(eoskit.Conn{Brokers: c.Bootstrap()}, producer.WithPartitioner(kgo.ManualPartitioner()),
		producer.WithLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)

	var acked, failed atomic.Int64
	var firstErr atomic.Value
	var faultsDone atomic.Bool
	faultErr := make(chan error, 1)
	go func() {
		faultErr <- func() error {
			for acked.Load() < 600 {
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("killing broker 2 after %d acks", acked.Load())
			if err := c.Kill(ctx, 2); err != nil {
				return err
			}
			time.Sleep(8 * time.Second) // past broker.session.timeout.ms: leaders move
			t.Logf("restarting broker 2 after %d acks", acked.Load())
			if err := c.Start(ctx, 2); err != nil {
				return err
			}
			return c.WaitHealthy(ctx)
		}()
		faultsDone.Store(true)
	}()

	next := make([]int, parts)
	for n := 0; !faultsDone.Load() || n < 3000; n++ {
		part := int32(n % parts)
		r := &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, "%d-%06d", part, next[part])}
		next[part]++
		p.ProduceAsync(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			acked.Add(1)
		})
		if n%10 == 9 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := <-faultErr; err != nil {
		t.Fatalf("fault injection: %v", err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d records failed while one broker of three was down; first: %v", n, firstErr.Load())
	}
	total := next[0] + next[1] + next[2]
	t.Logf("%d records acknowledged across the kill and restart", acked.Load())

	got := readAll(t, c, topic)
	seen := make([]int, parts)
	for _, r := range got {
		want := fmt.Sprintf("%d-%06d", r.Partition, seen[r.Partition])
		if string(r.Value) != want {
			t.Fatalf("partition %d offset %d: read %q, want %q (duplicate or gap)", r.Partition, r.Offset, r.Value, want)
		}
		seen[r.Partition]++
	}
	for part := range parts {
		if seen[part] != next[part] {
			t.Fatalf("partition %d: read %d records, produced %d", part, seen[part], next[part])
		}
	}
	if len(got) != total {
		t.Fatalf("read %d records, produced %d", len(got), total)
	}
}

// TestNotEnoughReplicasIsTyped writes acks=all to a min.insync.replicas=2
// topic whose two replicas are nodes 1 and 3, with node 3 killed: once the
// controller shrinks the ISR to node 1, the broker refuses every write.
func TestNotEnoughReplicasIsTyped(t *testing.T) {
	c := shared.Cluster
	topic := integration.UniqueName(t, "t")
	ctx := integration.Context(t, 4*time.Minute)
	cl, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Replicas = []int32{1, 3}
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "min.insync.replicas", kmsg.StringPtr("2")
	rt.Configs = append(rt.Configs, cfg)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := c.Kill(ctx, 3); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Start(context.Background(), 3); err != nil {
			t.Errorf("restart node 3: %v", err)
		}
		if err := c.WaitHealthy(integration.Context(t, 3*time.Minute)); err != nil {
			t.Errorf("cluster not healthy after restarting node 3: %v", err)
		}
	}()
	for {
		td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
		if err == nil && td[topic].Err == nil && len(td[topic].Partitions[0].ISR) == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ISR never shrank to one replica")
		case <-time.After(250 * time.Millisecond):
		}
	}
	p, err := producer.New(eoskit.Conn{Brokers: c.Bootstrap()}, producer.WithRecordRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	err = p.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte("v")})
	if !errors.Is(err, producer.ErrNotEnoughReplicas) || !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("Produce: %v, want ErrNotEnoughReplicas", err)
	}
	t.Logf("refused as expected: %v", err)
}

func TestUnknownTopicIsTyped(t *testing.T) {
	p, err := producer.New(eoskit.Conn{Brokers: shared.Bootstrap()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	err = p.Produce(integration.Context(t, time.Minute), &kgo.Record{Topic: integration.UniqueName(t, "missing"), Value: []byte("v")})
	if !errors.Is(err, producer.ErrUnknownTopic) {
		t.Fatalf("Produce: %v, want ErrUnknownTopic", err)
	}
}

// TestTransactions runs the transactional checks on transaction.version 2
// (the shared cluster) and 1 (a 1-node cluster of its own).
func TestTransactions(t *testing.T) {
	run := func(t *testing.T, c *integration.Cluster, rf int16) {
		t.Run("visibility", func(t *testing.T) { txnVisibility(t, c, rf) })
		t.Run("fencing", func(t *testing.T) { txnFencing(t, c, rf) })
	}
	t.Run("v2", func(t *testing.T) {
		if v := shared.TransactionVersion(); v != 2 {
			t.Fatalf("shared cluster has transaction.version %d, want 2", v)
		}
		run(t, shared.Cluster, 3)
	})
	t.Run("v1", func(t *testing.T) {
		c := integration.Start(t, integration.WithNodes(1), integration.WithTransactionVersion(1))
		run(t, c, 1)
	})
}

// readUntilStop reads topic with the isolation level until it sees "stop".
func readUntilStop(t *testing.T, c *integration.Cluster, topic string, iso kgo.IsolationLevel) []string {
	t.Helper()
	cl, err := c.NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := integration.Context(t, time.Minute)
	var out []string
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: no stop marker; read %v", topic, out)
		}
		stop := false
		fs.EachRecord(func(r *kgo.Record) {
			stop = stop || string(r.Value) == "stop"
			if !stop {
				out = append(out, string(r.Value))
			}
		})
		if stop {
			return out
		}
	}
}

func txnVisibility(t *testing.T, c *integration.Cluster, rf int16) {
	topic := integration.UniqueName(t, "t")
	createTopic(t, c, topic, 1, rf, "1")
	ctx := integration.Context(t, 2*time.Minute)
	p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: c.Bootstrap()}, integration.UniqueName(t, "txn"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	rec := func(v string) *kgo.Record { return &kgo.Record{Topic: topic, Value: []byte(v)} }
	produce := func(vs ...string) func(*producer.Tx) error {
		return func(tx *producer.Tx) error {
			for _, v := range vs {
				if err := tx.Produce(ctx, rec(v)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := p.Run(ctx, produce("c1", "c2")); err != nil {
		t.Fatalf("commit: %v", err)
	}
	bad := errors.New("handler failed")
	if err := p.Run(ctx, func(tx *producer.Tx) error { _ = produce("a1")(tx); return bad }); !errors.Is(err, bad) || !errors.Is(err, producer.ErrAborted) {
		t.Fatalf("Run with error: %v", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		_ = p.Run(ctx, func(tx *producer.Tx) error { _ = produce("a2")(tx); panic("boom") })
	}()
	tx, err := p.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := produce("a3")(tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Abort(ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := p.Run(ctx, produce("c3", "stop")); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got, want := fmt.Sprint(readUntilStop(t, c, topic, kgo.ReadCommitted())), "[c1 c2 c3]"; got != want {
		t.Fatalf("read_committed: %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(readUntilStop(t, c, topic, kgo.ReadUncommitted())), "[c1 c2 a1 a2 a3 c3]"; got != want {
		t.Fatalf("read_uncommitted: %s, want %s", got, want)
	}
}

func txnFencing(t *testing.T, c *integration.Cluster, rf int16) {
	topic := integration.UniqueName(t, "t")
	createTopic(t, c, topic, 1, rf, "1")
	ctx := integration.Context(t, 2*time.Minute)
	id := integration.UniqueName(t, "txn")
	conn := eoskit.Conn{Brokers: c.Bootstrap()}
	first, err := producer.NewTransactional(ctx, conn, id)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(ctx)
	rec := func(v string) *kgo.Record { return &kgo.Record{Topic: topic, Value: []byte(v)} }
	if err := first.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("first-committed")) }); err != nil {
		t.Fatal(err)
	}
	// The first producer has an open transaction when the second takes over.
	zombie, err := first.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := zombie.Produce(ctx, rec("zombie")); err != nil {
		t.Fatal(err)
	}
	second, err := producer.NewTransactional(ctx, conn, id)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(ctx)
	if err := zombie.Commit(ctx); !errors.Is(err, eoskit.ErrFenced) {
		t.Fatalf("zombie Commit: %v, want ErrFenced", err)
	}
	if err := first.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("after")) }); !errors.Is(err, eoskit.ErrFenced) {
		t.Fatalf("fenced producer's next Run: %v, want ErrFenced", err)
	}
	if err := second.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("second"), rec("stop")) }); err != nil {
		t.Fatalf("new owner: %v", err)
	}
	if got, want := fmt.Sprint(readUntilStop(t, c, topic, kgo.ReadCommitted())), "[first-committed second]"; got != want {
		t.Fatalf("read_committed: %s, want %s", got, want)
	}
}

// TestUnknownCommitOutcome freezes the only broker while a commit is in
// flight, so the commit's answer never arrives before its deadline. Commit
// must report ErrCommitOutcomeUnknown and re-initialise the producer on a
// new epoch (never abort on the old one, KAFKA-17754); whatever the frozen
// commit did, the next transaction must commit exactly its own records.
func TestUnknownCommitOutcome(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			c := integration.Start(t, integration.WithNodes(1), integration.WithTransactionVersion(v))
			topic := integration.UniqueName(t, "t")
			createTopic(t, c, topic, 1, 1, "1")
			ctx := integration.Context(t, 3*time.Minute)
			p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: c.Bootstrap()}, integration.UniqueName(t, "txn"))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(ctx)
			_, epoch0, err := p.Client().ProducerID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rec := func(v string) *kgo.Record { return &kgo.Record{Topic: topic, Value: []byte(v)} }
			tx, err := p.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.Produce(ctx, rec("maybe")); err != nil {
				t.Fatal(err)
			}
			if err := c.Pause(ctx, 1); err != nil {
				t.Fatal(err)
			}
			resumed := make(chan error, 1)
			go func() {
				time.Sleep(6 * time.Second)
				resumed <- c.Resume(context.Background(), 1)
			}()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err = tx.Commit(cctx)
			cancel()
			if rerr := <-resumed; rerr != nil {
				t.Fatal(rerr)
			}
			// The outcome reported must agree with what readers see:
			// nil (the commit was confirmed by a retry on transaction.version
			// 2), or ErrCommitOutcomeUnknown (either is then possible).
			commitErr := err
			if commitErr != nil && !errors.Is(commitErr, eoskit.ErrCommitOutcomeUnknown) {
				t.Fatalf("Commit while the broker is frozen: %v, want nil or ErrCommitOutcomeUnknown", commitErr)
			}
			t.Logf("commit: %v", commitErr)
			_, epoch1, err := p.Client().ProducerID(ctx)
			if err != nil || epoch1 <= epoch0 {
				t.Fatalf("epoch after the commit: %d (err %v), want > %d", epoch1, err, epoch0)
			}
			if err := p.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("after"), rec("stop")) }); err != nil {
				t.Fatalf("next transaction: %v", err)
			}
			got := readUntilStop(t, c, topic, kgo.ReadCommitted())
			switch g := fmt.Sprint(got); {
			case g == "[maybe after]", g == "[after]" && commitErr != nil:
				t.Logf("read_committed after the commit: %v", got)
			default:
				t.Fatalf("read_committed: %v after Commit returned %v", got, commitErr)
			}
		})
	}
}
