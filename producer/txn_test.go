package producer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/producer"
)

// readUntil reads topic from the start with the isolation level until it sees
// the value stop, and returns the values before it.
func readUntil(t *testing.T, addrs []string, topic string, iso kgo.IsolationLevel, stop string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(iso), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: did not see %q; read %v", topic, stop, out)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == stop {
				done = true
			}
			if !done {
				out = append(out, string(r.Value))
			}
		})
		if done {
			return out
		}
	}
}

func TestRunCommitsAbortsAndRepanics(t *testing.T) {
	c := fake(t, "out")
	ctx := ctxT(t)
	h := &hookRec{}
	p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: c.ListenAddrs()}, "txn-run", producer.WithHooks(h),
		producer.WithPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	rec := func(v string) *kgo.Record { return &kgo.Record{Topic: "out", Partition: 0, Value: []byte(v)} }

	if err := p.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("committed-1")) }); err != nil {
		t.Fatalf("Run commit: %v", err)
	}
	boom := errors.New("boom")
	err = p.Run(ctx, func(tx *producer.Tx) error {
		if err := tx.Produce(ctx, rec("aborted-1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !errors.Is(err, producer.ErrAborted) {
		t.Fatalf("Run with failing fn: %v, want boom and ErrAborted", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "panic-value" {
				t.Fatalf("recovered %v, want the original panic", r)
			}
		}()
		_ = p.Run(ctx, func(tx *producer.Tx) error {
			tx.ProduceAsync(ctx, rec("aborted-2"), nil)
			if err := tx.Produce(ctx, rec("aborted-3")); err != nil {
				return err
			}
			panic("panic-value")
		})
	}()
	// Explicit API.
	tx, err := p.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Begin(); !errors.Is(err, producer.ErrTxnState) {
		t.Fatalf("second Begin: %v, want ErrTxnState", err)
	}
	if err := tx.Produce(ctx, rec("committed-2"), rec("stop")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Produce(ctx, rec("late")); !errors.Is(err, producer.ErrTxnState) {
		t.Fatalf("Produce after Commit: %v, want ErrTxnState", err)
	}

	got := fmt.Sprint(readUntil(t, c.ListenAddrs(), "out", kgo.ReadCommitted(), "stop"))
	if want := "[committed-1 committed-2]"; got != want {
		t.Fatalf("read_committed saw %s, want %s", got, want)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var ends []string
	for _, e := range h.ends {
		ends = append(ends, fmt.Sprintf("%v/%v/%d", e.Outcome, e.Reason, e.Outputs))
		if e.TransactionalID != "txn-run" || e.ProducerID < 0 || e.Began.IsZero() || e.Duration <= 0 {
			t.Errorf("TxnEnd %+v lacks the ID, producer ID, begin time or duration", e)
		}
	}
	if want := "[committed//1 aborted/handler_error/1 aborted/handler_error/2 committed//2]"; fmt.Sprint(ends) != want {
		t.Fatalf("HookTxnEnd saw %v, want %s", ends, want)
	}
}

func TestSecondProducerFencesFirst(t *testing.T) {
	c := fake(t, "out")
	ctx := ctxT(t)
	conn := eoskit.Conn{Brokers: c.ListenAddrs()}
	first, err := producer.NewTransactional(ctx, conn, "txn-fence")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(ctx)
	produce := func(tx *producer.Tx) error {
		return tx.Produce(ctx, &kgo.Record{Topic: "out", Value: []byte("v")})
	}
	if err := first.Run(ctx, produce); err != nil {
		t.Fatal(err)
	}
	second, err := producer.NewTransactional(ctx, conn, "txn-fence")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(ctx)
	if err := first.Run(ctx, produce); !errors.Is(err, eoskit.ErrFenced) {
		t.Fatalf("fenced producer's Run: %v, want ErrFenced", err)
	}
	if _, err := first.Begin(); !errors.Is(err, eoskit.ErrFenced) {
		t.Fatalf("Begin after fencing: %v, want ErrFenced (fatal)", err)
	}
	if err := second.Run(ctx, produce); err != nil {
		t.Fatalf("new owner: %v", err)
	}
}

// TestUnknownCommitOutcomeReinitialises drops every EndTxn connection until
// Commit's context expires: the outcome is unknown. The producer must report
// ErrCommitOutcomeUnknown, move to a new epoch with InitProducerID, and never
// send an EndTxn for the old epoch afterwards (KAFKA-17754).
func TestUnknownCommitOutcomeReinitialises(t *testing.T) {
	c := fake(t, "out")
	ctx := ctxT(t)
	p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond })}}, "txn-unknown",
		producer.WithPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	_, epoch0, err := p.Client().ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var dropping atomic.Bool
	dropping.Store(true)
	var oldEpochEnds, inits atomic.Int32
	c.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if dropping.Load() {
			return nil, errors.New("drop the connection"), true
		}
		if kr.(*kmsg.EndTxnRequest).ProducerEpoch == epoch0 {
			oldEpochEnds.Add(1)
		}
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		inits.Add(1)
		return nil, nil, false
	})

	tx, err := p.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Produce(ctx, &kgo.Record{Topic: "out", Value: []byte("maybe")}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = tx.Commit(cctx)
	cancel()
	dropping.Store(false)
	if !errors.Is(err, eoskit.ErrCommitOutcomeUnknown) {
		t.Fatalf("Commit with lost EndTxn answers: %v, want ErrCommitOutcomeUnknown", err)
	}
	if inits.Load() == 0 {
		t.Fatalf("no InitProducerID after the unknown outcome")
	}
	if _, epoch1, err := p.Client().ProducerID(ctx); err != nil || epoch1 <= epoch0 {
		t.Fatalf("epoch after re-initialisation %d (err %v), want > %d", epoch1, err, epoch0)
	}
	if err := p.Run(ctx, func(tx *producer.Tx) error {
		return tx.Produce(ctx, &kgo.Record{Topic: "out", Partition: 0, Value: []byte("after")}, &kgo.Record{Topic: "out", Partition: 0, Value: []byte("stop")})
	}); err != nil {
		t.Fatalf("next transaction: %v", err)
	}
	if n := oldEpochEnds.Load(); n != 0 {
		t.Fatalf("%d EndTxn requests sent on the old epoch after the unknown outcome", n)
	}
	// The commit never landed: the re-initialisation aborted it.
	if got := fmt.Sprint(readUntil(t, c.ListenAddrs(), "out", kgo.ReadCommitted(), "stop")); got != "[after]" {
		t.Fatalf("read_committed saw %s, want [after]", got)
	}
}

