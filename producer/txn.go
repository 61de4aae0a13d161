package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
	"github.com/eoskit/eoskit/internal/reinit"
)

// abortTimeout bounds an abort or re-initialisation that runs after the
// caller's context is already done.
const abortTimeout = 30 * time.Second

// TxProducer is a transactional producer with a stable transactional ID.
// One transaction is open at a time; Begin, Commit, Abort and Run are
// serialised, and a Tx's Produce methods may be called concurrently.
//
// Once it returns an error wrapping eoskit.ErrFenced (or an
// *eoskit.AccessError for the transactional ID), the producer is dead:
// every later call returns that error. Close it and stop; a newer instance
// owns the ID.
type TxProducer struct {
	cfg config
	id  string
	cl  atomic.Pointer[kgo.Client] // replaced after an unknown commit outcome

	mu    sync.Mutex
	open  *Tx
	fatal error
}

// Tx is one open transaction, from Begin until Commit or Abort.
type Tx struct {
	p     *TxProducer
	cl    *kgo.Client // the client the transaction runs on
	began time.Time

	done  atomic.Bool  // ended by Commit or Abort
	total atomic.Int64 // records produced in it (no lock per record)
	first kgo.FirstErrPromise
	ack   func(*kgo.Record, error) // franz-go's callback when done is nil: bound once per transaction
}

// NewTransactional returns a transactional producer for txnID on conn and
// initialises its producer ID at once: this fences any older producer with
// the same ID and aborts its open transaction, so read_committed consumers
// are not blocked until that transaction times out. Keep txnID stable
// across restarts of the same logical producer. Options are validated like
// New's (an *eoskit.OptionError lists every problem); it returns an error
// matching eoskit.ErrFenced, or an *eoskit.AccessError, if the
// initialisation is refused for good.
func NewTransactional(ctx context.Context, c eoskit.Conn, txnID string, opts ...Opt) (*TxProducer, error) {
	cfg := newConfig(c, opts)
	if txnID == "" {
		ps := eoskit.NewProblems("producer")
		ps.Addf("empty transactional ID: pass a stable ID that identifies this producer across restarts")
		ps.Add(cfg.validate("-"))
		return nil, ps.Err()
	}
	cl, err := cfg.newClient(txnID)
	if err != nil {
		return nil, err
	}
	p := &TxProducer{cfg: cfg, id: txnID}
	p.cl.Store(cl)
	if err := conn.Check(ctx, cl, conn.Access{TransactionalID: txnID}); err != nil {
		cl.Close()
		return nil, fmt.Errorf("producer: %w", err)
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		if isFencedErr(err) {
			return nil, p.fatalErr(err)
		}
		return nil, fmt.Errorf("producer: initialise transactional ID %q: %w", txnID, mapErr(nil, err))
	}
	return p, nil
}

// TransactionalID returns the producer's transactional ID.
func (p *TxProducer) TransactionalID() string { return p.id }

// Client returns the underlying franz-go client. After an unknown commit
// outcome or a commit refused with INVALID_TXN_STATE the producer may switch
// to a new client: call Client again rather
// than keeping the result.
func (p *TxProducer) Client() *kgo.Client { return p.cl.Load() }

// fatalErr records err as fatal: every later call returns it.
func (p *TxProducer) fatalErr(err error) error {
	if p.fatal != nil {
		return p.fatal
	}
	if errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		p.fatal = fmt.Errorf("producer: transactional ID %q: %w", p.id, conn.ExplainAuthError(err, conn.Access{TransactionalID: p.id}))
	} else {
		p.fatal = fmt.Errorf("producer: transactional ID %q: %w: close this producer; a newer instance owns the ID: %w", p.id, eoskit.ErrFenced, err)
	}
	p.cfg.logger.Error("transactional producer is fatal", eoskit.LogKeyTxnID, p.id, eoskit.LogKeyErr, err)
	return p.fatal
}

