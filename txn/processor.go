package txn

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
)

// ProvenanceHeader is the header stamped on every output record (unless
// Provenance(false)): its value is "<topic>/<partition>/<offset>" (decimal)
// of the input record the output came from. Verifiers match outputs to
// inputs with it.
const ProvenanceHeader = "eoskit-source"

// Header keys added to dead-lettered records.
const (
	DeadLetterError       = "eoskit-dlq-error"
	DeadLetterTopicHeader = "eoskit-dlq-topic"
	DeadLetterPartition   = "eoskit-dlq-partition"
	DeadLetterOffset      = "eoskit-dlq-offset"
)

// Emit queues an output record in the current transaction. Set its Topic;
// Partition is chosen by the partitioner (by key). The record must not be
// modified after emitting it. Emit may be called any number of times,
// only from the handler's goroutine while the handler runs.
type Emit func(out *kgo.Record)

// Handler processes one input record and emits zero or more outputs to any
// topics. It may be called again on the same record: after an error (a
// retry) or when a transaction aborts and the input is re-consumed. Only
// outputs of transactions that commit are visible to read_committed
// readers, so the handler needs no idempotence of its own for Kafka
// outputs; side effects outside Kafka are not covered.
type Handler func(ctx context.Context, in *kgo.Record, emit Emit) error

// BatchEmit queues out as an output of the input record from (whose
// coordinates go in the provenance header; from may be nil for none).
type BatchEmit func(from, out *kgo.Record)

// BatchHandler processes the records of one poll (all in the same
// transaction). On error the whole batch is retried; after the retries, it
// is dead-lettered record by record or Run stops.
type BatchHandler func(ctx context.Context, in []*kgo.Record, emit BatchEmit) error

// Copy returns a Handler that copies each input record (key, value,
// headers, timestamp) to topic to: an exactly-once topic copier.
func Copy(to string) Handler {
	return func(_ context.Context, in *kgo.Record, emit Emit) error {
		emit(&kgo.Record{Topic: to, Key: in.Key, Value: in.Value, Timestamp: in.Timestamp,
			Headers: append([]kgo.RecordHeader(nil), in.Headers...)})
		return nil
	}
}

// Processor consumes input topics in a consumer group and produces the
// handler's outputs, committing outputs and input offsets in one Kafka
// transaction. Create it with New or NewBatch; call Run once. Stats is safe
// to call from any goroutine at any time.
type Processor struct {
	cfg   config
	batch BatchHandler
	st    stats
	ran   atomic.Bool

	// per-transaction state, Run's goroutine only (produceErr: promises)
	produced   func(*kgo.Record, error) // onProduced, bound once
	prodMu     sync.Mutex
	produceErr error
	outputs    int
	dead       int
}

// New returns a Processor calling h once per input record. It validates
// the options and connects to nothing; Run does.
func New(h Handler, opts ...Opt) (*Processor, error) {
	if h == nil {
		return nil, fmt.Errorf("txn: nil handler: %w", ErrInvalidOption)
	}
	return NewBatch(func(ctx context.Context, in []*kgo.Record, emit BatchEmit) error {
		// One Emit per batch, not a closure per record: Emit is only
		// called while the handler of the current record runs.
		var cur *kgo.Record
		one := func(out *kgo.Record) { emit(cur, out) }
		for _, r := range in {
			cur = r
			if err := h(ctx, r, one); err != nil {
				return &recordErr{r: r, err: err}
			}
		}
		return nil
	}, opts...)
}

// recordErr names which record of a batch a per-record Handler failed on.
type recordErr struct {
	r   *kgo.Record
	err error
}

func (e *recordErr) Error() string { return e.err.Error() }
func (e *recordErr) Unwrap() error { return e.err }