// TestInvalidTxnStateOnCommitRecovers (#12 item 6, KAFKA-20785): the
// coordinator answers the commit INVALID_TXN_STATE. Commit reports
// ErrAborted (safe to retry), so the next Run must commit: the producer
// re-initialises its producer ID instead of failing every later Begin.
func TestInvalidTxnStateOnCommitRecovers(t *testing.T) {
	c := fake(t, "out")
	ctx := ctxT(t)
	p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: c.ListenAddrs()}, "txn-invalid-state",
		producer.WithPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	var injected atomic.Int32
	c.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.EndTxnRequest)
		if !req.Commit {
			return nil, nil, false // let aborts through (and keep this control)
		}
		injected.Add(1)
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.InvalidTxnState.Code
		return resp, nil, true
	})
	rec := func(v string) *kgo.Record { return &kgo.Record{Topic: "out", Partition: 0, Value: []byte(v)} }
	err = p.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("refused")) })
	if !errors.Is(err, producer.ErrAborted) || injected.Load() != 1 {
		t.Fatalf("commit answered INVALID_TXN_STATE (%d injected): %v, want ErrAborted", injected.Load(), err)
	}
	for i := range 2 {
		if err := p.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec(fmt.Sprintf("after-%d", i))) }); err != nil {
			t.Fatalf("Run %d after the refused commit: %v", i, err)
		}
	}
	if err := p.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("stop")) }); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(readUntil(t, c.ListenAddrs(), "out", kgo.ReadCommitted(), "stop"))
	if want := "[after-0 after-1]"; got != want {
		t.Fatalf("read_committed saw %s, want %s", got, want)
	}
}

