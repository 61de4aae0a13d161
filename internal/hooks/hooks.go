// Package hooks dispatches eoskit hook events. A Set sorts the registered
// values by interface once, so that calling a hook on a hot path is a loop
// over a slice with no type assertion, and Has* lets callers skip building
// an event nobody observes.
package hooks

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Set is the hooks of one client, grouped by interface.
type Set struct {
	txnEnd   []eoskit.HookTxnEnd
	txnBegin []eoskit.HookTxnBegin
	produce  []eoskit.HookProduce
	handled  []eoskit.HookHandled
	assigned []eoskit.HookAssigned
	revoked  []eoskit.HookRevoked
	commit   []eoskit.HookCommit
	dead     []eoskit.HookDeadLetter
	restart  []eoskit.HookSessionRestart
	start    []eoskit.HookSessionStart
	recCtx   []eoskit.HookRecordContext
	emit     []eoskit.HookEmit
}

// New sorts hs by the interfaces each implements.
func New(hs []eoskit.Hook) Set {
	var s Set
	for _, h := range hs {
		if x, ok := h.(eoskit.HookTxnEnd); ok {
			s.txnEnd = append(s.txnEnd, x)
		}
		if x, ok := h.(eoskit.HookTxnBegin); ok {
			s.txnBegin = append(s.txnBegin, x)
		}
		if x, ok := h.(eoskit.HookProduce); ok {
			s.produce = append(s.produce, x)
		}
		if x, ok := h.(eoskit.HookHandled); ok {
			s.handled = append(s.handled, x)
		}
		if x, ok := h.(eoskit.HookAssigned); ok {
			s.assigned = append(s.assigned, x)
		}
		if x, ok := h.(eoskit.HookRevoked); ok {
			s.revoked = append(s.revoked, x)
		}
		if x, ok := h.(eoskit.HookCommit); ok {
			s.commit = append(s.commit, x)
		}
		if x, ok := h.(eoskit.HookDeadLetter); ok {
			s.dead = append(s.dead, x)
		}
		if x, ok := h.(eoskit.HookSessionRestart); ok {
			s.restart = append(s.restart, x)
		}
		if x, ok := h.(eoskit.HookSessionStart); ok {
			s.start = append(s.start, x)
		}
		if x, ok := h.(eoskit.HookRecordContext); ok {
			s.recCtx = append(s.recCtx, x)
		}
		if x, ok := h.(eoskit.HookEmit); ok {
			s.emit = append(s.emit, x)
		}
	}
	return s
}

// HasProduce reports whether any hook observes produced records.
func (s *Set) HasProduce() bool { return len(s.produce) > 0 }

// HasTxnEnd reports whether any hook observes transaction ends.
func (s *Set) HasTxnEnd() bool { return len(s.txnEnd) > 0 }

// HasHandled reports whether any hook observes handler calls.
func (s *Set) HasHandled() bool { return len(s.handled) > 0 }

// TxnEnd calls every HookTxnEnd.
func (s *Set) TxnEnd(e eoskit.TxnEnd) {
	for _, h := range s.txnEnd {
		h.OnTxnEnd(e)
	}
}

// TxnBegin calls every HookTxnBegin.
func (s *Set) TxnBegin(e eoskit.TxnBegin) {
	for _, h := range s.txnBegin {
		h.OnTxnBegin(e)
	}
}

// Produce calls every HookProduce.
func (s *Set) Produce(e eoskit.Produced) {
	for _, h := range s.produce {
		h.OnProduce(e)
	}
}

// Handled calls every HookHandled.
func (s *Set) Handled(e eoskit.Handled) {
	for _, h := range s.handled {
		h.OnHandled(e)
	}
}

// Assigned calls every HookAssigned.
func (s *Set) Assigned(e eoskit.Assignment) {
	for _, h := range s.assigned {
		h.OnAssigned(e)
	}
}

// Revoked calls every HookRevoked.
func (s *Set) Revoked(e eoskit.Assignment) {
	for _, h := range s.revoked {
		h.OnRevoked(e)
	}
}

// Commit calls every HookCommit.
func (s *Set) Commit(e eoskit.Committed) {
	for _, h := range s.commit {
		h.OnCommit(e)
	}
}

// DeadLetter calls every HookDeadLetter.
func (s *Set) DeadLetter(e eoskit.DeadLetter) {
	for _, h := range s.dead {
		h.OnDeadLetter(e)
	}
}

// SessionRestart calls every HookSessionRestart.
func (s *Set) SessionRestart(e eoskit.SessionRestart) {
	for _, h := range s.restart {
		h.OnSessionRestart(e)
	}
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

// Emit calls every HookEmit.
func (s *Set) Emit(ctx context.Context, in, out *kgo.Record) {
	for _, h := range s.emit {
		h.OnEmit(ctx, in, out)
	}
}

// SessionStart calls every HookSessionStart.
func (s *Set) SessionStart(e eoskit.SessionStart) {
	for _, h := range s.start {
		h.OnSessionStart(e)
	}
}
