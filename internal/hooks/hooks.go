// Package hooks dispatches eoskit hook events. A Set sorts the registered
// values by interface once, so that calling a hook on a hot path is a loop
// over a slice with no type assertion, and Has* lets callers skip building
// an event nobody observes.
package hooks

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Set is the hooks of one client, grouped by interface.
type Set struct {
	txnEnd   []eoskit.HookTxnEnd
	txnBegin []eoskit.HookTxnBegin
	produce  []eoskit.HookProduce
	prodRuns []eoskit.HookProducedRun // the produce hooks that take runs
	handled  []eoskit.HookHandled
	runs     []eoskit.HookHandledRun // the handled hooks that take runs
	assigned []eoskit.HookAssigned
	revoked  []eoskit.HookRevoked
	commit   []eoskit.HookCommit
	dead     []eoskit.HookDeadLetter
	restart  []eoskit.HookSessionRestart
	start    []eoskit.HookSessionStart
	recCtx   []eoskit.HookRecordContext
	batchCtx []eoskit.HookBatchContext
	emit     []eoskit.HookEmit
}

// New sorts hs by the interfaces each implements.
func New(hs []eoskit.Hook) Set {
	var s Set
	for _, h := range hs {
		add(&s.txnEnd, h)
		add(&s.txnBegin, h)
		if x, ok := h.(eoskit.HookProduce); ok {
			s.produce = append(s.produce, x)
			if r, ok := h.(eoskit.HookProducedRun); ok {
				s.prodRuns = append(s.prodRuns, r)
			}
		}
		if x, ok := h.(eoskit.HookHandled); ok {
			s.handled = append(s.handled, x)
			if r, ok := h.(eoskit.HookHandledRun); ok {
				s.runs = append(s.runs, r)
			}
		}
		add(&s.assigned, h)
		add(&s.revoked, h)
		add(&s.commit, h)
		add(&s.dead, h)
		add(&s.restart, h)
		add(&s.start, h)
		add(&s.recCtx, h)
		add(&s.batchCtx, h)
		add(&s.emit, h)
	}
	return s
}

// add appends h to dst if it implements H.
func add[H any](dst *[]H, h eoskit.Hook) {
	if x, ok := h.(H); ok {
		*dst = append(*dst, x)
	}
}

// each calls on(h, e) for every hook h of hs.
func each[H, E any](hs []H, on func(H, E), e E) {
	for _, h := range hs {
		on(h, e)
	}
}

// HasProduce reports whether any hook observes produced records.
func (s *Set) HasProduce() bool { return len(s.produce) > 0 }

// HasTxnEnd reports whether any hook observes transaction ends.
func (s *Set) HasTxnEnd() bool { return len(s.txnEnd) > 0 }

// HasHandled reports whether any hook observes handler calls.
func (s *Set) HasHandled() bool { return len(s.handled) > 0 }

// TxnEnd calls every HookTxnEnd.
func (s *Set) TxnEnd(e eoskit.TxnEnd) { each(s.txnEnd, eoskit.HookTxnEnd.OnTxnEnd, e) }

// TxnBegin calls every HookTxnBegin.
func (s *Set) TxnBegin(e eoskit.TxnBegin) { each(s.txnBegin, eoskit.HookTxnBegin.OnTxnBegin, e) }

// Produce calls every HookProduce. Produce and Handled run per record:
// a plain loop, as each's function value copies the event once more per
// hook (twice the cost in BenchmarkHandlerPath).
func (s *Set) Produce(e eoskit.Produced) {
	for _, h := range s.produce {
		h.OnProduce(e)
	}
}

// ProducedRuns reports whether every HookProduce also takes runs
// (HookProducedRun), so that a caller may count its acknowledged records
// and report them with ProducedRun instead of calling Produce for each.
func (s *Set) ProducedRuns() bool { return len(s.produce) > 0 && len(s.prodRuns) == len(s.produce) }

// ProducedRun calls every HookProducedRun; a run of no records is not
// reported.
func (s *Set) ProducedRun(e eoskit.ProducedRun) {
	if e.Records <= 0 {
		return
	}
	for _, h := range s.prodRuns {
		h.OnProducedRun(e)
	}
}

