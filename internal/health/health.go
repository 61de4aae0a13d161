// Package health tells whether a processor is ready to work, from the
// eoskit hook events: a Tracker is a hook value (pass it to txn.WithHooks)
// and an http.Handler for /readyz.
//
// Ready means: the group assigned this member (HookAssigned), the
// producer ID is initialised (HookSessionStart, or a committed
// transaction, which proves it), and the producer was never fenced. A
// session restart clears the first two until they happen again; a fence
// is final (the transactional ID belongs to a newer instance). A lost
// assignment (revoked without hand-over) clears the group part.
package health

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/eoskit/eoskit"
)

// Tracker follows one processor's readiness. The zero value is not
// ready; its methods are safe for concurrent use.
type Tracker struct {
	mu       sync.Mutex
	joined   bool
	producer bool
	fenced   bool
	done     bool
}

// New returns a Tracker that is not ready.
func New() *Tracker { return &Tracker{} }

// OnAssigned implements eoskit.HookAssigned.
func (t *Tracker) OnAssigned(eoskit.Assignment) { t.set(func() { t.joined = true }) }

// OnRevoked implements eoskit.HookRevoked.
func (t *Tracker) OnRevoked(e eoskit.Assignment) {
	if e.Lost {
		t.set(func() { t.joined = false })
	}
}

// OnSessionStart implements eoskit.HookSessionStart.
func (t *Tracker) OnSessionStart(eoskit.SessionStart) { t.set(func() { t.producer = true }) }

// OnSessionRestart implements eoskit.HookSessionRestart.
func (t *Tracker) OnSessionRestart(eoskit.SessionRestart) {
	t.set(func() { t.joined, t.producer = false, false })
}

// OnTxnEnd implements eoskit.HookTxnEnd.
func (t *Tracker) OnTxnEnd(e eoskit.TxnEnd) {
	switch e.Outcome {
	case eoskit.TxnFenced:
		t.set(func() { t.fenced = true })
	case eoskit.TxnCommitted:
		t.set(func() { t.producer = true })
	}
}

// Stopped marks the processor as no longer running (Run returned): not
// ready from then on.
func (t *Tracker) Stopped() { t.set(func() { t.done = true }) }

// Ended is Stopped with Run's error: an error matching eoskit.ErrFenced
// marks the tracker fenced, however the fence was found (a fenced
// transaction end, or a probe or re-initialisation that reported no
// transaction end).
func (t *Tracker) Ended(err error) {
	fenced := errors.Is(err, eoskit.ErrFenced)
	t.set(func() {
		t.done = true
		t.fenced = t.fenced || fenced
	})
}

func (t *Tracker) set(f func()) {
	t.mu.Lock()
	f()
	t.mu.Unlock()
}

// Ready reports readiness and, when not ready, why.
func (t *Tracker) Ready() (bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.fenced:
		return false, "fenced: another instance took the transactional ID"
	case t.done:
		return false, "stopped"
	case !t.producer && !t.joined:
		return false, "producer not initialised, group not joined"
	case !t.producer:
		return false, "producer not initialised"
	case !t.joined:
		return false, "group not joined"
	}
	return true, ""
}

// ServeHTTP answers 200 "ready" when ready, else 503 with the reason.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ok, why := t.Ready()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", why)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Alive is the /healthz handler: 200 while the process serves HTTP.
func Alive(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}
