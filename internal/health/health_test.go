package health_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/health"
)

func readyz(t *testing.T, tr *health.Tracker) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	tr.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

func TestReadiness(t *testing.T) {
	tr := health.New()
	var h eoskit.Hook = tr
	steps := []struct {
		name string
		do   func()
		code int
		why  string
	}{
		{"new", func() {}, 503, "producer not initialised, group not joined"},
		{"session started", func() { h.(eoskit.HookSessionStart).OnSessionStart(eoskit.SessionStart{TransactionalID: "a"}) }, 503, "group not joined"},
		{"assigned", func() {
			h.(eoskit.HookAssigned).OnAssigned(eoskit.Assignment{Partitions: map[string][]int32{"in": {0}}})
		}, 200, "ready"},
		{"clean revoke stays ready", func() { h.(eoskit.HookRevoked).OnRevoked(eoskit.Assignment{Partitions: map[string][]int32{"in": {0}}}) }, 200, "ready"},
		{"lost", func() { h.(eoskit.HookRevoked).OnRevoked(eoskit.Assignment{Lost: true}) }, 503, "group not joined"},
		{"assigned again", func() { tr.OnAssigned(eoskit.Assignment{}) }, 200, "ready"},
		{"restart", func() { h.(eoskit.HookSessionRestart).OnSessionRestart(eoskit.SessionRestart{}) }, 503, "producer not initialised, group not joined"},
		{"assigned after restart", func() { tr.OnAssigned(eoskit.Assignment{}) }, 503, "producer not initialised"},
		{"a commit proves the producer", func() { h.(eoskit.HookTxnEnd).OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnCommitted}) }, 200, "ready"},
		{"abort stays ready", func() { tr.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnAborted, Reason: eoskit.AbortRebalance}) }, 200, "ready"},
		{"fenced", func() { tr.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnFenced}) }, 503, "fenced"},
		{"fenced is final", func() { tr.OnSessionStart(eoskit.SessionStart{}); tr.OnAssigned(eoskit.Assignment{}) }, 503, "fenced"},
	}
	for _, s := range steps {
		s.do()
		code, body := readyz(t, tr)
		if code != s.code || !strings.Contains(body, s.why) {
			t.Fatalf("%s: %d %q, want %d containing %q", s.name, code, body, s.code, s.why)
		}
	}
}

func TestStopped(t *testing.T) {
	tr := health.New()
	tr.OnSessionStart(eoskit.SessionStart{})
	tr.OnAssigned(eoskit.Assignment{})
	tr.Stopped()
	if code, body := readyz(t, tr); code != 503 || !strings.Contains(body, "stopped") {
		t.Fatalf("after Stopped: %d %q", code, body)
	}
}

// TestEndedFenced: Run's error decides: a fenced one makes /readyz say
// fenced even when no transaction end reported it (a fence found by the
// session probe); another error says stopped.
func TestEndedFenced(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("txn: re-initialise producer 1 epoch 65: %w: PRODUCER_FENCED", eoskit.ErrFenced), "fenced"},
		{errors.New("broker gone"), "stopped"},
		{nil, "stopped"},
	} {
		tr := health.New()
		tr.OnSessionStart(eoskit.SessionStart{})
		tr.OnAssigned(eoskit.Assignment{})
		tr.Ended(c.err)
		if code, body := readyz(t, tr); code != 503 || !strings.Contains(body, c.want) {
			t.Fatalf("Ended(%v): %d %q, want 503 %q", c.err, code, body, c.want)
		}
	}
}
