package txn_test

import (
	"context"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
)

// runHook takes handler calls one by one and as runs.
type runHook struct {
	mu                         sync.Mutex
	ok, untimedOK, runs, inRun int
}

func (h *runHook) OnHandled(e eoskit.Handled) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Err == nil && e.Attempt == 1 {
		h.ok++
		if e.Untimed {
			h.untimedOK++
		}
	}
}

func (h *runHook) OnHandledRun(e eoskit.HandledRun) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs++
	h.inRun += e.Calls
}

// ctxHook changes handler contexts (HookRecordContext), as a tracer does.
type ctxHook struct{}

type ctxKey struct{}

func (ctxHook) OnRecordContext(ctx context.Context, _ *kgo.Record) context.Context {
	return context.WithValue(ctx, ctxKey{}, true)
}

// TestHandledRuns: a Processor with a per-record handler reports quiet
// calls as runs when every HookHandled takes them and no hook changes
// handler contexts; one by one otherwise. Either way each call is seen
// once.
func TestHandledRuns(t *testing.T) {
	const n = 600
	for _, withCtx := range []bool{false, true} {
		name := "runs"
		if withCtx {
			name = "with a record-context hook"
		}
		t.Run(name, func(t *testing.T) {
			in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
			c := fake(t, map[string]int32{in: 2, out: 1})
			addrs := c.ListenAddrs()
			produceValues(t, addrs, in, 0, n)
			h := &runHook{}
			hs := []eoskit.Hook{h}
			if withCtx {
				hs = append(hs, ctxHook{})
			}
			p, err := txn.New(kconn(addrs), txn.Copy(out), procOpts(addrs, group, in, "runs", txn.WithHooks(hs...), txn.WithMaxTxnRecords(100))...)
			if err != nil {
				t.Fatal(err)
			}
			r := runProc(t, p)
			waitCommitted(t, addrs, group, in)
			exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			if s := p.Stats(); s.TxnsAborted != 0 || s.SessionRestarts != 0 {
				t.Fatalf("stats %+v: the counts below assume each record handled once", s)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.ok+h.inRun != n {
				t.Errorf("%d calls one by one + %d in runs, want %d", h.ok, h.inRun, n)
			}
			if withCtx {
				if h.runs != 0 {
					t.Errorf("%d runs with a record-context hook, want none", h.runs)
				}
				return
			}
			if h.runs == 0 || h.untimedOK != 0 || h.inRun < n/2 {
				t.Errorf("%d runs of %d calls, %d untimed calls one by one: want most calls in runs, none untimed one by one", h.runs, h.inRun, h.untimedOK)
			}
		})
	}
}