// TestInvalidTxnStateAfterNewerOwnerFences: a newer instance initialised
// the transactional ID while this producer's transaction was open, and the
// coordinator answered the old producer's commit INVALID_TXN_STATE (what
// transaction.version 2 answers when the newcomer's initialisation aborted
// the transaction between its two bumps). The old producer must ask with
// its own producer ID and epoch (KIP-360) and, answered PRODUCER_FENCED,
// be fenced, instead of initialising afresh and fencing the newer owner.
// kfake accepts stale epochs in KIP-360 requests, so the coordinator's
// answer is injected; the newer owner is a real second producer.
func TestInvalidTxnStateAfterNewerOwnerFences(t *testing.T) {
	c := fake(t, "out")
	ctx := ctxT(t)
	conn := eoskit.Conn{Brokers: c.ListenAddrs()}
	const id = "txn-newer-owner"
	old, err := producer.NewTransactional(ctx, conn, id, producer.WithPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)
	oldID, oldEpoch, err := old.Client().ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(v string) *kgo.Record { return &kgo.Record{Topic: "out", Partition: 0, Value: []byte(v)} }
	tx, err := old.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Produce(ctx, rec("old")); err != nil {
		t.Fatal(err)
	}
	newer, err := producer.NewTransactional(ctx, conn, id, producer.WithPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close(ctx)
	var refused, asked, plainInits atomic.Int32
	c.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.EndTxnRequest)
		if !req.Commit || req.ProducerID != oldID || req.ProducerEpoch != oldEpoch {
			return nil, nil, false
		}
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.InvalidTxnState.Code
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.InitProducerID), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.InitProducerIDRequest)
		if req.ProducerID < 0 {
			plainInits.Add(1)
			return nil, nil, false
		}
		if req.ProducerID != oldID || req.ProducerEpoch != oldEpoch {
			return nil, nil, false
		}
		asked.Add(1)
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.ProducerFenced.Code
		return resp, nil, true
	})
	err = tx.Commit(ctx)
	if !errors.Is(err, eoskit.ErrFenced) || refused.Load() != 1 || asked.Load() != 1 {
		t.Fatalf("commit refused %d time(s), re-initialisation at the old epoch asked %d time(s): %v, want ErrFenced after one of each",
			refused.Load(), asked.Load(), err)
	}
	if n := plainInits.Load(); n != 0 {
		t.Fatalf("the fenced producer sent %d InitProducerID without its producer ID (taking the ID back)", n)
	}
	if _, err := old.Begin(); !errors.Is(err, eoskit.ErrFenced) {
		t.Fatalf("fenced producer's next Begin: %v, want ErrFenced", err)
	}
	if err := newer.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("newer"), rec("stop")) }); err != nil {
		t.Fatalf("the newer owner cannot commit: %v", err)
	}
	if got, want := fmt.Sprint(readUntil(t, c.ListenAddrs(), "out", kgo.ReadCommitted(), "stop")), "[newer]"; got != want {
		t.Fatalf("read_committed saw %s, want %s", got, want)
	}
}

