package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
)

// transaction is one Kafka transaction: the outputs it produced (each with
// the input it came from), their first error, and its counts. A new value
// per transaction, so nothing of an ended transaction (a late produce
// error, a flush timeout) leaks into the next.
type transaction struct {
	s       *session
	began   time.Time
	member  string // the group member and generation it began in
	gen     int32
	records int // input records handled
	dead    int // input records dead-lettered
	sent    []output
	promise func(*kgo.Record, error) // t.produced, bound once per transaction
	// acked counts the outputs acknowledged without error when the hooks
	// take produced runs (Processor.prodRuns). Only promises write it,
	// and franz-go calls them serially; it is read once no produce is
	// buffered (the client's lock orders the two), then settled is set.
	acked   int
	settled bool

	mu    sync.Mutex
	first error    // first produce error
	bad   []output // outputs that can never be produced
}

// output is an output record and the input it came from (nil: none).
type output struct{ from, out *kgo.Record }

func newTransaction(s *session) *transaction {
	t := &transaction{s: s, began: time.Now()}
	t.member, t.gen = s.gts.Client().GroupMetadata()
	t.promise = t.produced
	return t
}

// due reports whether the transaction is full or old enough to end.
func (t *transaction) due() bool {
	c := &t.s.p.cfg
	return t.records >= c.maxRecords || !time.Now().Before(t.began.Add(c.interval))
}

// produce sends out as an output of from in this transaction. The
// background context is deliberate: a shutdown must not fail records of a
// transaction that is about to commit.
func (t *transaction) produce(from, out *kgo.Record) {
	if t.s.p.cfg.provenance && from != nil {
		out.Headers = stamp(out.Headers, from)
	}
	t.sent = append(t.sent, output{from, out})
	t.s.gts.Produce(context.Background(), out, t.promise)
}

// produced is every output's promise. franz-go's kgo.FirstErrPromise keeps
// only the first error; the transaction also needs the records that can
// never be produced, to find the inputs they came from.
func (t *transaction) produced(r *kgo.Record, err error) {
	if err != nil {
		t.mu.Lock()
		if t.first == nil {
			t.first = err
		}
		if isPermanent(err) {
			t.bad = append(t.bad, output{out: r})
		}
		t.mu.Unlock()
	} else if t.s.p.prodRuns {
		t.acked++ // reported by settleProduced
		return
	}
	t.s.p.hooks.Produce(eoskit.Produced{Record: r, Err: err})
}

// settleProduced reports t's acknowledged outputs as one run
// (HookProducedRun) once every produce of t is answered, and tells whether
// it did. A session whose end left records in flight calls it again once
// its client is closed (session.close).
func (s *session) settleProduced(t *transaction) bool {
	p := s.p
	if !p.prodRuns || t.settled {
		return true
	}
	if s.gts.Client().BufferedProduceRecords() != 0 {
		return false // promises to come: reading acked would race them
	}
	t.settled = true
	p.hooks.ProducedRun(eoskit.ProducedRun{TransactionalID: p.cfg.txnID, Records: t.acked})
	return true
}

// produceResult returns the first produce error and the outputs that can
// never be produced, with their inputs.
func (t *transaction) produceResult() (first error, bad []output) {
	t.mu.Lock()
	first, bad = t.first, append([]output(nil), t.bad...)
	t.mu.Unlock()
	for i := range bad {
		for _, o := range t.sent {
			if o.out == bad[i].out {
				bad[i].from = o.from
				break
			}
		}
	}
	return first, bad
}

