package consumer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
)

// recorder implements the eoskit hooks a consumer calls.
type recorder struct {
	mu               sync.Mutex
	assigned         map[int32]bool
	revoked, handled int
	committed        map[int32]int64
}

func (h *recorder) OnAssigned(a eoskit.Assignment) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range a.Partitions["t"] {
		h.assigned[p] = true
	}
}

func (h *recorder) OnRevoked(eoskit.Assignment) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.revoked++
}

func (h *recorder) OnHandled(e eoskit.Handled) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Err == nil && e.Attempt == 1 && e.Batch == 1 && e.Group == "hooked" {
		h.handled++
	}
}

func (h *recorder) OnCommit(c eoskit.Committed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.Err != nil || c.Group != "hooked" {
		return
	}
	for p, o := range c.Offsets["t"] {
		h.committed[p] = max(h.committed[p], o)
	}
}

// TestHooks: one value observes assignments, every handler call and the
// commits, with the shared eoskit events.
func TestHooks(t *testing.T) {
	c := fake(t, 2, "t")
	addrs := c.ListenAddrs()
	seed(t, addrs, "t", 2, 10)
	h := &recorder{assigned: map[int32]bool{}, committed: map[int32]int64{}}
	cons, err := consumer.New(eoskit.Conn{Brokers: addrs}, append(base(addrs, "hooked", "t"), consumer.WithHooks(h))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	var mu sync.Mutex
	n := 0
	if err := cons.Run(ctx, func(context.Context, *kgo.Record) error {
		mu.Lock()
		defer mu.Unlock()
		if n++; n == 20 {
			cancel()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.assigned[0] || !h.assigned[1] || h.handled != 20 || h.committed[0] != 10 || h.committed[1] != 10 {
		t.Fatalf("hooks saw assigned %v, %d handled, committed %v; want both partitions, 20, 10 and 10", h.assigned, h.handled, h.committed)
	}
}

// counter takes handler calls one by one or, when every HookHandled of
// the consumer also takes runs, as runs (eoskit.HookHandledRun).
type counter struct {
	mu                    sync.Mutex
	ok, failed, retried   int // OnHandled calls
	untimedOK             int // first-attempt successes that were not timed
	runs, runCalls, mixed int // OnHandledRun: runs, their calls, runs spanning partitions
	maxRun                int
}

func (c *counter) OnHandled(e eoskit.Handled) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case e.Err != nil:
		c.failed++
	case e.Attempt > 1:
		c.retried++
	default:
		c.ok++
		if e.Untimed {
			c.untimedOK++
		}
	}
}

type runCounter struct{ counter }

func (c *runCounter) OnHandledRun(e eoskit.HandledRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs++
	c.runCalls += e.Calls
	c.maxRun = max(c.maxRun, e.Calls)
	if e.Last == nil || e.Group != "runs" {
		c.mixed++
	}
}

// TestHandledRuns: with only run-taking hooks the consumer reports its
// quiet calls (first attempt, succeeded, untimed) as runs and every other
// call one by one, so the two add up to every call exactly once; one hook
// that takes calls only one by one turns runs off for all.
func TestHandledRuns(t *testing.T) {
	const parts, perPart = 2, 1000
	for _, mixed := range []bool{false, true} {
		name := "runs"
		if mixed {
			name = "with a per-call hook"
		}
		t.Run(name, func(t *testing.T) {
			c := fake(t, parts, "t")
			addrs := c.ListenAddrs()
			seed(t, addrs, "t", parts, perPart)
			rc, each := &runCounter{}, &counter{}
			hs := []eoskit.Hook{rc}
			if mixed {
				hs = append(hs, each)
			}
			cons, err := consumer.New(eoskit.Conn{Brokers: addrs}, append(base(addrs, "runs", "t"),
				consumer.WithHooks(hs...), consumer.WithRetries(1, time.Millisecond))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			ctx, cancel := context.WithCancel(ctxT(t))
			var mu sync.Mutex
			n, failedOnce := 0, false
			if err := cons.Run(ctx, func(_ context.Context, r *kgo.Record) error {
				mu.Lock()
				defer mu.Unlock()
				if string(r.Value) == "1-500" && !failedOnce {
					failedOnce = true
					return errors.New("first try fails")
				}
				if n++; n == parts*perPart {
					cancel()
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if rc.failed != 1 || rc.retried != 1 {
				t.Errorf("OnHandled saw %d failed and %d retried calls, want 1 and 1", rc.failed, rc.retried)
			}
			if rc.mixed != 0 || rc.maxRun > 256 {
				t.Errorf("%d runs without a record or of another group; longest run %d calls (want at most 256)", rc.mixed, rc.maxRun)
			}
			if got := rc.ok + rc.retried + rc.runCalls; got != parts*perPart {
				t.Errorf("successful calls: %d one by one + %d retried + %d in runs = %d, want %d", rc.ok, rc.retried, rc.runCalls, got, parts*perPart)
			}
			if mixed {
				if rc.runs != 0 || each.ok != parts*perPart-1 {
					t.Errorf("with a per-call hook: %d runs (want none), the per-call hook saw %d first-attempt successes (want %d)", rc.runs, each.ok, parts*perPart-1)
				}
				return
			}
			// Timed calls are a sample (the first of each loop, 1 in 64):
			// most calls must have come as runs.
			if rc.runs == 0 || rc.runCalls < parts*perPart/2 || rc.untimedOK != 0 {
				t.Errorf("runs %d with %d calls; one by one %d ok, %d of them untimed: want most calls in runs and only timed ones one by one", rc.runs, rc.runCalls, rc.ok, rc.untimedOK)
			}
		})
	}
}