// TestCommitAnswerLostAfterCommitLanded (#12, the TV2 commit-retry branch):
// the broker applies the commit but its answer never reaches the client
// (the EndTxn is held until Commit's context expired, then applied). On
// transaction.version 2 the commit bumped the epoch, so the re-initialising
// InitProducerID is answered PRODUCER_FENCED; the producer then retries the
// commit on its own epoch (KIP-890 answers it as a retry) and Commit
// returns nil. The record is visible exactly once and the next transaction
// commits. TestUnknownCommitOutcomeReinitialises covers the other order
// (the answer is lost before the commit landed).
func TestCommitAnswerLostAfterCommitLanded(t *testing.T) {
	c := fake(t, "out")
	ctx := ctxT(t)
	p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond })}}, "txn-landed",
		producer.WithPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	pid0, epoch0, err := p.Client().ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var commits, fencedAnswers atomic.Int32
	landed := make(chan struct{})
	c.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.EndTxnRequest)
		if req.Commit && req.ProducerID == pid0 && req.ProducerEpoch == epoch0 {
			if commits.Add(1) == 1 {
				// Apply the first commit only after the client gave up on it.
				c.SleepControl(func() { <-cctx.Done() })
				close(landed) // kfake applies it when this control returns
			}
		}
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.InitProducerID), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.InitProducerIDRequest)
		if commits.Load() == 1 && req.ProducerID == pid0 && req.ProducerEpoch == epoch0 && fencedAnswers.Add(1) == 1 {
			// The re-initialisation comes after the commit landed (it may
			// arrive on another connection while the commit is held). A
			// transaction.version 2 broker answers an InitProducerID on
			// the epoch its commit moved past with PRODUCER_FENCED; kfake
			// accepts stale epochs, so give the broker's answer here.
			c.SleepControl(func() { <-landed; time.Sleep(200 * time.Millisecond) })
			resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
			resp.ErrorCode = kerr.ProducerFenced.Code
			return resp, nil, true
		}
		return nil, nil, false
	})
	tx, err := p.Begin()
	if err != nil {
		t.Fatal(err)
	}
	rec := func(v string) *kgo.Record { return &kgo.Record{Topic: "out", Partition: 0, Value: []byte(v)} }
	if err := tx.Produce(ctx, rec("landed")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(cctx); err != nil {
		t.Fatalf("Commit whose answer was lost after it landed: %v, want nil (confirmed by the KIP-890 retry)", err)
	}
	if commits.Load() != 2 || fencedAnswers.Load() != 1 {
		t.Fatalf("EndTxn commits on epoch %d: %d (want 2: the held one and its KIP-890 retry); PRODUCER_FENCED re-initialisations %d (want 1)",
			epoch0, commits.Load(), fencedAnswers.Load())
	}
	if _, epoch1, err := p.Client().ProducerID(ctx); err != nil || epoch1 <= epoch0 {
		t.Fatalf("epoch after the confirmed commit %d (err %v), want > %d", epoch1, err, epoch0)
	}
	if err := p.Run(ctx, func(tx *producer.Tx) error { return tx.Produce(ctx, rec("next"), rec("stop")) }); err != nil {
		t.Fatalf("next transaction: %v", err)
	}
	got := fmt.Sprint(readUntil(t, c.ListenAddrs(), "out", kgo.ReadCommitted(), "stop"))
	if want := "[landed next]"; got != want {
		t.Fatalf("read_committed saw %s, want %s", got, want)
	}
}

// TestAsyncFailureAbortsCommit: a record produced with ProduceAsync that
// fails (unknown topic) reaches its callback mapped, and dooms the
// transaction: Commit aborts and returns ErrAborted wrapping the reason,
// with or without a callback on the failed record, and with or without a
// produce hook (which sees every outcome, mapped, on each path).
func TestAsyncFailureAbortsCommit(t *testing.T) {
	for _, hooked := range []bool{false, true} {
		t.Run(fmt.Sprintf("hooks=%v", hooked), func(t *testing.T) { asyncFailureAbortsCommit(t, hooked) })
	}
}

