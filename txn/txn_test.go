package txn_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
)

func TestNewValidates(t *testing.T) {
	conn := eoskit.Conn{Brokers: []string{"localhost:9092"}}
	ok := []txn.Opt{txn.WithGroup("g"), txn.WithTopics("in"), txn.WithTransactionalID("id")}
	if _, err := txn.New(conn, txn.Copy("out"), ok...); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for name, tc := range map[string]struct {
		conn eoskit.Conn
		opts []txn.Opt
		want string
	}{
		"no brokers":    {eoskit.Conn{}, ok, "no seed brokers"},
		"no group":      {conn, []txn.Opt{txn.WithTopics("in"), txn.WithTransactionalID("id")}, "WithGroup"},
		"no topics":     {conn, []txn.Opt{txn.WithGroup("g"), txn.WithTransactionalID("id")}, "WithTopics"},
		"no txn id":     {conn, []txn.Opt{txn.WithGroup("g"), txn.WithTopics("in")}, "WithTransactionalID"},
		"zero records":  {conn, append(ok[:3:3], txn.WithMaxTxnRecords(0)), "WithMaxTxnRecords(0)"},
		"poll records":  {conn, append(ok[:3:3], txn.WithMaxPollRecords(-1)), "WithMaxPollRecords(-1)"},
		"interval":      {conn, append(ok[:3:3], txn.WithCommitInterval(time.Minute)), "well below"},
		"retries":       {conn, append(ok[:3:3], txn.WithHandlerRetries(-1)), "WithHandlerRetries(-1)"},
		"dlq is input":  {conn, append(ok[:3:3], txn.WithDeadLetterTopic("in")), "also an input topic"},
		"nil logger":    {conn, append(ok[:3:3], txn.WithLogger(nil)), "WithLogger(nil)"},
		"short timeout": {conn, append(ok[:3:3], txn.WithTransactionTimeout(time.Millisecond)), "at least 1s"},
	} {
		_, err := txn.New(tc.conn, txn.Copy("out"), tc.opts...)
		if !errors.Is(err, eoskit.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInvalidOption saying %q", name, err, tc.want)
		}
	}
	// Every problem at once.
	_, err := txn.New(eoskit.Conn{}, nil, txn.WithMaxTxnRecords(0))
	var oe *eoskit.OptionError
	if !errors.As(err, &oe) || len(oe.Problems) != 6 {
		t.Fatalf("got %v, want six problems (handler, brokers, group, topics, txn ID, record limit)", err)
	}
}

// Conn.KgoOpts may not change what exactly-once rests on: New names each
// such option (item 7 of the hardening issue), and rejects what franz-go
// rejects.
func TestNewRefusesUnsafeKgoOpts(t *testing.T) {
	ok := []txn.Opt{txn.WithGroup("g"), txn.WithTopics("in"), txn.WithTransactionalID("id")}
	for name, o := range map[string]kgo.Opt{
		"kgo.FetchIsolationLevel":  kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		"kgo.TransactionalID":      kgo.TransactionalID("other"),
		"kgo.BlockRebalanceOnPoll": kgo.BlockRebalanceOnPoll(),
		"kgo.ConsumeResetOffset":   kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		"kgo.ConsumerGroup":        kgo.ConsumerGroup("other"),
		"kgo.ConsumeTopics":        kgo.ConsumeTopics("other"),
		"kgo.ConsumeRegex":         kgo.ConsumeRegex(),
		"kgo.ConsumeStartOffset":   kgo.ConsumeStartOffset(kgo.NewOffset().AtEnd()),
		"kgo.TransactionTimeout":   kgo.TransactionTimeout(time.Hour),
		"kgo.OnPartitionsAssigned": kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {}),
		"kgo.OnPartitionsRevoked":  kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {}),
		"kgo.OnPartitionsLost":     kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) {}),
		"kgo.AdjustFetchOffsetsFn": kgo.AdjustFetchOffsetsFn(func(_ context.Context, o map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			return o, nil
		}),
		"disable idempotent writes": kgo.DisableIdempotentWrite(), // franz-go refuses it with a transactional ID
		"franz-go rejects":          kgo.MaxProduceRequestsInflightPerBroker(0),
	} {
		conn := eoskit.Conn{Brokers: []string{"localhost:9092"}, KgoOpts: []kgo.Opt{kgo.ProducerLinger(0), o}}
		_, err := txn.New(conn, txn.Copy("out"), ok...)
		if !errors.Is(err, eoskit.ErrInvalidOption) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: New returned %v, want ErrInvalidOption naming it", name, err)
		}
	}
	conn := eoskit.Conn{Brokers: []string{"localhost:9092"}, KgoOpts: []kgo.Opt{kgo.ProducerLinger(0), kgo.FetchMaxBytes(1 << 20)}}
	if _, err := txn.New(conn, txn.Copy("out"), ok...); err != nil {
		t.Fatalf("tuning options refused: %v", err)
	}
}

