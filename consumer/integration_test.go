//go:build integration

package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
	"github.com/eoskit/eoskit/integration"
)

// shared is one broker: these tests exercise the group protocol, not
// replication. Short KIP-848 session timeouts let a crashed member's
// partitions move as quickly as with the classic protocol.
var shared *integration.Shared

func TestMain(m *testing.M) {
	shared = integration.StartShared(integration.WithNodes(1),
		integration.WithBrokerConfig("group.consumer.min.session.timeout.ms", "6000"),
		integration.WithBrokerConfig("group.consumer.session.timeout.ms", "6000"),
		integration.WithBrokerConfig("group.consumer.min.heartbeat.interval.ms", "1000"),
		integration.WithBrokerConfig("group.consumer.heartbeat.interval.ms", "1000"))
	integration.AnnounceSuite("consumer", shared.Cluster)
	os.Exit(shared.Run(m))
}

func admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := shared.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func createTopic(t *testing.T, topic string, partitions int32) {
	t.Helper()
	resp, err := admin(t).CreateTopic(integration.Context(t, 30*time.Second), partitions, 1, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}

// produce writes n records spread over the topic's partitions.
func produce(ctx context.Context, t *testing.T, topic string, from, n int) {
	t.Helper()
	cl, err := shared.NewClient()
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	rs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%06d", i)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Errorf("produce: %v", err)
	}
}

// tracker records every handled record and checks every successful commit
// record by record: all offsets below a committed offset must have been
// handled before the commit was sent.
type tracker struct {
	mu         sync.Mutex
	handled    map[int32]map[int64]int
	values     map[string]bool
	commits    int
	violations []string
}

func newTracker() *tracker {
	return &tracker{handled: map[int32]map[int64]int{}, values: map[string]bool{}}
}

func (tr *tracker) handler(delay time.Duration, count *atomic.Int64) consumer.Handler {
	return func(ctx context.Context, r *kgo.Record) error {
		time.Sleep(delay)
		tr.mu.Lock()
		if tr.handled[r.Partition] == nil {
			tr.handled[r.Partition] = map[int64]int{}
		}
		tr.handled[r.Partition][r.Offset]++
		tr.values[string(r.Value)] = true
		tr.mu.Unlock()
		if count != nil {
			count.Add(1)
		}
		return nil
	}
}

func (tr *tracker) OnCommit(c eoskit.Committed) {
	offsets := c.Offsets
	if c.Err != nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.commits++
	for _, ps := range offsets {
		for p, off := range ps {
			for o := int64(0); o < off; o++ {
				if tr.handled[p][o] == 0 {
					tr.violations = append(tr.violations, fmt.Sprintf("partition %d committed at %d but offset %d was never handled", p, off, o))
					break
				}
			}
		}
	}
}

func (tr *tracker) handledCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.values)
}

// killSwitch is a dialer whose kill closes every connection and refuses new
// ones: the member vanishes from the cluster's point of view, mid-stream,
// without committing or leaving the group.
type killSwitch struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (k *killSwitch) dial(ctx context.Context, network, host string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return nil, errors.New("member crashed")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err == nil {
		k.conns = append(k.conns, c)
	}
	return c, err
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	for _, c := range k.conns {
		_ = c.Close()
	}
}

type member struct {
	cancel context.CancelFunc
	done   chan error
	count  atomic.Int64
}