// end ends t, committing if commit and nothing failed, and is the one
// place where a transaction's outcome is decided, counted, logged and
// reported. It returns nil when the session may go on and otherwise the
// error that ends the session; the package doc's table lists each case.
func (s *session) end(t *transaction, commit bool, reason eoskit.AbortReason) error {
	p := s.p
	c := &p.cfg
	ev := eoskit.TxnEnd{TransactionalID: c.txnID, Group: c.group, ProducerID: s.producerID, Epoch: s.epoch,
		Records: t.records, Outputs: len(t.sent), DeadLettered: t.dead, Began: t.began}
	if p.hooks.HasTxnEnd() {
		ev.Offsets = offsetsOf(s.gts.Client().UncommittedOffsets())
	}
	// Not the caller's ctx: cancelling End leaves the client in an unknown
	// state. The transaction timeout bounds it.
	ctx, cancel := context.WithTimeout(context.Background(), c.txnTimeout)
	defer cancel()
	start := time.Now()
	if commit {
		// Flush first so that every output's produce result is known
		// before choosing between commit and abort.
		if err := s.gts.Client().Flush(ctx); err != nil {
			ev.Flush, ev.Duration = time.Since(start), time.Since(start)
			ev.Outcome, ev.Reason, ev.Err = eoskit.TxnAborted, eoskit.AbortOther, err
			s.settleOrDefer(t)
			p.report(ev)
			return fmt.Errorf("txn: flush before commit (txn_id %s), rebuilding the session (the new epoch aborts the transaction): %w", c.txnID, err)
		}
	}
	ev.Flush = time.Since(start)
	perr, _ := t.produceResult()
	try := commit && perr == nil
	endStart := time.Now()
	committed, err := s.gts.End(ctx, kgo.TransactionEndTry(try))
	ev.Commit = time.Since(endStart)
	ev.Duration = time.Since(start)
	// A revoke or loss, or a generation that moved (the member was kicked:
	// franz-go aborted without sending the commit), explains a commit that
	// did not happen.
	member, gen := s.gts.Client().GroupMetadata()
	rebalanced := s.rebalanced.Swap(false) || member != t.member || gen != t.gen
	// End flushed or aborted every buffered record: every promise has run.
	perr, bad := t.produceResult()
	if perr != nil && reason == eoskit.AbortNone {
		reason = eoskit.AbortProduceError
	}

	// Fenced: PRODUCER_FENCED anywhere, or INVALID_PRODUCER_EPOCH from the
	// coordinator unless a produce already got it (then it is the
	// coordinator's timeout of this transaction: KIP-588, abortable).
	fenced := isFencedProduce(perr) || errors.Is(err, kerr.ProducerFenced) || isEpochError(err) && !isEpochError(perr)

	var next error // what the session does next: nil goes on
	switch {
	case fenced && s.timedOutByCoordinator(t):
		// The coordinator aborted this transaction at its timeout and
		// bumped the epoch for it (the CI's coordinator-frozen-isolated,
		// tv1: PRODUCER_FENCED, from the coordinator or from a produce
		// the partition leader verified with it): no other instance owns
		// the ID. Rebuild the session on a new epoch.
		ev.Outcome, ev.Reason = eoskit.TxnAborted, eoskit.AbortOther
		ev.Err = fmt.Errorf("the coordinator aborted the transaction at its timeout (%v): %w", c.txnTimeout, errors.Join(err, perr))
		next = fmt.Errorf("txn: end transaction (txn_id %s), rebuilding the session: %w", c.txnID, ev.Err)
	case fenced:
		cause := err
		if cause == nil || isFencedProduce(perr) {
			cause = perr
		}
		ev.Outcome, ev.Err = eoskit.TxnFenced, cause
		next = fmt.Errorf("txn: end transaction (txn_id %s): %w: %w", c.txnID, eoskit.ErrFenced, cause)
	case err != nil && try:
		// Unknown outcome: never abort on this epoch (KAFKA-17754); the
		// new session bumps it.
		ev.Outcome, ev.Err = eoskit.TxnOutcomeUnknown, err
		next = fmt.Errorf("txn: commit (txn_id %s): %w, rebuilding the session: %w", c.txnID, eoskit.ErrCommitOutcomeUnknown, err)
	case err != nil:
		ev.Outcome, ev.Reason, ev.Err = eoskit.TxnAborted, reason, err
		next = fmt.Errorf("txn: abort (txn_id %s), rebuilding the session (the new epoch aborts the transaction): %w", c.txnID, err)
	case committed:
		ev.Outcome = eoskit.TxnCommitted
	case try && !rebalanced:
		// A commit was sent and did not come back committed, and no
		// revoke explains it: franz-go retried an unconfirmed EndTxn as an
		// abort and rewound to its cached offsets, which may predate a
		// commit that landed. Rebuild: the new session re-reads the
		// committed offsets from the broker (stable offsets required).
		ev.Outcome = eoskit.TxnOutcomeUnknown
		ev.Err = errors.New("commit not confirmed and no rebalance explains it")
		next = fmt.Errorf("txn: commit (txn_id %s): %w: %w, rebuilding the session", c.txnID, eoskit.ErrCommitOutcomeUnknown, ev.Err)
	default:
		if try {
			reason = eoskit.AbortRebalance
		}
		ev.Outcome, ev.Reason = eoskit.TxnAborted, reason
		next = p.afterAbort(perr, bad)
		if ev.Err = perr; perr == nil {
			ev.Err = next
		}
	}
	if ev.Outcome == eoskit.TxnCommitted {
		s.progressed = true
		p.backoff = 0
	}
	if err != nil {
		s.unconfirmed = true // an EndTxn that errored may have landed
	}
	s.noteEnd(ev.Outcome)
	s.settleOrDefer(t)
	p.report(ev)
	return next
}

// settleOrDefer settles t's produced run now, or at the session's close
// if records are still in flight (only after an end that failed: the
// session then ends).
func (s *session) settleOrDefer(t *transaction) {
	if !s.settleProduced(t) {
		s.unsettled = t
	}
}