func TestSourceFormat(t *testing.T) {
	r := &kgo.Record{Topic: "in", Partition: 2, Offset: 1234}
	if got := txn.Source(r); got != "in/2/1234" {
		t.Fatalf("Source = %q", got)
	}
	if txn.ProvenanceHeader != "eoskit-source" {
		t.Fatalf("ProvenanceHeader changed: the verifier matches on %q", "eoskit-source")
	}
}

func procOpts(_ []string, group, in, id string, extra ...txn.Opt) []txn.Opt {
	return append([]txn.Opt{txn.WithGroup(group), txn.WithTopics(in), txn.WithTransactionalID(id),
		txn.WithRetryBackoff(10 * time.Millisecond), txn.WithMaxBackoff(200 * time.Millisecond)}, extra...)
}

// Two processors copy 3000 records; outputs match inputs one to one by
// provenance, and the committed offsets reach the end of the input.
func TestCopyExactlyOnceKfake(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 4, out: 3})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, 1500)
	var procs []*txn.Processor
	for i := range 2 {
		p, err := txn.New(kconn(addrs), txn.Copy(out), procOpts(addrs, group, in, "copier-"+strconv.Itoa(i), txn.WithMaxTxnRecords(200))...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		runProc(t, p)
	}
	produceValues(t, addrs, in, 1500, 1500)
	waitCommitted(t, addrs, group, in)
	exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
	var s txn.Stats
	for _, p := range procs {
		ps := p.Stats()
		s.RecordsIn += ps.RecordsIn
		s.RecordsOut += ps.RecordsOut
		s.TxnsCommitted += ps.TxnsCommitted
		s.Rebalances += ps.Rebalances
		if ps.CommitLatency.Count != ps.TxnsCommitted || (ps.TxnsCommitted > 0 && ps.CommitLatency.Max <= 0) {
			t.Errorf("latency stats %+v for %d commits", ps.CommitLatency, ps.TxnsCommitted)
		}
	}
	if s.RecordsIn != 3000 || s.RecordsOut != 3000 || s.TxnsCommitted < 15 || s.Rebalances < 2 {
		t.Fatalf("stats: %+v (want 3000 in and out, >= 15 transactions of <= 200, >= 2 assignments)", s)
	}
}