func asyncFailureAbortsCommit(t *testing.T, hooked bool) {
	c := fake(t, "out")
	ctx := ctxT(t)
	var seen produceLog
	opts := []producer.Opt{producer.WithPartitioner(kgo.ManualPartitioner())}
	if hooked {
		opts = append(opts, producer.WithHooks(&seen))
	}
	p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{
		kgo.MetadataMinAge(10 * time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond })}},
		"txn-async-fail", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	for _, withCallback := range []bool{true, false} {
		tx, err := p.Begin()
		if err != nil {
			t.Fatal(err)
		}
		var cbErr error
		var cb func(*kgo.Record, error)
		if withCallback {
			cb = func(_ *kgo.Record, err error) { cbErr = err }
		}
		tx.ProduceAsync(ctx, &kgo.Record{Topic: "out", Value: []byte("fine")}, nil)
		tx.ProduceAsync(ctx, &kgo.Record{Topic: "missing", Value: []byte("lost")}, cb)
		err = tx.Commit(ctx)
		if !errors.Is(err, producer.ErrAborted) || !errors.Is(err, producer.ErrUnknownTopic) {
			t.Fatalf("callback %v: Commit %v, want ErrAborted wrapping ErrUnknownTopic", withCallback, err)
		}
		if withCallback && !errors.Is(cbErr, producer.ErrUnknownTopic) {
			t.Fatalf("callback got %v, want ErrUnknownTopic", cbErr)
		}
	}
	if err := p.Run(ctx, func(tx *producer.Tx) error {
		return tx.Produce(ctx, &kgo.Record{Topic: "out", Value: []byte("ok")}, &kgo.Record{Topic: "out", Value: []byte("stop")})
	}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readUntil(t, c.ListenAddrs(), "out", kgo.ReadCommitted(), "stop")); got != "[ok]" {
		t.Fatalf("read_committed saw %s, want [ok]", got)
	}
	want := "[]"
	if hooked {
		want = "[fine:ok fine:ok lost:unknown-topic lost:unknown-topic ok:ok stop:ok]"
	}
	if got := seen.sorted(); got != want {
		t.Fatalf("produce hook saw %s, want %s", got, want)
	}
}

// produceLog is an eoskit.HookProduce that records each outcome as
// value:ok or value:unknown-topic (or the error).
type produceLog struct {
	mu  sync.Mutex
	out []string
}

func (l *produceLog) OnProduce(e eoskit.Produced) {
	o := "ok"
	switch {
	case errors.Is(e.Err, producer.ErrUnknownTopic):
		o = "unknown-topic"
	case e.Err != nil:
		o = e.Err.Error()
	}
	l.mu.Lock()
	l.out = append(l.out, string(e.Record.Value)+":"+o)
	l.mu.Unlock()
}

// sorted returns the outcomes in sorted order (outcomes of different
// partitions and topics arrive in any order).
func (l *produceLog) sorted() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(slices.Sorted(slices.Values(l.out)))
}

// TestProduceAsyncHooks: the idempotent producer's ProduceAsync reports
// every outcome, mapped, to the produce hooks, with done (which sees the
// same) and without (the callback built once per producer).
func TestProduceAsyncHooks(t *testing.T) {
	c := fake(t, "out")
	ctx := ctxT(t)
	var seen produceLog
	p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{
		kgo.MetadataMinAge(10 * time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond })}},
		producer.WithHooks(&seen))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	var doneErrs []error
	var mu sync.Mutex
	done := func(_ *kgo.Record, err error) { mu.Lock(); doneErrs = append(doneErrs, err); mu.Unlock() }
	p.ProduceAsync(ctx, &kgo.Record{Topic: "out", Value: []byte("a")}, nil)
	p.ProduceAsync(ctx, &kgo.Record{Topic: "missing", Value: []byte("b")}, nil)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p.ProduceAsync(ctx, &kgo.Record{Topic: "out", Value: []byte("c")}, done)
	p.ProduceAsync(ctx, &kgo.Record{Topic: "missing", Value: []byte("d")}, done)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := seen.sorted(), "[a:ok b:unknown-topic c:ok d:unknown-topic]"; got != want {
		t.Fatalf("produce hook saw %v, want %s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(doneErrs) != 2 || (doneErrs[0] == nil) == (doneErrs[1] == nil) {
		t.Fatalf("done saw %v, want one nil and one ErrUnknownTopic", doneErrs)
	}
	for _, err := range doneErrs {
		if err != nil && !errors.Is(err, producer.ErrUnknownTopic) {
			t.Fatalf("done saw %v, want ErrUnknownTopic", err)
		}
	}
}
