package hooks

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// TestClockTimesASample: a handler loop's first call is timed, then one
// in TimeEvery; the others report Untimed with no duration.
func TestClockTimesASample(t *testing.T) {
	var c Clock
	var timed []int
	for i := 1; i <= 3*TimeEvery; i++ {
		began := c.Start()
		d, untimed := Took(began)
		if untimed != began.IsZero() || (untimed && d != 0) || (!untimed && d < 0) {
			t.Fatalf("call %d: duration %v untimed %v for start %v", i, d, untimed, began)
		}
		if !untimed {
			timed = append(timed, i)
		}
	}
	want := []int{1, TimeEvery + 1, 2*TimeEvery + 1}
	if len(timed) != len(want) || timed[0] != want[0] || timed[1] != want[1] || timed[2] != want[2] {
		t.Fatalf("timed calls %v, want %v", timed, want)
	}
	if d, untimed := Took(time.Now().Add(-time.Second)); untimed || d < time.Second {
		t.Fatalf("Took of a call begun 1 s ago: %v, untimed %v", d, untimed)
	}
}

type perCall struct{ n int }

func (h *perCall) OnHandled(eoskit.Handled) { h.n++ }

type counting struct {
	perCall
	runs, calls int
}

func (h *counting) OnHandledRun(e eoskit.HandledRun) { h.runs++; h.calls += e.Calls }

type ctxChanger struct{}

func (ctxChanger) OnRecordContext(ctx context.Context, _ *kgo.Record) context.Context { return ctx }

func TestHandledRuns(t *testing.T) {
	c := &counting{}
	if s := New(nil); s.HandledRuns() {
		t.Error("no hooks: HandledRuns true")
	}
	s := New([]eoskit.Hook{c, ctxChanger{}})
	if !s.HandledRuns() || !s.HasRecordContext() {
		t.Fatalf("one run-taking hook and a context hook: HandledRuns %v, HasRecordContext %v", s.HandledRuns(), s.HasRecordContext())
	}
	s.HandledRun(eoskit.HandledRun{Calls: 0})
	s.HandledRun(eoskit.HandledRun{Calls: 5})
	if c.runs != 1 || c.calls != 5 {
		t.Errorf("runs %d of %d calls, want 1 of 5 (an empty run is not reported)", c.runs, c.calls)
	}
	if s := New([]eoskit.Hook{c, &perCall{}}); s.HandledRuns() || s.HasRecordContext() {
		t.Error("a per-call hook beside a run-taking one: HandledRuns true")
	}
	if s := New([]eoskit.Hook{&perCall{}}); s.HandledRuns() {
		t.Error("a per-call hook alone: HandledRuns true")
	}
}

type perProduce struct{ produced int }

func (h *perProduce) OnProduce(eoskit.Produced) { h.produced++ }

type runProduce struct {
	perProduce
	runs, records int
}

func (h *runProduce) OnProducedRun(e eoskit.ProducedRun) { h.runs++; h.records += e.Records }

// runOnly takes runs without observing produces: never called.
type runOnly struct{ runs int }

func (h *runOnly) OnProducedRun(eoskit.ProducedRun) { h.runs++ }

func TestProducedRuns(t *testing.T) {
	if s := New(nil); s.ProducedRuns() {
		t.Error("no hooks: ProducedRuns true")
	}
	r, only := &runProduce{}, &runOnly{}
	s := New([]eoskit.Hook{r, only})
	if !s.ProducedRuns() {
		t.Fatal("one run-taking produce hook: ProducedRuns false")
	}
	s.ProducedRun(eoskit.ProducedRun{Records: 0})
	s.ProducedRun(eoskit.ProducedRun{Records: 7})
	if r.runs != 1 || r.records != 7 || only.runs != 0 {
		t.Errorf("runs %d of %d records, run-only hook %d; want 1 of 7 (an empty run is not reported) and 0", r.runs, r.records, only.runs)
	}
	if s := New([]eoskit.Hook{r, &perProduce{}}); s.ProducedRuns() {
		t.Error("a per-record produce hook beside a run-taking one: ProducedRuns true")
	}
}