// Cancelling Run commits what was handled, leaves the group, returns nil;
// a second processor in the same group then re-reads nothing.
func TestGracefulShutdownCommitsAndLeaves(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 2, out: 1})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, 500)
	handled := make(chan struct{}, 1000)
	h := func(ctx context.Context, r *kgo.Record, emit txn.Emit) error {
		emit(&kgo.Record{Topic: out, Value: r.Value})
		handled <- struct{}{}
		return nil
	}
	// A long interval and record limit: only shutdown ends the transaction.
	p, err := txn.New(kconn(addrs), h, procOpts(addrs, group, in, "a", txn.WithMaxTxnRecords(100000), txn.WithCommitInterval(20*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	r := runProc(t, p)
	for range 500 {
		<-handled
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if s := p.Stats(); s.TxnsCommitted != 1 || s.RecordsIn != 500 {
		t.Fatalf("stats after shutdown: %+v, want one committed transaction of 500", s)
	}
	adm := kadm.NewClient(client(t, addrs))
	groups, err := adm.DescribeGroups(testCtx(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	if g := groups[group]; len(g.Members) != 0 {
		t.Fatalf("group still has members after shutdown: %+v", g.Members)
	}
	p2, err := txn.New(kconn(addrs), txn.Copy(out), procOpts(addrs, group, in, "a")...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, p2)
	produceValues(t, addrs, in, 500, 10)
	waitCommitted(t, addrs, group, in)
	exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
}

// A rebalance in the middle of a transaction aborts it; the aborted records
// are re-consumed from the committed offsets (not skipped), so the output
// is still exactly once.
func TestAbortRewindsToCommitted(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 4, out: 2})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, 400)
	var slow atomic.Bool
	slow.Store(true)
	h := func(ctx context.Context, r *kgo.Record, emit txn.Emit) error {
		if slow.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		emit(&kgo.Record{Topic: out, Value: r.Value})
		return nil
	}
	a, err := txn.New(kconn(addrs), h, procOpts(addrs, group, in, "a", txn.WithCommitInterval(3*time.Second), txn.WithMaxTxnRecords(1000))...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, a)
	// Wait until a is inside a transaction, then make the group rebalance.
	for a.Stats().Rebalances == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	b, err := txn.New(kconn(addrs), h, procOpts(addrs, group, in, "b")...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, b)
	waitCommitted(t, addrs, group, in)
	slow.Store(false)
	if a.Stats().TxnsAborted+b.Stats().TxnsAborted == 0 {
		t.Fatalf("no transaction aborted: a %+v b %+v", a.Stats(), b.Stats())
	}
	exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
}

// A second instance with the same transactional ID fences the first, whose
// Run returns ErrFenced.
func TestFencedStopsRun(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 1, out: 1})
	addrs := c.ListenAddrs()
	a, err := txn.New(kconn(addrs), txn.Copy(out), procOpts(addrs, group, in, "same", txn.WithMaxTxnRecords(10))...)
	if err != nil {
		t.Fatal(err)
	}
	ra := runProc(t, a)
	produceValues(t, addrs, in, 0, 50)
	waitCommitted(t, addrs, group, in)
	// The zombie's replacement: same transactional ID, another group
	// member (a raw client is enough to bump the epoch).
	z := client(t, addrs, kgo.TransactionalID("same"))
	if _, _, err := z.ProducerID(testCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Keep feeding a until it tries to commit on its stale epoch.
	for i := 0; ; i++ {
		produceValues(t, addrs, in, 50+i*10, 10)
		select {
		case <-ra.done:
			if err := ra.err; !errors.Is(err, eoskit.ErrFenced) {
				t.Fatalf("Run returned %v, want ErrFenced", err)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i > 300 {
			t.Fatal("fenced processor kept running")
		}
	}
}

// The producer ID is initialised when the session starts, before any input
// exists: a replacement fences its zombie without waiting for records.
func TestProducerIDInitialisedAtStart(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 1, out: 1})
	inits := make(chan string, 10)
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if id := req.(*kmsg.InitProducerIDRequest).TransactionalID; id != nil {
			inits <- *id
		}
		return nil, nil, false
	})
	p, err := txn.New(kconn(c.ListenAddrs()), txn.Copy(out), procOpts(c.ListenAddrs(), group, in, "early")...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, p)
	select {
	case id := <-inits:
		if id != "early" {
			t.Fatalf("InitProducerID for %q", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no InitProducerID although the session started (input is empty)")
	}
}

// A committed offset past the end of the input is not reset silently: Run
// stops with ErrOffsetReset.
func TestNoSilentOffsetReset(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 1, out: 1})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, 20)
	adm := kadm.NewClient(client(t, addrs))
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: in, Partition: 0, At: 1000, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(testCtx(t, 10*time.Second), group, os); err != nil {
		t.Fatal(err)
	}
	p, err := txn.New(kconn(addrs), txn.Copy(out), procOpts(addrs, group, in, "r")...)
	if err != nil {
		t.Fatal(err)
	}
	err = runProc(t, p).wait(t, time.Minute)
	if !errors.Is(err, eoskit.ErrPositionLost) || !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("Run returned %v, want ErrOffsetReset wrapping OFFSET_OUT_OF_RANGE", err)
	}
	if got := readCommitted(t, addrs, out); len(got) != 0 {
		t.Fatalf("%d outputs written after an offset reset", len(got))
	}
}