// Begin opens a transaction. It returns ErrTxnState if one is already open.
func (p *TxProducer) Begin() (*Tx, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fatal != nil {
		return nil, p.fatal
	}
	if p.open != nil {
		return nil, fmt.Errorf("producer: begin: %w: a transaction is already open: commit or abort it first", ErrTxnState)
	}
	cl := p.Client()
	if err := cl.BeginTransaction(); err != nil {
		if isFencedErr(err) {
			return nil, p.fatalErr(err)
		}
		return nil, fmt.Errorf("producer: begin: %w", mapErr(nil, err))
	}
	tx := &Tx{p: p, cl: cl, began: time.Now()}
	tx.ack = tx.onAck
	if hs := &p.cfg.hooks; hs.HasProduce() {
		tx.ack = func(r *kgo.Record, err error) { ack(hs, tx, nil, r, err) }
	}
	p.open = tx
	p.cfg.hooks.TxnBegin(eoskit.TxnBegin{TransactionalID: p.id, At: p.open.began})
	return p.open, nil
}

// Produce writes records in the transaction and waits for their outcome,
// like Producer.Produce. A failed record dooms the transaction: Commit will
// abort it and return ErrAborted.
func (tx *Tx) Produce(ctx context.Context, records ...*kgo.Record) error {
	if err := tx.check(); err != nil {
		return err
	}
	rs := tx.cl.ProduceSync(ctx, records...)
	tx.total.Add(int64(len(records)))
	for _, r := range rs {
		if r.Err != nil {
			tx.first.Promise()(r.Record, r.Err)
		}
	}
	err := resultsErr(rs)
	if tx.p.cfg.hooks.HasProduce() {
		for _, r := range rs {
			tx.p.cfg.hooks.Produce(eoskit.Produced{Record: r.Record, Err: mapErr(r.Record, r.Err)})
		}
	}
	return err
}

// ProduceAsync buffers r in the transaction; done (if not nil) gets the
// outcome, like Producer.ProduceAsync's (and at the same cost: see there).
// Commit waits for every outcome and aborts if any record failed.
func (tx *Tx) ProduceAsync(ctx context.Context, r *kgo.Record, done func(*kgo.Record, error)) {
	if err := tx.check(); err != nil {
		if done != nil {
			done(r, err)
		}
		return
	}
	tx.total.Add(1)
	if done == nil {
		tx.cl.Produce(ctx, r, tx.ack)
		return
	}
	hs := &tx.p.cfg.hooks
	tx.cl.Produce(ctx, r, func(r *kgo.Record, err error) { ack(hs, tx, done, r, err) })
}

// onAck records a failed record in tx.first. Commit reads tx.first only
// after Flush, and franz-go calls every record's callback before Flush
// returns, so a failure needs no promise taken before it is produced (and
// a success costs nothing).
func (tx *Tx) onAck(r *kgo.Record, err error) {
	if err != nil {
		tx.first.Promise()(r, err)
	}
}

func (tx *Tx) check() error {
	if tx.done.Load() {
		return fmt.Errorf("producer: %w: the transaction has ended: Begin a new one", ErrTxnState)
	}
	return nil
}

// end marks the transaction ended; false if it already was.
func (tx *Tx) end() bool { return tx.done.CompareAndSwap(false, true) }

// ended reports the end of tx to the TxnEnd hooks.
func (tx *Tx) ended(pid int64, epoch int16, reason eoskit.AbortReason, start time.Time, flush time.Duration, err error) {
	e := eoskit.TxnEnd{
		TransactionalID: tx.p.id, ProducerID: pid, Epoch: epoch, Outcome: outcomeOf(err), Reason: reason,
		Outputs: int(tx.total.Load()), Began: tx.began, Flush: flush, Duration: time.Since(start), Err: err,
	}
	e.Commit = e.Duration - flush
	if err == ErrAborted { // a confirmed abort the caller asked for
		e.Err = nil
	}
	if e.Outcome != eoskit.TxnAborted {
		e.Reason = eoskit.AbortNone
	}
	tx.p.cfg.hooks.TxnEnd(e)
}

func outcomeOf(err error) eoskit.TxnOutcome {
	switch {
	case err == nil:
		return eoskit.TxnCommitted
	case errors.Is(err, eoskit.ErrFenced):
		return eoskit.TxnFenced
	case errors.Is(err, eoskit.ErrCommitOutcomeUnknown):
		return eoskit.TxnOutcomeUnknown
	}
	return eoskit.TxnAborted
}