// NewBatch is New for a handler that takes every record of a poll at once.
func NewBatch(h BatchHandler, opts ...Opt) (*Processor, error) {
	if h == nil {
		return nil, fmt.Errorf("txn: nil handler: %w", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Processor{cfg: cfg, batch: h}, nil
}

// Stats returns a snapshot of the counters.
func (p *Processor) Stats() Stats { return p.st.snapshot() }

// TransactionalID returns the instance's transactional ID.
func (p *Processor) TransactionalID() string { return p.cfg.txnID }

// Run consumes, processes and commits until ctx is cancelled or a fatal
// error occurs. It may be called once.
//
// On ctx cancellation, Run ends the open transaction — it commits if every
// polled record was handled, else it aborts — leaves the group, and
// returns nil.
//
// Errors: ErrFenced (another instance took the transactional ID: stop),
// ErrInvalidOption (franz-go rejected the options, e.g. from KgoOpts),
// ErrOffsetReset (a committed offset is out of range: an operator must
// decide), *HandlerError (poison record, no dead-letter topic),
// ErrAccessDenied (credentials, an ACL or TLS refused: the message names
// what and how to grant it). Any other
// failure (End errors, unknown commit outcome, lost coordinator, broker
// failures) closes the session and builds a new one with backoff; a new
// session re-initialises the producer ID, which bumps the epoch, so a
// transaction of unknown outcome is never aborted on the same epoch
// (KAFKA-17754).
func (p *Processor) Run(ctx context.Context) error {
	if !p.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("txn: Run called twice: create a new Processor: %w", ErrInvalidOption)
	}
	backoff := p.cfg.retryBackoff
	for {
		progressed, err := p.runSession(ctx)
		err = p.explainAccess(err)
		if err == nil || ctx.Err() != nil && !isFatal(err) {
			return nil
		}
		if isFatal(err) {
			return err
		}
		if progressed {
			backoff = p.cfg.retryBackoff
		}
		p.st.add(func(s *Stats) { s.SessionRestarts++ })
		p.cfg.logger.Warn("txn: rebuilding session", "txn_id", p.cfg.txnID, "group", p.cfg.group, "err", err, "backoff", backoff)
		p.eachHook(func(h Hook) {
			if h, ok := h.(HookSessionRestart); ok {
				h.OnSessionRestart(err)
			}
		})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.cfg.maxBackoff)
	}
}

func isFatal(err error) bool {
	return errors.Is(err, ErrFenced) || errors.Is(err, ErrOffsetReset) || errors.Is(err, ErrHandler) ||
		errors.Is(err, ErrInvalidOption) || errors.Is(err, ErrAccessDenied)
}

// explainAccess turns authentication, authorization and TLS failures, which
// no session rebuild can fix, into ErrAccessDenied with an explanation.
func (p *Processor) explainAccess(err error) error {
	if err == nil || errors.Is(err, ErrAccessDenied) {
		return err
	}
	explained := conn.ExplainAuthError(err, conn.Access{
		Group:           p.cfg.group,
		TransactionalID: p.cfg.txnID,
		Input:           p.cfg.topics,
	})
	var se *eoskit.AccessError
	if errors.As(explained, &se) {
		return fmt.Errorf("txn: %w: %w", ErrAccessDenied, explained)
	}
	return err
}

func (p *Processor) sessionOpts() []kgo.Opt {
	c := &p.cfg
	opts := append(c.conn.Opts(),
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topics...),
		kgo.TransactionalID(c.txnID),
		kgo.TransactionTimeout(c.txnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeStartOffset(c.start),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			p.st.add(func(s *Stats) { s.Rebalances++ })
			c.logger.Info("txn: partitions assigned", "txn_id", c.txnID, "group", c.group, "partitions", m)
			p.eachHook(func(h Hook) {
				if h, ok := h.(HookRebalance); ok {
					h.OnAssigned(m)
				}
			})
		}),
		kgo.OnPartitionsRevoked(p.onRevoked("revoked")),
		kgo.OnPartitionsLost(p.onRevoked("lost")),
	)
	if c.sessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(c.sessionTimeout))
	}
	return append(opts, c.kopts...)
}

func (p *Processor) onRevoked(how string) func(context.Context, *kgo.Client, map[string][]int32) {
	return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
		p.cfg.logger.Info("txn: partitions "+how, "txn_id", p.cfg.txnID, "group", p.cfg.group, "partitions", m)
		p.eachHook(func(h Hook) {
			if h, ok := h.(HookRebalance); ok {
				h.OnRevoked(m)
			}
		})
	}
}