func startMember(t *testing.T, tr *tracker, conn eoskit.Conn, opts []consumer.Opt, delay time.Duration) *member {
	t.Helper()
	c, err := consumer.New(conn, append(opts, consumer.WithHooks(tr))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- c.Run(ctx, tr.handler(delay, &m.count)) }()
	return m
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestMembersLeaveAndCrash: three members share a topic while records keep
// arriving. One crashes (its connections cut: no commit, no leave), one
// leaves gracefully. Every record must be handled at least once, and no
// commit may pass a record that was not handled. Runs on the classic
// protocol (cooperative-sticky) and on KIP-848.
func TestMembersLeaveAndCrash(t *testing.T) {
	for _, proto := range []string{"classic", "kip848"} {
		t.Run(proto, func(t *testing.T) { membersLeaveAndCrash(t, proto == "kip848") })
	}
}

func membersLeaveAndCrash(t *testing.T, kip848 bool) {
	topic, group := integration.UniqueName(t, "t"), integration.UniqueName(t, "g")
	const parts, first, more = 6, 3000, 1500
	createTopic(t, topic, parts)
	ctx := integration.Context(t, 4*time.Minute)
	produce(ctx, t, topic, 0, first)

	tr := newTracker()
	conn := func(extra ...kgo.Opt) eoskit.Conn {
		return eoskit.Conn{Brokers: shared.Bootstrap(), KgoOpts: append(extra, kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(time.Second))}
	}
	opts := func() []consumer.Opt {
		o := []consumer.Opt{consumer.WithGroup(group),
			consumer.WithTopics(topic), consumer.StartAtEarliest(), consumer.WithConcurrency(2),
			consumer.WithMaxPending(50), consumer.WithCommitInterval(200 * time.Millisecond),
			consumer.WithGracePeriod(3 * time.Second)}
		if kip848 {
			o = append(o, consumer.WithConsumerProtocol())
		}
		return o
	}
	a := startMember(t, tr, conn(), opts(), 2*time.Millisecond)
	ks := &killSwitch{}
	b := startMember(t, tr, conn(kgo.Dialer(ks.dial)), opts(), 2*time.Millisecond)
	waitUntil(t, ctx, "both members handling", func() bool { return a.count.Load() > 100 && b.count.Load() > 100 })

	go produce(ctx, t, topic, first, more)
	ks.kill()
	t.Logf("member B crashed after handling %d records (A: %d)", b.count.Load(), a.count.Load())
	c := startMember(t, tr, conn(), opts(), 2*time.Millisecond)
	waitUntil(t, ctx, "member C handling", func() bool { return c.count.Load() > 200 })
	c.cancel()
	if err := <-c.done; err != nil {
		t.Fatalf("member C graceful leave: %v", err)
	}
	t.Logf("member C left gracefully after handling %d records", c.count.Load())

	adm := admin(t)
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantType := map[bool]string{false: "classic", true: "consumer"}[kip848]
	if got := groups[group].GroupType; got != wantType {
		t.Fatalf("group type %q, want %q", got, wantType)
	}
	waitUntil(t, ctx, "every record handled and committed", func() bool {
		if tr.handledCount() < first+more {
			return false
		}
		ends, err1 := adm.ListEndOffsets(ctx, topic)
		offs, err2 := adm.FetchOffsets(ctx, group)
		if err1 != nil || err2 != nil {
			return false
		}
		all := true
		ends.Each(func(e kadm.ListedOffset) {
			o, ok := offs.Lookup(topic, e.Partition)
			all = all && ok && o.At == e.Offset
		})
		return all
	})
	a.cancel()
	if err := <-a.done; err != nil {
		t.Fatalf("member A: %v", err)
	}
	b.cancel()
	t.Logf("crashed member B's Run returned: %v", <-b.done)

	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, v := range tr.violations {
		t.Error(v)
	}
	redelivered := 0
	ends.Each(func(e kadm.ListedOffset) {
		for o := int64(0); o < e.Offset; o++ {
			switch n := tr.handled[e.Partition][o]; {
			case n == 0:
				t.Errorf("partition %d offset %d never handled", e.Partition, o)
			case n > 1:
				redelivered++
			}
		}
	})
	if len(tr.values) != first+more {
		t.Errorf("handled %d distinct records, produced %d", len(tr.values), first+more)
	}
	if tr.commits == 0 {
		t.Errorf("no commit was observed")
	}
	t.Logf("%d records, %d commits checked, %d handled more than once (at least once)", first+more, tr.commits, redelivered)
}

// TestGracefulShutdownCommitsHandled stops a member mid-stream: the
// committed offset of every partition must be exactly its last handled
// offset + 1, and a new member must start there.
func TestGracefulShutdownCommitsHandled(t *testing.T) {
	topic, group := integration.UniqueName(t, "t"), integration.UniqueName(t, "g")
	createTopic(t, topic, 3)
	ctx := integration.Context(t, 2*time.Minute)
	produce(ctx, t, topic, 0, 900)
	c, err := consumer.New(eoskit.Conn{Brokers: shared.Bootstrap()}, consumer.WithGroup(group),
		consumer.WithTopics(topic), consumer.StartAtEarliest(), consumer.WithCommitInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	last := map[int32]int64{}
	n := 0
	err = c.Run(rctx, func(_ context.Context, r *kgo.Record) error {
		time.Sleep(time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		last[r.Partition] = r.Offset
		if n++; n == 400 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	offs, err := admin(t).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p, off := range last {
		o, _ := offs.Lookup(topic, p)
		if o.At != off+1 {
			t.Errorf("partition %d: committed %d, last handled %d", p, o.At, off)
		}
	}
	lag, err := c.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, l := range lag {
		total += l.Lag
	}
	if want := int64(900 - n); total != want {
		t.Errorf("Lag sums to %d, want %d unhandled records: %+v", total, want, lag)
	}

	// A new member resumes exactly after the handled records.
	c2, err := consumer.New(eoskit.Conn{Brokers: shared.Bootstrap()}, consumer.WithGroup(group),
		consumer.WithTopics(topic), consumer.StartAtEarliest())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	rctx2, cancel2 := context.WithCancel(ctx)
	rest := 0
	err = c2.Run(rctx2, func(_ context.Context, r *kgo.Record) error {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := last[r.Partition]; ok && r.Offset <= prev {
			t.Errorf("partition %d offset %d handled again after a graceful shutdown", r.Partition, r.Offset)
		}
		if rest++; rest == 900-n {
			cancel2()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
}

// TestPositionLostStops: a committed offset far past the log end must stop
// Run with ErrPositionLost; nothing handled, the commit untouched.
func TestPositionLostStops(t *testing.T) {
	topic, group := integration.UniqueName(t, "t"), integration.UniqueName(t, "g")
	createTopic(t, topic, 1)
	ctx := integration.Context(t, time.Minute)
	produce(ctx, t, topic, 0, 10)
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1_000_000, LeaderEpoch: -1})
	if _, err := admin(t).CommitOffsets(ctx, group, os); err != nil {
		t.Fatal(err)
	}
	c, err := consumer.New(eoskit.Conn{Brokers: shared.Bootstrap()}, consumer.WithGroup(group),
		consumer.WithTopics(topic), consumer.StartAtEarliest())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	handled := 0
	err = c.Run(ctx, func(context.Context, *kgo.Record) error { handled++; return nil })
	if !errors.Is(err, eoskit.ErrPositionLost) {
		t.Fatalf("Run: %v, want ErrPositionLost", err)
	}
	offs, err := admin(t).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup(topic, 0); o.At != 1_000_000 || handled != 0 {
		t.Fatalf("committed %d, handled %d: the consumer moved", o.At, handled)
	}
}
