package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
)

func fake(t *testing.T, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// seed writes n records per partition with values "p-i".
func seed(t *testing.T, addrs []string, topic string, partitions int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for p := range partitions {
		for i := range n {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, i)})
		}
	}
	if err := cl.ProduceSync(ctxT(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func committed(t *testing.T, addrs []string, group string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	os, err := kadm.NewClient(cl).FetchOffsets(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	os.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
	return out
}

func base(addrs []string, group string, topics ...string) []consumer.Opt {
	return []consumer.Opt{consumer.WithGroup(group), consumer.WithTopics(topics...), consumer.StartAtEarliest()}
}

func TestOptionValidation(t *testing.T) {
	conn := eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}
	ok := base(nil, "g", "t")
	cases := map[string][]consumer.Opt{
		"no group":       {consumer.WithTopics("t"), consumer.StartAtEarliest()},
		"no topics":      {consumer.WithGroup("g"), consumer.StartAtEarliest()},
		"no start":       {consumer.WithGroup("g"), consumer.WithTopics("t")},
		"concurrency 0":  append(ok[:3:3], consumer.WithConcurrency(0)),
		"max pending 0":  append(ok[:3:3], consumer.WithMaxPending(0)),
		"retries < 0":    append(ok[:3:3], consumer.WithRetries(-1, time.Second)),
		"zero grace":     append(ok[:3:3], consumer.WithGracePeriod(0)),
		"nil logger":     append(ok[:3:3], consumer.WithLogger(nil)),
		"zero intervals": append(ok[:3:3], consumer.WithCommitInterval(0)),
	}
	for name, opts := range cases {
		if _, err := consumer.New(conn, opts...); !errors.Is(err, eoskit.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := consumer.New(eoskit.Conn{}, ok...); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Errorf("no brokers: %v, want ErrInvalidOption", err)
	}
	_, err := consumer.New(eoskit.Conn{}, consumer.WithGroup("g"))
	for _, want := range []string{"brokers", "topics", "start position"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q: every problem should be reported at once", err, want)
		}
	}
	c, err := consumer.New(conn, ok...)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestKgoOptsCannotUndoGuarantees (#12 item 7): a franz-go option that
// would undo a guarantee is refused with ErrInvalidOption naming it,
// never silently overridden.
func TestKgoOptsCannotUndoGuarantees(t *testing.T) {
	cb := func(context.Context, *kgo.Client, map[string][]int32) {}
	cases := map[string]kgo.Opt{
		"kgo.FetchIsolationLevel":  kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		"kgo.ConsumeResetOffset":   kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		"kgo.DisableAutoCommit":    kgo.DisableAutoCommit(),
		"kgo.AutoCommitInterval":   kgo.AutoCommitInterval(5 * time.Second),
		"kgo.AutoCommitCallback":   kgo.AutoCommitCallback(func(*kgo.Client, *kmsg.OffsetCommitRequest, *kmsg.OffsetCommitResponse, error) {}),
		"kgo.BlockRebalanceOnPoll": kgo.BlockRebalanceOnPoll(),
		"kgo.OnPartitionsAssigned": kgo.OnPartitionsAssigned(cb),
		"kgo.OnPartitionsRevoked":  kgo.OnPartitionsRevoked(cb),
		"kgo.OnPartitionsLost":     kgo.OnPartitionsLost(cb),
		"kgo.AdjustFetchOffsetsFn": kgo.AdjustFetchOffsetsFn(func(_ context.Context, o map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			return o, nil
		}),
		"kgo.ConsumerGroup":             kgo.ConsumerGroup("other"),
		"kgo.ConsumeTopics":             kgo.ConsumeTopics("other"),
		"kgo.RequireStableFetchOffsets": kgo.RequireStableFetchOffsets(),
		"kgo.TransactionalID":           kgo.TransactionalID("x"),
		"kgo.ConsumeStartOffset":        kgo.ConsumeStartOffset(kgo.NewOffset().AtEnd()),
		"kgo.ConsumeRegex":              kgo.ConsumeRegex(),
		"kgo.AutoCommitMarks":           kgo.AutoCommitMarks(),
		"kgo.OnOffsetsFetched":          kgo.OnOffsetsFetched(func(context.Context, *kgo.Client, *kmsg.OffsetFetchResponse) error { return nil }),
	}
	for name, o := range cases {
		_, err := consumer.New(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}, KgoOpts: []kgo.Opt{o}}, base(nil, "g", "t")...)
		if !errors.Is(err, eoskit.ErrInvalidOption) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want ErrInvalidOption naming %s", name, err, name)
		}
	}
	// franz-go itself refuses direct partitions in a group.
	_, err := consumer.New(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}, KgoOpts: []kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset().AtStart()}})}}, base(nil, "g", "t")...)
	if !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Errorf("kgo.ConsumePartitions: %v, want ErrInvalidOption", err)
	}
	// Tuning stays allowed.
	c, err := consumer.New(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}, KgoOpts: []kgo.Opt{
		kgo.FetchMaxWait(time.Second), kgo.SessionTimeout(20 * time.Second), kgo.FetchIsolationLevel(kgo.ReadCommitted())}}, base(nil, "g", "t")...)
	if err != nil {
		t.Fatalf("tuning options: %v", err)
	}
	c.Close()
}