// runSession runs one GroupTransactSession until shutdown (nil) or an
// error. progressed reports whether a transaction committed.
func (p *Processor) runSession(ctx context.Context) (progressed bool, err error) {
	sess, err := kgo.NewGroupTransactSession(p.sessionOpts()...)
	if err != nil {
		return false, fmt.Errorf("txn: %w: %w", err, ErrInvalidOption)
	}
	defer sess.Close() // leaves the group

	// Initialise the producer ID now, not at the first produce: this fences
	// a zombie with our transactional ID and aborts its open transaction, so
	// read_committed readers (the LSO) are unblocked at once.
	ictx, cancel := context.WithTimeout(ctx, p.cfg.txnTimeout)
	id, epoch, err := sess.Client().ProducerID(ictx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		if isFenced(err) {
			return false, fmt.Errorf("txn: init producer ID for %q: %w: %w", p.cfg.txnID, ErrFenced, err)
		}
		return false, fmt.Errorf("txn: init producer ID for %q: %w", p.cfg.txnID, err)
	}
	p.cfg.logger.Info("txn: session started", "txn_id", p.cfg.txnID, "group", p.cfg.group, "producer_id", id, "epoch", epoch)

	var (
		open    bool
		n       int
		started time.Time
	)
	for {
		pollCtx, cancelPoll := ctx, context.CancelFunc(func() {})
		if open {
			pollCtx, cancelPoll = context.WithDeadline(ctx, started.Add(p.cfg.interval))
		}
		limit := p.cfg.maxRecords - n
		if p.cfg.maxPoll > 0 {
			limit = min(limit, p.cfg.maxPoll)
		}
		fs := sess.PollRecords(pollCtx, limit)
		cancelPoll()
		recs := fs.Records()
		if ctx.Err() != nil {
			// Shutdown: commit only if nothing polled is left unhandled.
			if open || len(recs) > 0 {
				_, err := p.end(sess, open, n, len(recs) == 0)
				return progressed, err
			}
			return progressed, nil
		}
		if err := p.fetchErr(fs, pollCtx); err != nil {
			if open || len(recs) > 0 {
				if _, eerr := p.end(sess, open, n, false); eerr != nil && !isFatal(err) {
					return progressed, eerr
				}
			}
			return progressed, err
		}
		if len(recs) > 0 {
			if !open {
				if err := sess.Begin(); err != nil {
					return progressed, fmt.Errorf("txn: begin transaction: %w", err)
				}
				open, started = true, time.Now()
			}
			if err := p.process(ctx, sess, recs); err != nil {
				_, eerr := p.end(sess, open, n, false)
				if ctx.Err() != nil && !isFatal(err) {
					return progressed, eerr
				}
				if eerr != nil && !isFatal(err) {
					return progressed, eerr
				}
				return progressed, err
			}
			n += len(recs)
		}
		if open && (n >= p.cfg.maxRecords || !time.Now().Before(started.Add(p.cfg.interval))) {
			committed, err := p.end(sess, open, n, true)
			open, n = false, 0
			if err != nil {
				return progressed, err
			}
			progressed = progressed || committed
		}
	}
}