// Commit flushes the transaction's records and commits them. It returns:
//
//   - nil: committed; visible to read_committed consumers.
//   - an error wrapping ErrAborted: not committed (a record failed, the
//     flush did not finish before ctx was done, or the coordinator refused
//     the commit); the transaction was aborted and can be retried. When the
//     coordinator answered INVALID_TXN_STATE (KAFKA-20785), the producer was
//     re-initialised on a new epoch first, so the next Begin works.
//   - an error wrapping eoskit.ErrCommitOutcomeUnknown: the commit was sent but its
//     answer was lost. The producer was re-initialised on a new epoch (never
//     aborting on the old one, KAFKA-17754) and can begin a new transaction.
//     (On transaction.version 2, when the re-initialisation shows that the
//     epoch moved, the commit is retried on its own epoch, which KIP-890
//     answers idempotently: then Commit returns nil or the fenced error.)
//   - an error wrapping ErrFenced: fatal, see TxProducer.
//
// Do not cancel ctx to bound an ordinary commit: a cancelled commit is an
// unknown outcome.
func (tx *Tx) Commit(ctx context.Context) error {
	p := tx.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !tx.end() {
		return fmt.Errorf("producer: commit: %w: the transaction has already ended", ErrTxnState)
	}
	p.open = nil
	if p.fatal != nil {
		return p.fatal
	}
	start := time.Now()
	pid, epoch := int64(-1), int16(-1)
	if err := tx.cl.Flush(ctx); err != nil {
		err = p.abortLocked(ctx, fmt.Errorf("records were still unflushed: %w", err))
		tx.ended(pid, epoch, eoskit.AbortOther, start, time.Since(start), err)
		return err
	}
	flush := time.Since(start)
	if ferr := tx.first.Err(); ferr != nil {
		err := p.abortLocked(ctx, fmt.Errorf("a record failed: %w", mapErr(nil, ferr)))
		tx.ended(pid, epoch, eoskit.AbortProduceError, start, flush, err)
		return err
	}
	pid, epoch, _ = tx.cl.ProducerID(ctx) // loaded: no request; the ID and epoch this commit is sent with
	err := tx.cl.EndTransaction(ctx, kgo.TryCommit)
	switch {
	case err == nil:
	case isFencedErr(err):
		err = p.fatalErr(err)
	case errors.Is(err, kerr.InvalidTxnState):
		err = p.refusedInvalidStateLocked(ctx, err, pid, epoch)
	case errors.Is(err, kerr.OperationNotAttempted), errors.Is(err, kerr.TransactionAbortable), !outcomeUnknown(err):
		err = p.abortLocked(ctx, fmt.Errorf("the commit was refused: %w", err))
	default:
		err = p.unknownOutcomeLocked(ctx, err, pid, epoch)
	}
	tx.ended(pid, epoch, eoskit.AbortOther, start, flush, err)
	return err
}

// Abort discards the transaction's records: read_committed consumers never
// see them. It returns nil once the abort is confirmed, an error matching
// eoskit.ErrFenced if the producer was fenced, or another error if the
// abort could not be confirmed (the transaction still cannot commit: the
// next Begin re-initialises the producer, which aborts it, or the
// coordinator times it out).
func (tx *Tx) Abort(ctx context.Context) error {
	return tx.abort(ctx, eoskit.AbortRequested)
}

func (tx *Tx) abort(ctx context.Context, reason eoskit.AbortReason) error {
	p := tx.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !tx.end() {
		return fmt.Errorf("producer: abort: %w: the transaction has already ended", ErrTxnState)
	}
	p.open = nil
	if p.fatal != nil {
		return p.fatal
	}
	start := time.Now()
	pid, epoch, _ := tx.cl.ProducerID(ctx)
	err := p.abortLocked(ctx, nil)
	if err == nil {
		err = ErrAborted // for the hook only: the outcome is an abort
	}
	tx.ended(pid, epoch, reason, start, 0, err)
	if err == ErrAborted {
		return nil
	}
	return err
}

// liveCtx returns ctx, or a bounded context that survives ctx's
// cancellation if ctx is already done: an abort must still be sent.
func liveCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
}

