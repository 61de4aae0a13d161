package consumer_test

import (
	"context"
	"sync"
	"testing"

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
