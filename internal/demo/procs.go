package demo

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
)

// crashAfterInTxn is how many records the victim handles in its open
// transaction, once the crash point is reached, before it dies: enough for
// that transaction to hold records on the brokers. If its transactions stay
// smaller, the orchestrator lowers the threshold to 1 after a while.
const crashAfterInTxn = 100

// proc is one txn processor of the demo, with a network it can lose.
type proc struct {
	name  string
	txnID string
	p     *txn.Processor
	ks    killSwitch

	cancel context.CancelFunc
	done   chan struct{} // closed when Run returns
	err    error         // Run's result, set before done closes

	// victim state: armed by the orchestrator at the crash point; the
	// handler then crashes the processor mid-transaction.
	victim    bool
	armed     atomic.Bool
	threshold atomic.Int64 // records in the open transaction to crash at
	inTxn     atomic.Int64 // records handled since the last transaction end
	crashed   chan struct{}
	once      sync.Once
	atTxn     int64 // records handled in the transaction the crash left open
}

// newProc builds a processor copying in to out.
func newProc(c *cluster, cfg Config, name, txnID, group, in, out string, victim bool) (*proc, error) {
	pr := &proc{name: name, txnID: txnID, victim: victim, done: make(chan struct{}), crashed: make(chan struct{})}
	pr.threshold.Store(crashAfterInTxn)
	copyH := txn.Copy(out)
	h := func(ctx context.Context, r *kgo.Record, emit txn.Emit) error {
		if err := copyH(ctx, r, emit); err != nil {
			return err
		}
		if n := pr.inTxn.Add(1); pr.victim && pr.armed.Load() && n >= pr.threshold.Load() {
			pr.crash()
		}
		return nil
	}
	conn := eoskit.Conn{Brokers: c.seeds, ClientID: "eoskit-demo-" + name,
		KgoOpts: []kgo.Opt{kgo.Dialer(pr.ks.dial), kgo.HeartbeatInterval(c.session / 6)}}
	p, err := txn.New(conn, h,
		txn.WithGroup(group),
		txn.WithTopics(in),
		txn.WithTransactionalID(txnID),
		txn.WithSessionTimeout(c.session),
		txn.WithTransactionTimeout(10*time.Second),
		txn.WithLogger(cfg.Logger.With("processor", name)),
		txn.WithHooks(pr),
	)
	if err != nil {
		return nil, err
	}
	pr.p = p
	return pr, nil
}

// OnTxnEnd implements eoskit.HookTxnEnd.
func (pr *proc) OnTxnEnd(eoskit.TxnEnd) { pr.inTxn.Store(0) }

func (pr *proc) start(ctx context.Context) {
	ctx, pr.cancel = context.WithCancel(ctx)
	go func() {
		pr.err = pr.p.Run(ctx)
		close(pr.done)
	}()
}

// crash cuts the processor's network mid-transaction: it can neither end
// its transaction nor leave its group, as if the process were killed. Its
// Run is cancelled and left to give up on its own.
func (pr *proc) crash() {
	pr.once.Do(func() {
		pr.atTxn = pr.inTxn.Load()
		pr.ks.kill()
		pr.cancel()
		close(pr.crashed)
	})
}

func (pr *proc) isCrashed() bool {
	select {
	case <-pr.crashed:
		return true
	default:
		return false
	}
}

// stop shuts the processor down gracefully and waits up to d for Run.
func (pr *proc) stop(d time.Duration) (stopped bool) {
	pr.cancel()
	select {
	case <-pr.done:
		return true
	case <-time.After(d):
		return false
	}
}