// timedOutByCoordinator reports whether the fence t's end met is the
// coordinator's abort of t at the transaction timeout: t was open that
// long, and the coordinator shows this producer ID one epoch past the
// session's, aborting or aborted. Every transaction version aborts a
// timed-out transaction at epoch+1; another instance's InitProducerID
// bumps once more (it is answered CONCURRENT_TRANSACTIONS while the
// abort completes, then retries). In the moment between the two this
// takes the newcomer's fence for a timeout: the rebuilt session then
// fences the newcomer, as any rebuild of transaction.version 1 may (the
// package doc's session-rebuild race); exactly-once holds either way.
func (s *session) timedOutByCoordinator(t *transaction) bool {
	c := &s.p.cfg
	if time.Since(t.began) < c.txnTimeout {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.txnTimeout)
	defer cancel()
	d, ok := s.describe(ctx)
	return ok && int(d.ProducerEpoch) == int(s.epoch)+1 && aborting(d)
}

// afterAbort decides what follows a clean abort that a produce error
// caused: nil goes on (the consumer was rewound to the committed offsets).
func (p *Processor) afterAbort(perr error, bad []output) error {
	c := &p.cfg
	switch {
	case perr == nil:
		return nil
	case len(bad) > 0:
		for _, b := range bad {
			if b.from == nil || c.deadLetter == "" || b.out.Topic == c.deadLetter {
				ue := &eoskit.UnproducibleError{OutputTopic: b.out.Topic, Err: p.explainOutput(b.out, perr)}
				if b.from != nil {
					ue.InputTopic, ue.InputPartition, ue.InputOffset = b.from.Topic, b.from.Partition, b.from.Offset
				}
				return ue
			}
			p.poisoned[positionOf(b.from)] = fmt.Errorf("output to %s can never be produced: %w", b.out.Topic, perr)
		}
		return nil // the retry dead-letters the inputs
	case isEpochError(perr):
		// INVALID_PRODUCER_EPOCH on a produce: the coordinator timed the
		// transaction out (KIP-588: abortable). Rebuild on a new epoch.
		return fmt.Errorf("txn: produce (txn_id %s): transaction timed out by the coordinator, rebuilding the session: %w", c.txnID, perr)
	}
	// Transient: retry the inputs after a growing backoff.
	p.backoff = min(max(2*p.backoff, c.retryBackoff), c.maxBackoff)
	p.st.add(func(s *Stats) { s.ProduceRetries++ })
	return nil
}

// explainOutput explains an authorization failure of an output topic.
func (p *Processor) explainOutput(out *kgo.Record, err error) error {
	return conn.ExplainAuthError(err, conn.Access{Group: p.cfg.group, TransactionalID: p.cfg.txnID,
		Input: p.cfg.topics, Output: []string{out.Topic}})
}

// report counts, logs and hands ev to the hooks.
func (p *Processor) report(ev eoskit.TxnEnd) {
	c := &p.cfg
	switch ev.Outcome {
	case eoskit.TxnCommitted:
		p.st.committed(ev.Records, ev.Outputs, ev.DeadLettered, ev.Duration)
		c.logger.Debug("txn: transaction committed", "txn_id", c.txnID, "group", c.group, "producer_id", ev.ProducerID,
			"epoch", ev.Epoch, "records", ev.Records, "outputs", ev.Outputs, "duration", ev.Duration)
	case eoskit.TxnAborted:
		p.st.add(func(s *Stats) { s.TxnsAborted++ })
		c.logger.Info("txn: transaction aborted, rewound to the committed offsets", "txn_id", c.txnID, "group", c.group,
			"producer_id", ev.ProducerID, "epoch", ev.Epoch, "reason", ev.Reason.String(), "records", ev.Records, "err", ev.Err)
	case eoskit.TxnOutcomeUnknown:
		p.st.add(func(s *Stats) { s.TxnsUnknown++ })
		c.logger.Info("txn: commit outcome unknown", "txn_id", c.txnID, "group", c.group,
			"producer_id", ev.ProducerID, "epoch", ev.Epoch, "records", ev.Records, "err", ev.Err)
	case eoskit.TxnFenced:
		c.logger.Error("txn: fenced", "txn_id", c.txnID, "group", c.group, "producer_id", ev.ProducerID, "epoch", ev.Epoch, "err", ev.Err)
	}
	p.hooks.TxnEnd(ev)
}

// offsetsOf drops the leader epochs.
func offsetsOf(m map[string]map[int32]kgo.EpochOffset) map[string]map[int32]int64 {
	out := make(map[string]map[int32]int64, len(m))
	for t, ps := range m {
		out[t] = make(map[int32]int64, len(ps))
		for p, o := range ps {
			out[t][p] = o.Offset
		}
	}
	return out
}