// Handled calls every HookHandled.
func (s *Set) Handled(e eoskit.Handled) {
	for _, h := range s.handled {
		h.OnHandled(e)
	}
}

// HandledRuns reports whether every HookHandled also takes runs
// (HookHandledRun), so that a caller may count its quiet calls (first
// attempt, succeeded, untimed) and report them with HandledRun instead of
// calling Handled for each.
func (s *Set) HandledRuns() bool { return len(s.handled) > 0 && len(s.runs) == len(s.handled) }

// HandledRun calls every HookHandledRun; a run of no calls is not reported.
func (s *Set) HandledRun(e eoskit.HandledRun) {
	if e.Calls <= 0 {
		return
	}
	for _, h := range s.runs {
		h.OnHandledRun(e)
	}
}

// HasRecordContext reports whether any hook changes per-record handler
// contexts.
func (s *Set) HasRecordContext() bool { return len(s.recCtx) > 0 }

// Assigned calls every HookAssigned.
func (s *Set) Assigned(e eoskit.Assignment) { each(s.assigned, eoskit.HookAssigned.OnAssigned, e) }

// Revoked calls every HookRevoked.
func (s *Set) Revoked(e eoskit.Assignment) { each(s.revoked, eoskit.HookRevoked.OnRevoked, e) }

// Commit calls every HookCommit.
func (s *Set) Commit(e eoskit.Committed) { each(s.commit, eoskit.HookCommit.OnCommit, e) }

// DeadLetter calls every HookDeadLetter.
func (s *Set) DeadLetter(e eoskit.DeadLetter) { each(s.dead, eoskit.HookDeadLetter.OnDeadLetter, e) }

// SessionRestart calls every HookSessionRestart.
func (s *Set) SessionRestart(e eoskit.SessionRestart) {
	each(s.restart, eoskit.HookSessionRestart.OnSessionRestart, e)
}

// HasEmit reports whether any hook observes emitted records.
func (s *Set) HasEmit() bool { return len(s.emit) > 0 }

// RecordContext returns the context a handler call on in runs with: ctx
// passed through every HookRecordContext in turn (ctx itself when there
// is none). Put the result in Handled.Context.
func (s *Set) RecordContext(ctx context.Context, in *kgo.Record) context.Context {
	for _, h := range s.recCtx {
		ctx = h.OnRecordContext(ctx, in)
	}
	return ctx
}

// BatchContext is RecordContext for a batch handler call on recs: ctx
// passed through every HookBatchContext in turn.
func (s *Set) BatchContext(ctx context.Context, recs []*kgo.Record) context.Context {
	for _, h := range s.batchCtx {
		ctx = h.OnBatchContext(ctx, recs)
	}
	return ctx
}

// Emit calls every HookEmit.
func (s *Set) Emit(ctx context.Context, in, out *kgo.Record) {
	for _, h := range s.emit {
		h.OnEmit(ctx, in, out)
	}
}

// SessionStart calls every HookSessionStart.
func (s *Set) SessionStart(e eoskit.SessionStart) {
	each(s.start, eoskit.HookSessionStart.OnSessionStart, e)
}

// TimeEvery is how many handler calls of one handler loop share one
// timing: the first call is timed, then one in TimeEvery (two clock reads
// cost tens of nanoseconds, as much as a light handler).
const TimeEvery = 64

// Clock decides which calls of one handler loop are timed. Not safe for
// concurrent use: one per goroutine that calls handlers.
type Clock struct{ calls uint32 }

// Start returns when a call that is to be timed begins (the current
// time), or the zero time for a call that is not timed.
func (c *Clock) Start() time.Time {
	c.calls++
	if c.calls%TimeEvery != 1 {
		return time.Time{}
	}
	return time.Now()
}

// Took returns the Duration and Untimed fields of a call that began at
// began (Start's result).
func Took(began time.Time) (time.Duration, bool) {
	if began.IsZero() {
		return 0, true
	}
	return time.Since(began), false
}