func poisonHandler(out string, calls *atomic.Int64) txn.Handler {
	return func(ctx context.Context, r *kgo.Record, emit txn.Emit) error {
		emit(&kgo.Record{Topic: out, Value: r.Value})
		if string(r.Value) == "v-000007" {
			calls.Add(1)
			return errors.New("cannot parse v-000007")
		}
		return nil
	}
}

// Poison record, stop policy: retried, then Run returns a *HandlerError
// naming the record; the transaction holding it aborted.
func TestPoisonRecordStops(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 1, out: 1})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, 20)
	var calls atomic.Int64
	p, err := txn.New(kconn(addrs), poisonHandler(out, &calls), procOpts(addrs, group, in, "p", txn.WithHandlerRetries(2))...)
	if err != nil {
		t.Fatal(err)
	}
	err = runProc(t, p).wait(t, time.Minute)
	var he *txn.HandlerError
	if !errors.Is(err, txn.ErrHandler) || !errors.As(err, &he) {
		t.Fatalf("Run returned %v, want a *HandlerError", err)
	}
	if he.Topic != in || he.Partition != 0 || he.Offset != 7 || he.Attempts != 3 || calls.Load() != 3 {
		t.Fatalf("HandlerError %+v after %d calls, want %s/0/7 after 3 attempts", he, calls.Load(), in)
	}
	if got := readCommitted(t, addrs, out); len(got) != 0 {
		t.Fatalf("%d outputs visible from the aborted transaction", len(got))
	}
}

// Poison record, dead-letter policy: the record goes to the dead-letter
// topic in the same transaction with headers naming the error and source;
// the outputs of the failed attempts are discarded; the rest is copied.
func TestPoisonRecordDeadLettered(t *testing.T) {
	in, out, dlq, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "dlq"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 1, out: 1, dlq: 1})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, 20)
	var calls atomic.Int64
	p, err := txn.New(kconn(addrs), poisonHandler(out, &calls), procOpts(addrs, group, in, "p", txn.WithHandlerRetries(1), txn.WithDeadLetterTopic(dlq))...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, p)
	waitCommitted(t, addrs, group, in)
	inputs := readCommitted(t, addrs, in)
	outs := readCommitted(t, addrs, out)
	dead := readCommitted(t, addrs, dlq)
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	d := dead[0]
	want := map[string]string{
		txn.DeadLetterError: "cannot parse v-000007", txn.DeadLetterTopicHeader: in,
		txn.DeadLetterPartition: "0", txn.DeadLetterOffset: "7", txn.ProvenanceHeader: in + "/0/7",
	}
	for k, v := range want {
		if got, _ := header(d, k); got != v {
			t.Errorf("dead letter header %s = %q, want %q", k, got, v)
		}
	}
	if string(d.Value) != "v-000007" {
		t.Errorf("dead letter value %q", d.Value)
	}
	exactlyOnce(t, inputs, append(outs, dead...))
	if s := p.Stats(); s.DeadLettered != 1 || s.RecordsOut != 20 {
		t.Fatalf("stats %+v, want 1 dead-lettered and 20 outputs", s)
	}
}