// fetchErr returns the fetch errors Run must not continue past.
func (p *Processor) fetchErr(fs kgo.Fetches, pollCtx context.Context) error {
	var errs []error
	for _, fe := range fs.Errors() {
		var dl *kgo.ErrDataLoss
		switch {
		case errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled):
			if pollCtx.Err() == nil {
				errs = append(errs, fe.Err)
			}
		case errors.Is(fe.Err, kgo.ErrClientClosed):
			errs = append(errs, fe.Err)
		case errors.As(fe.Err, &dl) || isOffsetOutOfRange(fe.Err):
			return fmt.Errorf("txn: topic %s partition %d: %w: %w", fe.Topic, fe.Partition, ErrOffsetReset, fe.Err)
		default:
			// franz-go retries these itself (leader moves, timeouts); log them.
			p.cfg.logger.Warn("txn: fetch error", "txn_id", p.cfg.txnID, "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
	}
	return errors.Join(errs...)
}

// process runs the handler on recs with retries and queues the outputs.
func (p *Processor) process(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) error {
	var queued []*kgo.Record
	var err error
	backoff := p.cfg.retryBackoff
	for attempt := 1; ; attempt++ {
		queued = queued[:0]
		err = p.batch(ctx, recs, func(from, out *kgo.Record) {
			if p.cfg.provenance && from != nil {
				out.Headers = stamp(out.Headers, from)
			}
			queued = append(queued, out)
		})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("txn: handler: %w", err)
		}
		if attempt > p.cfg.retries {
			return p.poison(ctx, sess, recs, err, attempt)
		}
		p.cfg.logger.Warn("txn: handler failed, retrying", "txn_id", p.cfg.txnID, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("txn: handler: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.cfg.maxBackoff)
	}
	for _, out := range queued {
		p.produce(sess, out)
	}
	return nil
}

// poison handles a batch the handler still fails on after the retries.
func (p *Processor) poison(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record, err error, attempts int) error {
	bad := recs[0]
	var re *recordErr
	if errors.As(err, &re) {
		bad, err = re.r, re.err
	}
	if p.cfg.deadLetter == "" {
		return &HandlerError{Topic: bad.Topic, Partition: bad.Partition, Offset: bad.Offset, Attempts: attempts, Err: err}
	}
	if re == nil { // batch handler: the whole batch goes aside
		for _, r := range recs {
			p.deadLetter(sess, r, err)
		}
		return nil
	}
	// Per-record handler: dead-letter the bad record, run the rest again.
	var before, after []*kgo.Record
	for i, r := range recs {
		if r == bad {
			before, after = recs[:i], recs[i+1:]
		}
	}
	if len(before) > 0 {
		if err := p.process(ctx, sess, before); err != nil {
			return err
		}
	}
	p.deadLetter(sess, bad, err)
	if len(after) > 0 {
		return p.process(ctx, sess, after)
	}
	return nil
}

func (p *Processor) deadLetter(sess *kgo.GroupTransactSession, r *kgo.Record, err error) {
	hs := append([]kgo.RecordHeader(nil), r.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: DeadLetterError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: DeadLetterTopicHeader, Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: DeadLetterPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		kgo.RecordHeader{Key: DeadLetterOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
	)
	if p.cfg.provenance {
		hs = stamp(hs, r)
	}
	p.cfg.logger.Warn("txn: dead-lettering input record", "txn_id", p.cfg.txnID, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
	p.eachHook(func(h Hook) {
		if h, ok := h.(HookDeadLetter); ok {
			h.OnDeadLetter(r.Topic, r.Partition, r.Offset, err)
		}
	})
	p.dead++
	p.produce(sess, &kgo.Record{Topic: p.cfg.deadLetter, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: hs})
}

func (p *Processor) produce(sess *kgo.GroupTransactSession, r *kgo.Record) {
	p.outputs++
	// Background context: a shutdown must not fail records of a
	// transaction that is about to commit.
	if p.produced == nil {
		p.produced = p.onProduced // one method value, not a closure per record
	}
	sess.Produce(context.Background(), r, p.produced)
}

// onProduced keeps the first produce error of the transaction.
func (p *Processor) onProduced(_ *kgo.Record, err error) {
	if err != nil {
		p.prodMu.Lock()
		if p.produceErr == nil {
			p.produceErr = err
		}
		p.prodMu.Unlock()
	}
}

// end ends the open transaction (or the empty one a revocation left
// marked), committing if commit and nothing failed. A non-nil error means
// the session must be rebuilt (or, wrapping ErrFenced, Run must stop).
func (p *Processor) end(sess *kgo.GroupTransactSession, open bool, records int, commit bool) (bool, error) {
	outputs, dead := p.outputs, p.dead
	p.outputs, p.dead = 0, 0
	// Not the caller's ctx: cancelling End leaves the client in an unknown
	// state. The transaction timeout bounds it.
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.txnTimeout)
	defer cancel()
	began := time.Now()
	commit = commit && open // records polled but no transaction begun: abort to rewind
	if commit {
		// Flush first so that every output's produce result is known
		// before choosing between commit and abort.
		if err := sess.Client().Flush(ctx); err != nil {
			return false, fmt.Errorf("txn: flush before commit (txn_id %s), rebuilding the session: %w", p.cfg.txnID, err)
		}
	}
	p.prodMu.Lock()
	perr := p.produceErr
	p.prodMu.Unlock()
	committed, err := sess.End(ctx, kgo.TransactionEndTry(commit && perr == nil))
	lat := time.Since(began)
	// End flushed or aborted every buffered record, so every promise of
	// this transaction has run: reset for the next one. (Resetting before
	// End would let the abort's own "aborting" errors fail the next
	// transaction, and so on for ever.)
	p.prodMu.Lock()
	if perr == nil {
		perr = p.produceErr
	}
	p.produceErr = nil
	p.prodMu.Unlock()
	ev := TxnEnd{Committed: committed, Records: records, Outputs: outputs, Latency: lat, Err: err}
	p.eachHook(func(h Hook) {
		if h, ok := h.(HookTxnEnd); ok {
			h.OnTxnEnd(ev)
		}
	})
	if perr != nil && isFenced(perr) && err == nil {
		err = perr
	}
	if err != nil {
		if isFenced(err) {
			return false, fmt.Errorf("txn: end transaction (txn_id %s): %w: %w", p.cfg.txnID, ErrFenced, err)
		}
		// Unknown outcome: do not abort on this epoch (KAFKA-17754); the
		// caller rebuilds the session, which bumps the epoch.
		return false, fmt.Errorf("txn: end transaction (txn_id %s), outcome unknown, rebuilding the session: %w", p.cfg.txnID, err)
	}
	if committed {
		p.st.committed(records, outputs, dead, lat)
	} else {
		p.st.add(func(s *Stats) { s.TxnsAborted++ })
		p.cfg.logger.Info("txn: transaction aborted, rewound to committed offsets", "txn_id", p.cfg.txnID, "records", records, "produce_err", perr)
	}
	return committed, nil
}

// Source returns the provenance value "<topic>/<partition>/<offset>" of r.
func Source(r *kgo.Record) string {
	return r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10)
}

// stamp sets the provenance header to from's coordinates, replacing one
// copied from an upstream pipeline's record.
func stamp(hs []kgo.RecordHeader, from *kgo.Record) []kgo.RecordHeader {
	kept := hs[:0:0]
	for _, h := range hs {
		if h.Key != ProvenanceHeader {
			kept = append(kept, h)
		}
	}
	return append(kept, kgo.RecordHeader{Key: ProvenanceHeader, Value: []byte(Source(from))})
}