// TestShutdownCommitsExactlyWhatWasHandled stops after 25 records of a
// partition: the committed offset must be the last handled offset + 1.
func TestShutdownCommitsExactlyWhatWasHandled(t *testing.T) {
	c := fake(t, 3, "t")
	addrs := c.ListenAddrs()
	seed(t, addrs, "t", 3, 100)
	cons, err := consumer.New(eoskit.Conn{Brokers: addrs}, append(base(addrs, "g1", "t"), consumer.WithConcurrency(2), consumer.WithMaxPending(7))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	var mu sync.Mutex
	last := map[int32]int64{}
	total := 0
	err = cons.Run(ctx, func(_ context.Context, r *kgo.Record) error {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := last[r.Partition]; ok && r.Offset != prev+1 || !ok && r.Offset != 0 {
			t.Errorf("partition %d: handled offset %d after %d: out of order or skipped", r.Partition, r.Offset, prev)
		}
		last[r.Partition] = r.Offset
		if total++; total == 150 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := committed(t, addrs, "g1")
	for p, off := range last {
		if got[p] != off+1 {
			t.Errorf("partition %d: committed %d, handled up to %d", p, got[p], off)
		}
	}
	lag, err := cons.Lag(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, l := range lag {
		sum += l.Lag
	}
	if want := int64(300 - total); sum != want || len(lag) != 3 {
		t.Errorf("lag %v sums to %d over %d partitions, want %d over 3", lag, sum, len(lag), want)
	}
}

func TestHandlerErrorRetriesThenStops(t *testing.T) {
	c := fake(t, 1, "t")
	addrs := c.ListenAddrs()
	seed(t, addrs, "t", 1, 20)
	cons, err := consumer.New(eoskit.Conn{Brokers: addrs}, append(base(addrs, "g2", "t"), consumer.WithRetries(2, time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	tries := 0
	poison := errors.New("poison")
	err = cons.Run(ctxT(t), func(_ context.Context, r *kgo.Record) error {
		if r.Offset == 7 {
			tries++
			return poison
		}
		return nil
	})
	var pe *eoskit.PartitionError
	if !errors.Is(err, consumer.ErrHandler) || !errors.Is(err, poison) || !errors.As(err, &pe) || pe.Offset != 7 {
		t.Fatalf("Run: %v, want ErrHandler for offset 7", err)
	}
	if tries != 3 {
		t.Errorf("handler tried %d times, want 1 + 2 retries", tries)
	}
	if got := committed(t, addrs, "g2")[0]; got != 7 {
		t.Errorf("committed %d, want 7: up to, not past, the failed record", got)
	}
}

func TestOnHandlerErrorSkipsDeliberately(t *testing.T) {
	c := fake(t, 1, "t")
	addrs := c.ListenAddrs()
	seed(t, addrs, "t", 1, 10)
	var dead []int64
	ctx, cancel := context.WithCancel(ctxT(t))
	cons, err := consumer.New(eoskit.Conn{Brokers: addrs}, append(base(addrs, "g3", "t"),
		consumer.WithOnHandlerError(func(_ context.Context, r *kgo.Record, err error) error {
			dead = append(dead, r.Offset) // e.g. produce to a dead-letter topic
			return nil
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	err = cons.Run(ctx, func(_ context.Context, r *kgo.Record) error {
		if r.Offset == 9 {
			cancel()
		}
		if r.Offset%4 == 1 {
			return errors.New("bad record")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dead) != "[1 5 9]" {
		t.Errorf("error handler saw %v, want [1 5 9]", dead)
	}
	if got := committed(t, addrs, "g3")[0]; got != 10 {
		t.Errorf("committed %d, want 10", got)
	}
}

// TestOutOfRangePositionIsAnError: the group committed offset 500 on a
// partition with 10 records. The consumer must not reset anywhere.
func TestOutOfRangePositionIsAnError(t *testing.T) {
	c := fake(t, 1, "t")
	addrs := c.ListenAddrs()
	seed(t, addrs, "t", 1, 10)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "t", Partition: 0, At: 500, LeaderEpoch: -1})
	if _, err := kadm.NewClient(cl).CommitOffsets(ctxT(t), "g4", os); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	cons, err := consumer.New(eoskit.Conn{Brokers: addrs}, base(addrs, "g4", "t")...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	handled := 0
	err = cons.Run(ctxT(t), func(context.Context, *kgo.Record) error { handled++; return nil })
	if !errors.Is(err, eoskit.ErrPositionLost) {
		t.Fatalf("Run: %v, want ErrPositionLost", err)
	}
	if handled != 0 {
		t.Fatalf("handled %d records after an out-of-range position", handled)
	}
	if got := committed(t, addrs, "g4")[0]; got != 500 {
		t.Fatalf("committed offset moved to %d", got)
	}
}

func TestRunTwice(t *testing.T) {
	cons, err := consumer.New(eoskit.Conn{Brokers: []string{"127.0.0.1:1"}}, base([]string{"127.0.0.1:1"}, "g", "t")...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = cons.Run(ctx, func(context.Context, *kgo.Record) error { return nil })
	if err := cons.Run(ctx, nil); !errors.Is(err, consumer.ErrRunning) {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
}

// TestConcurrencyBound: 6 partitions, WithConcurrency(2): never more than
// two handlers at once, two at once at some point, and every partition
// handled to its end (no partition starves while others hold the slots).
func TestConcurrencyBound(t *testing.T) {
	const parts, perPart = 6, 60
	c := fake(t, parts, "t")
	addrs := c.ListenAddrs()
	seed(t, addrs, "t", parts, perPart)
	cons, err := consumer.New(eoskit.Conn{Brokers: addrs}, append(base(addrs, "g", "t"), consumer.WithConcurrency(2))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	var (
		mu                sync.Mutex
		inFlight, most, n int
	)
	err = cons.Run(ctx, func(context.Context, *kgo.Record) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(200 * time.Microsecond)
		mu.Lock()
		defer mu.Unlock()
		inFlight--
		if n++; n == parts*perPart {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if most != 2 {
		t.Errorf("at most %d handlers ran at once, want exactly 2 (WithConcurrency(2))", most)
	}
	if n != parts*perPart {
		t.Errorf("%d records handled, want %d", n, parts*perPart)
	}
}