// Provenance(false) leaves outputs without the header; with it on, a header
// copied from an upstream pipeline is replaced, not duplicated.
func TestProvenanceHeader(t *testing.T) {
	in, mid, out, plain := uniq(t, "in"), uniq(t, "mid"), uniq(t, "out"), uniq(t, "plain")
	c := fake(t, map[string]int32{in: 1, mid: 1, out: 1, plain: 1})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, 5)
	for _, pipe := range []struct {
		from, to, group string
		opts            []txn.Opt
	}{
		{in, mid, uniq(t, "g1"), nil},
		{mid, out, uniq(t, "g2"), nil},
		{in, plain, uniq(t, "g3"), []txn.Opt{txn.WithProvenance(false)}},
	} {
		p, err := txn.New(kconn(addrs), txn.Copy(pipe.to), procOpts(addrs, pipe.group, pipe.from, pipe.group, pipe.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		runProc(t, p)
		waitCommitted(t, addrs, pipe.group, pipe.from)
	}
	for _, r := range readCommitted(t, addrs, plain) {
		if _, ok := header(r, txn.ProvenanceHeader); ok {
			t.Fatal("provenance header present with Provenance(false)")
		}
	}
	outs := readCommitted(t, addrs, out)
	if len(outs) != 5 {
		t.Fatalf("%d outputs of the second pipeline, want 5", len(outs))
	}
	for _, r := range outs {
		n := 0
		for _, h := range r.Headers {
			if h.Key == txn.ProvenanceHeader {
				n++
			}
		}
		if src, _ := header(r, txn.ProvenanceHeader); n != 1 || !strings.HasPrefix(src, mid+"/0/") {
			t.Fatalf("output headers %v: want one %s naming %s", r.Headers, txn.ProvenanceHeader, mid)
		}
	}
}

// hookRec records the eoskit hook events a Processor reports.
type hookRec struct {
	mu       sync.Mutex
	ends     []eoskit.TxnEnd
	begins   int
	assigned int
	handled  int
	produced int
	dead     []eoskit.DeadLetter
}

func (h *hookRec) OnTxnEnd(e eoskit.TxnEnd)   { h.mu.Lock(); h.ends = append(h.ends, e); h.mu.Unlock() }
func (h *hookRec) OnTxnBegin(eoskit.TxnBegin) { h.mu.Lock(); h.begins++; h.mu.Unlock() }
func (h *hookRec) OnAssigned(eoskit.Assignment) {
	h.mu.Lock()
	h.assigned++
	h.mu.Unlock()
}
func (h *hookRec) OnHandled(eoskit.Handled)  { h.mu.Lock(); h.handled++; h.mu.Unlock() }
func (h *hookRec) OnProduce(eoskit.Produced) { h.mu.Lock(); h.produced++; h.mu.Unlock() }
func (h *hookRec) OnDeadLetter(d eoskit.DeadLetter) {
	h.mu.Lock()
	h.dead = append(h.dead, d)
	h.mu.Unlock()
}

// outcomes counts the ended transactions by outcome.
func (h *hookRec) outcomes() map[eoskit.TxnOutcome]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := map[eoskit.TxnOutcome]int{}
	for _, e := range h.ends {
		m[e.Outcome]++
	}
	return m
}