// abortLocked aborts the open transaction. cause (may be nil) is why; the
// result wraps ErrAborted and cause, or is nil for a plain successful abort.
func (p *TxProducer) abortLocked(ctx context.Context, cause error) error {
	ctx, cancel := liveCtx(ctx)
	defer cancel()
	aerr := p.Client().AbortBufferedRecords(ctx)
	if aerr == nil {
		aerr = p.Client().EndTransaction(ctx, kgo.TryAbort)
	}
	switch {
	case errors.Is(cause, kerr.ProducerFenced), errors.Is(cause, kerr.TransactionalIDAuthorizationFailed):
		return p.fatalErr(cause)
	case aerr != nil && isFencedErr(aerr):
		return p.fatalErr(aerr)
	case aerr != nil && cause != nil:
		return fmt.Errorf("producer: transaction %w: %w (the abort was not confirmed: %w; the transaction cannot commit)", ErrAborted, cause, aerr)
	case aerr != nil:
		return fmt.Errorf("producer: abort not confirmed (the transaction cannot commit; the next Begin re-initialises the producer): %w", aerr)
	case cause != nil:
		return fmt.Errorf("producer: transaction %w: %w", ErrAborted, cause)
	}
	return nil
}

// unknownOutcomeLocked handles a commit whose answer was lost. It never
// sends an abort on the commit's epoch (KAFKA-17754). Instead:
//
//  1. franz-go's TryAbort path re-runs InitProducerID with the old ID and
//     epoch: the coordinator bumps the epoch and aborts the transaction if it
//     is still open, so no delayed request of the old epoch can touch a later
//     transaction. The outcome stays unknown (the commit may have landed).
//  2. With transaction.version 2, a commit that did land has already bumped
//     the epoch, so that InitProducerID is answered PRODUCER_FENCED. The
//     commit is then retried on its own epoch, which KIP-890 defines as a
//     retry: success means it committed. The producer then starts a fresh
//     client (a new epoch again). Any other answer leaves the producer unable
//     to prove it still owns the ID: that is fatal (eoskit.ErrFenced).
func (p *TxProducer) unknownOutcomeLocked(ctx context.Context, cause error, pid int64, epoch int16) error {
	ctx, cancel := liveCtx(ctx)
	defer cancel()
	p.cfg.logger.Warn("transaction commit outcome unknown; re-initialising the producer on a new epoch",
		eoskit.LogKeyTxnID, p.id, eoskit.LogKeyProducerID, pid, eoskit.LogKeyEpoch, epoch, eoskit.LogKeyErr, cause)
	cl := p.Client()
	rerr := cl.EndTransaction(ctx, kgo.TryAbort)
	if rerr == nil {
		_, _, rerr = cl.ProducerID(ctx)
	}
	switch {
	case rerr == nil:
		return fmt.Errorf("producer: %w: treat the records as maybe written; the producer was re-initialised on a new epoch: %w", eoskit.ErrCommitOutcomeUnknown, cause)
	case !errors.Is(rerr, kerr.ProducerFenced) && !errors.Is(rerr, kerr.InvalidProducerEpoch):
		if isFencedErr(rerr) {
			return p.fatalErr(rerr)
		}
		return fmt.Errorf("producer: %w: treat the records as maybe written (re-initialisation failed too and is retried at the next Begin: %v): %w", eoskit.ErrCommitOutcomeUnknown, rerr, cause)
	}

	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = p.id, pid, epoch, true
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		p.cfg.logger.Error("commit retry after PRODUCER_FENCED failed", eoskit.LogKeyTxnID, p.id, eoskit.LogKeyErr, err)
		p.fatalErr(fmt.Errorf("%w (re-initialising: %v; retrying the commit: %v)", eoskit.ErrCommitOutcomeUnknown, rerr, err))
		return fmt.Errorf("producer: %w: %w", eoskit.ErrCommitOutcomeUnknown, p.fatal)
	}
	p.cfg.logger.Info("commit retry confirmed the commit; starting a fresh producer", eoskit.LogKeyTxnID, p.id)
	if err := p.renewLocked(ctx); err != nil {
		if errors.Is(err, eoskit.ErrFenced) {
			return err
		}
		return fmt.Errorf("producer: the transaction committed, but the fresh producer failed to initialise (retried at the next produce): %w", err)
	}
	return nil
}

