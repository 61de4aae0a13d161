package txn_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
)

// runTally counts the runs a HookHandledRun was given and their calls.
type runTally struct {
	mu          sync.Mutex
	runs, inRun int
}

func (h *runTally) OnHandledRun(e eoskit.HandledRun) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs++
	h.inRun += e.Calls
}

// runHook takes handler calls one by one and as runs.
type runHook struct {
	runTally
	ok, untimedOK int
	untimedOdd    int // untimed calls one by one on odd offsets
}

func (h *runHook) OnHandled(e eoskit.Handled) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Err == nil && e.Attempt == 1 {
		h.ok++
		if e.Untimed {
			h.untimedOK++
			if e.Record.Offset%2 == 1 {
				h.untimedOdd++
			}
		}
	}
}

// ctxHook changes handler contexts (HookRecordContext), as a tracer does.
type ctxHook struct{}

type ctxKey struct{}

func (ctxHook) OnRecordContext(ctx context.Context, _ *kgo.Record) context.Context {
	return context.WithValue(ctx, ctxKey{}, true)
}

// oddCtxHook changes the context of records at odd offsets only, as a
// tracer that samples some records and starts no span for the others.
type oddCtxHook struct{}

func (oddCtxHook) OnRecordContext(ctx context.Context, r *kgo.Record) context.Context {
	if r.Offset%2 == 1 {
		return context.WithValue(ctx, ctxKey{}, true)
	}
	return ctx
}

// TestHandledRuns: a Processor with a per-record handler reports quiet
// calls as runs when every HookHandled takes them, except calls whose
// context a record-context hook changed (a span to end): those go one by
// one. Either way each call is seen once.
func TestHandledRuns(t *testing.T) {
	const n = 600
	for _, ctxHooks := range []string{"", "every", "odd"} {
		name := "runs"
		if ctxHooks != "" {
			name = "a record-context hook changing " + ctxHooks + " context"
		}
		t.Run(name, func(t *testing.T) {
			in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
			c := fake(t, map[string]int32{in: 2, out: 1})
			addrs := c.ListenAddrs()
			produceValues(t, addrs, in, 0, n)
			h := &runHook{}
			hs := []eoskit.Hook{h}
			switch ctxHooks {
			case "every":
				hs = append(hs, ctxHook{})
			case "odd":
				hs = append(hs, oddCtxHook{})
			}
			p, err := txn.New(kconn(addrs), txn.Copy(out), procOpts(addrs, group, in, "runs", txn.WithHooks(hs...), txn.WithMaxTxnRecords(100))...)
			if err != nil {
				t.Fatal(err)
			}
			copyAndStop(t, addrs, p, group, in, out)
			if s := p.Stats(); s.TxnsAborted != 0 || s.SessionRestarts != 0 {
				t.Fatalf("stats %+v: the counts below assume each record handled once", s)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.ok+h.inRun != n {
				t.Errorf("%d calls one by one + %d in runs, want %d", h.ok, h.inRun, n)
			}
			switch ctxHooks {
			case "every":
				if h.runs != 0 {
					t.Errorf("%d runs with a record-context hook changing every context, want none", h.runs)
				}
				return
			case "odd":
				// Odd offsets: one by one (about n/2 of them, at most 1 in
				// 64 timed); even ones: in runs unless timed.
				if h.runs == 0 || h.untimedOK != h.untimedOdd || h.untimedOdd < n/2-n/64-2 || h.inRun < n/2-n/64-2 {
					t.Errorf("%d runs of %d calls; %d untimed calls one by one, %d of them at odd offsets: want the odd ones one by one, the even ones in runs",
						h.runs, h.inRun, h.untimedOK, h.untimedOdd)
				}
				return
			}
			if h.runs == 0 || h.untimedOK != 0 || h.inRun < n/2 {
				t.Errorf("%d runs of %d calls, %d untimed calls one by one: want most calls in runs, none untimed one by one", h.runs, h.inRun, h.untimedOK)
			}
		})
	}
}

// retryHook counts what TestHandledRunsWithRetries checks: first attempts
// one by one (ok or failed), retries, and calls in runs.
type retryHook struct {
	runTally
	firstOK, firstFailed, retryOK, retryOther int
}

func (h *retryHook) OnHandled(e eoskit.Handled) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case e.Attempt == 1 && e.Err == nil:
		h.firstOK++
	case e.Attempt == 1:
		h.firstFailed++
	case e.Err == nil:
		h.retryOK++
	default:
		h.retryOther++
	}
}

// TestHandledRunsWithRetries: records whose first call fails and whose
// retry succeeds are reported one by one (the failed call and the retry),
// never in a run; the other calls of the same polls still go into runs,
// and every record's first call is seen exactly once.
func TestHandledRunsWithRetries(t *testing.T) {
	const n, every = 600, 50 // the first call on every 50th record fails
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	c := fake(t, map[string]int32{in: 2, out: 1})
	addrs := c.ListenAddrs()
	produceValues(t, addrs, in, 0, n)
	var mu sync.Mutex
	tried := map[[2]int64]bool{}
	copyOut := txn.Copy(out)
	flaky := func(ctx context.Context, r *kgo.Record, emit txn.Emit) error {
		k := [2]int64{int64(r.Partition), r.Offset}
		mu.Lock()
		first := !tried[k]
		tried[k] = true
		mu.Unlock()
		if first && r.Offset%every == every-1 {
			return errors.New("first call fails")
		}
		return copyOut(ctx, r, emit)
	}
	h := &retryHook{}
	p, err := txn.New(kconn(addrs), flaky, procOpts(addrs, group, in, "runs-retry", txn.WithHooks(h), txn.WithHandlerRetries(2), txn.WithMaxTxnRecords(100))...)
	if err != nil {
		t.Fatal(err)
	}
	copyAndStop(t, addrs, p, group, in, out)
	s := p.Stats()
	if s.TxnsAborted != 0 || s.SessionRestarts != 0 {
		t.Fatalf("stats %+v: the counts below assume each record handled once", s)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	mu.Lock()
	failing := 0
	for k := range tried {
		if k[1]%every == every-1 {
			failing++
		}
	}
	mu.Unlock()
	if failing == 0 || s.HandlerRetries != int64(failing) {
		t.Fatalf("%d records whose first call fails, %d retries in Stats: want as many, at least one", failing, s.HandlerRetries)
	}
	if h.firstFailed != failing || h.retryOK != failing || h.retryOther != 0 {
		t.Errorf("one by one: %d failed first calls, %d successful retries, %d other retries; want %d, %d, 0", h.firstFailed, h.retryOK, h.retryOther, failing, failing)
	}
	if h.firstOK+h.inRun+h.firstFailed != n {
		t.Errorf("first calls: %d ok one by one + %d in runs + %d failed = %d, want %d", h.firstOK, h.inRun, h.firstFailed, h.firstOK+h.inRun+h.firstFailed, n)
	}
	if h.runs == 0 || h.inRun < n/2 {
		t.Errorf("%d runs of %d calls: want most calls in runs", h.runs, h.inRun)
	}
}