// The batch form gets whole polls; hooks see every transaction end.
func TestBatchHandlerAndHooks(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 2, out: 1})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, 300)
	var maxBatch atomic.Int64
	h := func(ctx context.Context, recs []*kgo.Record, emit txn.BatchEmit) error {
		maxBatch.Store(max(maxBatch.Load(), int64(len(recs))))
		for _, r := range recs {
			emit(r, &kgo.Record{Topic: out, Value: []byte(strings.ToUpper(string(r.Value)))})
		}
		return nil
	}
	hr := &hookRec{}
	p, err := txn.NewBatch(kconn(addrs), h, procOpts(addrs, group, in, "b", txn.WithHooks(hr), txn.WithMaxTxnRecords(100),
		txn.WithMaxPollRecords(30), txn.WithCommitInterval(time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, p)
	waitCommitted(t, addrs, group, in)
	exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
	if maxBatch.Load() > 30 {
		t.Errorf("batch of %d records with MaxPollRecords(30)", maxBatch.Load())
	}
	hr.mu.Lock()
	defer hr.mu.Unlock()
	var recs, biggest int
	var outs int
	for _, e := range hr.ends {
		if e.Outcome == eoskit.TxnCommitted {
			recs += e.Records
			outs += e.Outputs
			biggest = max(biggest, e.Records)
			if e.TransactionalID != "b" || e.Group != group || e.ProducerID < 0 || e.Duration <= 0 || len(e.Offsets[in]) == 0 {
				t.Errorf("transaction end %+v lacks its identity, duration or offsets", e)
			}
		}
	}
	if recs != 300 || outs != 300 || hr.assigned == 0 || hr.begins < len(hr.ends) || hr.handled == 0 || hr.produced != 300 {
		t.Fatalf("hooks saw %d committed records, %d outputs, %d assignments, %d begins for %d ends, %d handler calls, %d produced",
			recs, outs, hr.assigned, hr.begins, len(hr.ends), hr.handled, hr.produced)
	}
	if biggest <= 30 || biggest > 100 {
		t.Errorf("largest transaction %d records: want several polls of <= 30, at most MaxTxnRecords(100)", biggest)
	}
}

// runRec takes produced runs (eoskit.HookProducedRun) beside OnProduce.
type runRec struct {
	mu                  sync.Mutex
	ok, failed          int // OnProduce calls
	runs, runRecords    int // OnProducedRun calls and their records
	badTxnID, emptyRuns int
	ends                []eoskit.TxnEnd
}

func (h *runRec) OnProduce(e eoskit.Produced) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Err != nil {
		h.failed++
	} else {
		h.ok++
	}
}

func (h *runRec) OnTxnEnd(e eoskit.TxnEnd) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ends = append(h.ends, e)
}

func (h *runRec) OnProducedRun(e eoskit.ProducedRun) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs++
	h.runRecords += e.Records
	if e.TransactionalID != "r" {
		h.badTxnID++
	}
	if e.Records <= 0 {
		h.emptyRuns++
	}
}

// When every produce hook takes runs, a Processor reports a transaction's
// acknowledged outputs as one run and calls OnProduce for none of them;
// with a per-record produce hook beside it, every output reaches OnProduce.
func TestProducedRuns(t *testing.T) {
	for _, perRecord := range []bool{false, true} {
		t.Run(fmt.Sprintf("per-record-hook-too=%v", perRecord), func(t *testing.T) {
			in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
			c := fake(t, map[string]int32{in: 2, out: 2})
			addrs := c.ListenAddrs()
			produceValues(t, addrs, in, 0, 300)
			rr, hr := &runRec{}, &hookRec{}
			hooks := []eoskit.Hook{rr}
			if perRecord {
				hooks = append(hooks, hr)
			}
			p, err := txn.New(kconn(addrs), txn.Copy(out), procOpts(addrs, group, in, "r", txn.WithHooks(hooks...), txn.WithMaxTxnRecords(50))...)
			if err != nil {
				t.Fatal(err)
			}
			copyAndStop(t, addrs, p, group, in, out)
			rr.mu.Lock()
			defer rr.mu.Unlock()
			if rr.failed != 0 || rr.badTxnID != 0 || rr.emptyRuns != 0 {
				t.Fatalf("%d failed produces, %d runs with another transactional ID, %d empty runs; want none", rr.failed, rr.badTxnID, rr.emptyRuns)
			}
			if perRecord {
				if rr.ok != 300 || rr.runs != 0 || hr.produced != 300 {
					t.Fatalf("with a per-record hook: %d OnProduce and %d runs (%d records), the other hook %d OnProduce; want 300, 0, 300", rr.ok, rr.runs, rr.runRecords, hr.produced)
				}
				return
			}
			if rr.ok != 0 || rr.runRecords != 300 || rr.runs < 300/50 {
				t.Fatalf("run-taking hook alone: %d OnProduce, %d runs of %d records; want 0, at least %d runs (one per transaction) of 300", rr.ok, rr.runs, rr.runRecords, 300/50)
			}
		})
	}
}
