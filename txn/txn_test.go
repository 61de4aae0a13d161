package txn_test

import (
	"context"
	"errors"
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

	"github.com/eoskit/eoskit/txn"
)

func TestNewValidates(t *testing.T) {
	ok := []txn.Opt{txn.Brokers("localhost:9092"), txn.Group("g"), txn.Topics("in"), txn.TransactionalID("id")}
	if _, err := txn.New(txn.Copy("out"), ok...); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for name, extra := range map[string][]txn.Opt{
		"no brokers":    {txn.Group("g"), txn.Topics("in"), txn.TransactionalID("id")},
		"no group":      {txn.Brokers("h:1"), txn.Topics("in"), txn.TransactionalID("id")},
		"no topics":     {txn.Brokers("h:1"), txn.Group("g"), txn.TransactionalID("id")},
		"no txn id":     {txn.Brokers("h:1"), txn.Group("g"), txn.Topics("in")},
		"zero records":  append(ok[:4:4], txn.MaxTxnRecords(0)),
		"poll records":  append(ok[:4:4], txn.MaxPollRecords(-1)),
		"interval":      append(ok[:4:4], txn.CommitInterval(time.Minute)),
		"retries":       append(ok[:4:4], txn.HandlerRetries(-1)),
		"dlq is input":  append(ok[:4:4], txn.DeadLetterTopic("in")),
		"nil logger":    append(ok[:4:4], txn.Logger(nil)),
		"short timeout": append(ok[:4:4], txn.TransactionTimeout(time.Millisecond)),
	} {
		if _, err := txn.New(txn.Copy("out"), extra...); !errors.Is(err, txn.ErrInvalidOption) {
			t.Errorf("%s: got %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := txn.New(nil, ok...); !errors.Is(err, txn.ErrInvalidOption) {
		t.Errorf("nil handler: got %v", err)
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

func procOpts(addrs []string, group, in, id string, extra ...txn.Opt) []txn.Opt {
	return append([]txn.Opt{txn.Brokers(addrs...), txn.Group(group), txn.Topics(in), txn.TransactionalID(id),
		txn.RetryBackoff(10 * time.Millisecond), txn.MaxBackoff(200 * time.Millisecond)}, extra...)
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
		p, err := txn.New(txn.Copy(out), procOpts(addrs, group, in, "copier-"+strconv.Itoa(i), txn.MaxTxnRecords(200))...)
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
	p, err := txn.New(h, procOpts(addrs, group, in, "a", txn.MaxTxnRecords(100000), txn.CommitInterval(20*time.Second))...)
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
	p2, err := txn.New(txn.Copy(out), procOpts(addrs, group, in, "a")...)
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
	a, err := txn.New(h, procOpts(addrs, group, in, "a", txn.CommitInterval(3*time.Second), txn.MaxTxnRecords(1000))...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, a)
	// Wait until a is inside a transaction, then make the group rebalance.
	for a.Stats().Rebalances == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	b, err := txn.New(h, procOpts(addrs, group, in, "b")...)
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
	a, err := txn.New(txn.Copy(out), procOpts(addrs, group, in, "same", txn.MaxTxnRecords(10))...)
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
			if err := ra.err; !errors.Is(err, txn.ErrFenced) {
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
	p, err := txn.New(txn.Copy(out), procOpts(c.ListenAddrs(), group, in, "early")...)
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
	p, err := txn.New(txn.Copy(out), procOpts(addrs, group, in, "r")...)
	if err != nil {
		t.Fatal(err)
	}
	err = runProc(t, p).wait(t, time.Minute)
	if !errors.Is(err, txn.ErrOffsetReset) || !errors.Is(err, kerr.OffsetOutOfRange) {
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
	p, err := txn.New(poisonHandler(out, &calls), procOpts(addrs, group, in, "p", txn.HandlerRetries(2))...)
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
	p, err := txn.New(poisonHandler(out, &calls), procOpts(addrs, group, in, "p", txn.HandlerRetries(1), txn.DeadLetterTopic(dlq))...)
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

// An EndTxn failure makes End return an error: the session is rebuilt
// (the new producer epoch aborts the open transaction) and no EndTxn abort
// is ever sent on the epoch whose commit outcome was unknown (KAFKA-17754).
func TestEndErrorRebuildsWithoutAbortOnSameEpoch(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 2, out: 2})
	addrs := c.ListenAddrs()
	type end struct {
		epoch  int16
		commit bool
	}
	var mu sync.Mutex
	var ends []end
	failed := -1
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.EndTxnRequest)
		mu.Lock()
		defer mu.Unlock()
		ends = append(ends, end{r.ProducerEpoch, r.Commit})
		if failed < 0 && r.Commit && len(ends) >= 3 {
			failed = len(ends) - 1
			resp := r.ResponseKind().(*kmsg.EndTxnResponse)
			resp.ErrorCode = kerr.InvalidTxnState.Code // not retriable: End returns it
			return resp, nil, true
		}
		return nil, nil, false
	})
	p, err := txn.New(txn.Copy(out), procOpts(addrs, group, in, "e", txn.MaxTxnRecords(50))...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, p)
	produceValues(t, addrs, in, 0, 1000)
	waitCommitted(t, addrs, group, in)
	exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
	if s := p.Stats(); s.SessionRestarts < 1 {
		t.Fatalf("stats %+v: no session rebuilt after the EndTxn failure", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if failed < 0 {
		t.Fatal("no EndTxn was failed")
	}
	bad := ends[failed].epoch
	for _, e := range ends[failed+1:] {
		if !e.commit && e.epoch == bad {
			t.Fatalf("EndTxn abort sent on epoch %d after its commit outcome was unknown: %v", bad, ends)
		}
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
		{in, plain, uniq(t, "g3"), []txn.Opt{txn.Provenance(false)}},
	} {
		p, err := txn.New(txn.Copy(pipe.to), procOpts(addrs, pipe.group, pipe.from, pipe.group, pipe.opts...)...)
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

type hookRec struct {
	mu       sync.Mutex
	ends     []txn.TxnEnd
	assigned int
}

func (h *hookRec) OnTxnEnd(e txn.TxnEnd) { h.mu.Lock(); h.ends = append(h.ends, e); h.mu.Unlock() }
func (h *hookRec) OnAssigned(map[string][]int32) {
	h.mu.Lock()
	h.assigned++
	h.mu.Unlock()
}
func (h *hookRec) OnRevoked(map[string][]int32) {}

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
	p, err := txn.NewBatch(h, procOpts(addrs, group, in, "b", txn.Hooks(hr), txn.MaxTxnRecords(100),
		txn.MaxPollRecords(30), txn.CommitInterval(time.Second))...)
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
	for _, e := range hr.ends {
		if e.Committed {
			recs += e.Records
			biggest = max(biggest, e.Records)
		}
	}
	if recs != 300 || hr.assigned == 0 {
		t.Fatalf("hooks saw %d committed records and %d assignments", recs, hr.assigned)
	}
	if biggest <= 30 || biggest > 100 {
		t.Errorf("largest transaction %d records: want several polls of <= 30, at most MaxTxnRecords(100)", biggest)
	}
}

// Options franz-go rejects stop Run at once instead of being retried.
func TestRunRejectsInvalidKgoOpts(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 1, out: 1})
	p, err := txn.New(txn.Copy(out), procOpts(c.ListenAddrs(), group, in, "k",
		txn.KgoOpts(kgo.MaxProduceRequestsInflightPerBroker(5)))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := runProc(t, p).wait(t, 30*time.Second); !errors.Is(err, txn.ErrInvalidOption) {
		t.Fatalf("Run returned %v, want ErrInvalidOption", err)
	}
}

// A failed produce aborts its transaction once; the abort's own errors for
// the records it discards must not fail the next transaction (a livelock
// the broker suite found during broker bounces).
func TestProduceErrorAbortsOnce(t *testing.T) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 1, out: 1})
	addrs := c.ListenAddrs()
	var failed atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		if r.TransactionID == nil || failed.Load() {
			return nil, nil, false
		}
		failed.Store(true)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.MessageTooLarge.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	p, err := txn.New(txn.Copy(out), procOpts(addrs, group, in, "f", txn.MaxTxnRecords(20))...)
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, p)
	produceValues(t, addrs, in, 0, 200)
	waitCommitted(t, addrs, group, in)
	exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
	if s := p.Stats(); !failed.Load() || s.TxnsAborted < 1 || s.TxnsAborted > 2 || s.SessionRestarts > 1 {
		t.Fatalf("stats %+v (produce failed: %v): want one or two aborts", s, failed.Load())
	}
}
