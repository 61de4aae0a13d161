package txn_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
)

// sessionStarts keeps the first session's producer ID and epoch.
type sessionStarts struct {
	mu    sync.Mutex
	n     int
	id    int64
	epoch int16
}

func (h *sessionStarts) OnSessionStart(e eoskit.SessionStart) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n++; h.n == 1 {
		h.id, h.epoch = e.ProducerID, e.Epoch
	}
}

func (h *sessionStarts) first() (int64, int16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.id, h.epoch
}

// A transaction refused as fenced after the transaction outlived its timeout is
// the coordinator's own abort when the coordinator shows the producer one
// epoch on, aborting: the session is rebuilt and the records redone (CI,
// coordinator-frozen-isolated, tv1). Two epochs on is another instance:
// Run stops fenced. kfake neither times transactions out nor bumps for
// them, so both answers (a produce's PRODUCER_FENCED, the coordinator's
// description) are injected.
func TestCommitFencedByTimeout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bumps  int16
		fenced bool
	}{{"timed out", 1, false}, {"another instance", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
			c := fake(t, map[string]int32{in: 1, out: 1})
			addrs := c.ListenAddrs()
			refused := failFirstProduce(c, kerr.ProducerFenced.Code)
			started := &sessionStarts{}
			c.ControlKey(int16(kmsg.DescribeTransactions), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if !refused.Load() {
					return nil, nil, false
				}
				r := req.(*kmsg.DescribeTransactionsRequest)
				resp := r.ResponseKind().(*kmsg.DescribeTransactionsResponse)
				for _, id := range r.TransactionalIDs {
					st := kmsg.NewDescribeTransactionsResponseTransactionState()
					st.TransactionalID, st.State = id, "CompleteAbort"
					pid, epoch := started.first()
					st.ProducerID, st.ProducerEpoch = pid, epoch+tc.bumps
					resp.TransactionStates = append(resp.TransactionStates, st)
				}
				return resp, nil, true
			})
			var slow atomic.Bool
			h := func(_ context.Context, r *kgo.Record, emit txn.Emit) error {
				if !slow.Swap(true) {
					time.Sleep(1200 * time.Millisecond) // the first transaction outlives its 1 s timeout
				}
				emit(&kgo.Record{Topic: out, Value: r.Value})
				return nil
			}
			produceValues(t, addrs, in, 0, 50)
			p, err := txn.New(kconn(addrs), h, procOpts(addrs, group, in, "to", txn.WithTransactionTimeout(time.Second), txn.WithMaxTxnRecords(10), txn.WithHooks(started))...)
			if err != nil {
				t.Fatal(err)
			}
			r := runProc(t, p)
			if tc.fenced {
				if err := r.wait(t, time.Minute); !errors.Is(err, eoskit.ErrFenced) {
					t.Fatalf("Run returned %v, want eoskit.ErrFenced", err)
				}
				return
			}
			waitCommitted(t, addrs, group, in)
			exactlyOnce(t, readCommitted(t, addrs, in), readCommitted(t, addrs, out))
			if s := p.Stats(); !refused.Load() || s.SessionRestarts < 1 || s.TxnsAborted < 1 {
				t.Fatalf("stats %+v (produce refused %v): want the refused transaction counted aborted and the session rebuilt", s, refused.Load())
			}
		})
	}
}