// refusedInvalidStateLocked handles a commit answered INVALID_TXN_STATE
// (KAFKA-20785: the coordinator's view of the transaction is not the
// client's; transaction.version 2 also answers so when a newer instance's
// InitProducerID aborted the transaction). franz-go marks its producer ID
// fatal after that answer, so an abort cannot be sent and every later Begin
// would fail.
//
// The producer first re-initialises at the commit's producer ID and epoch
// (KIP-360, internal/reinit): PRODUCER_FENCED there means a newer instance
// owns the ID, and the producer is fenced (a plain initialisation would take
// the ID back from it and fence it instead). Otherwise the epoch is bumped,
// which aborts the transaction, and the producer starts a fresh client so
// the next transaction commits as usual. (A newer instance that initialises
// in the moment between that check and the fresh client's initialisation
// is fenced by it; every initialisation aborts the other's open
// transaction, so exactly-once holds either way.)
func (p *TxProducer) refusedInvalidStateLocked(ctx context.Context, cause error, pid int64, epoch int16) error {
	ctx, cancel := liveCtx(ctx)
	defer cancel()
	p.cfg.logger.Warn("commit refused with INVALID_TXN_STATE; re-initialising the producer", eoskit.LogKeyTxnID, p.id,
		eoskit.LogKeyProducerID, pid, eoskit.LogKeyEpoch, epoch, eoskit.LogKeyErr, cause)
	if pid >= 0 {
		res := reinit.Reinit(ctx, p.Client(), reinit.Request{TransactionalID: p.id, Timeout: p.cfg.txnTimeout, ProducerID: pid, Epoch: epoch})
		switch res.Outcome {
		case reinit.Fenced:
			return p.fatalErr(fmt.Errorf("the commit was refused (%v) and re-initialising at producer ID %d epoch %d was answered: %w", cause, pid, epoch, res.Err))
		case reinit.Unknown:
			p.cfg.logger.Warn("could not confirm the transactional ID is still this producer's; initialising a fresh client", eoskit.LogKeyTxnID, p.id, eoskit.LogKeyErr, res.Err)
		}
	}
	if err := p.renewLocked(ctx); err != nil {
		if errors.Is(err, eoskit.ErrFenced) {
			return err
		}
		return fmt.Errorf("producer: transaction %w: the commit was refused: %w (re-initialising the producer failed and is retried at the next produce: %v; the transaction cannot commit)", ErrAborted, cause, err)
	}
	return fmt.Errorf("producer: transaction %w: the commit was refused and the producer re-initialised on a new epoch: %w", ErrAborted, cause)
}

// renewLocked replaces the client with a fresh one and initialises its
// producer ID (fencing the old epoch, which aborts a transaction still open
// on it). A fenced or unauthorised answer is fatal.
func (p *TxProducer) renewLocked(ctx context.Context) error {
	p.Client().Close()
	fresh, err := kgo.NewClient(p.cfg.kgoOptions(p.id)...)
	if err != nil {
		return p.fatalErr(err) // cannot happen: the same options built the first client
	}
	p.cl.Store(fresh)
	if _, _, err := fresh.ProducerID(ctx); err != nil {
		if isFencedErr(err) {
			return p.fatalErr(err)
		}
		return mapErr(nil, err)
	}
	return nil
}

// Run runs fn in a new transaction in the spirit of database/sql: it begins,
// calls fn, commits if fn returns nil (returning Commit's error), and aborts
// if fn returns an error (returning an error wrapping ErrAborted and fn's
// error) or panics (aborting, then re-panicking with the same value).
func (p *TxProducer) Run(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := p.Begin()
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			if aerr := tx.abort(ctx, eoskit.AbortHandlerError); aerr != nil {
				p.cfg.logger.Error("abort after panic failed", eoskit.LogKeyTxnID, p.id, eoskit.LogKeyErr, aerr)
			}
			panic(r)
		}
	}()
	if ferr := fn(tx); ferr != nil {
		aerr := tx.abort(ctx, eoskit.AbortHandlerError)
		if errors.Is(aerr, eoskit.ErrFenced) {
			return errors.Join(ferr, aerr)
		}
		if aerr != nil && !errors.Is(aerr, ErrTxnState) {
			return fmt.Errorf("producer: transaction %w: %w (%v)", ErrAborted, ferr, aerr)
		}
		return fmt.Errorf("producer: transaction %w: %w", ErrAborted, ferr)
	}
	return tx.Commit(ctx)
}

// Close aborts an open transaction (bounded by ctx) and closes the client.
func (p *TxProducer) Close(ctx context.Context) error {
	p.mu.Lock()
	tx := p.open
	p.mu.Unlock()
	var err error
	if tx != nil {
		if err = tx.abort(ctx, eoskit.AbortShutdown); errors.Is(err, ErrTxnState) {
			err = nil
		}
	}
	p.Client().Close()
	return err
}
