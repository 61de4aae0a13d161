package txn

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
	"github.com/eoskit/eoskit/internal/kgoguard"
	"github.com/eoskit/eoskit/internal/reinit"
)

// session is one franz-go GroupTransactSession: a group member and a
// transactional producer on one producer epoch. Any error that leaves the
// transaction state unknown ends it; the Processor builds a new one.
type session struct {
	p          *Processor
	gts        *kgo.GroupTransactSession
	producerID int64
	epoch      int16
	progressed bool        // a transaction committed
	rebalanced atomic.Bool // partitions were revoked or lost since the last End

	// For probeFence: when the open transaction began, whether an EndTxn
	// went unconfirmed, whether commits leave the epoch (transaction.version 1).
	openSince   time.Time
	unconfirmed bool
	unsettled   *transaction // ended with records in flight: its produced run waits for close
	tv1         bool
	tvKnown     bool // tv1 was learnt from the cluster, not from a commit
}

// checkKgoOpts refuses Conn.KgoOpts that change a guarded option from
// what txn sets.
func checkKgoOpts(c *config) error {
	guards := kgoguard.For("txn", kgoguard.Consuming, kgoguard.Producing, kgoguard.Transactional)
	return kgoguard.Check("txn", []kgo.Opt{kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t")}, c.guardedOpts(), c.conn.KgoOpts, guards)
}

// guardedOpts are the franz-go options txn's guarantees rest on.
func (c *config) guardedOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topics...),
		kgo.TransactionalID(c.txnID),
		kgo.TransactionTimeout(c.txnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeStartOffset(c.start),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	}
	if c.sessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(c.sessionTimeout))
	}
	return opts
}

// kgoOpts builds the session's franz-go options: the connection, the
// caller's tuning (Conn.KgoOpts, checked by checkKgoOpts), then what txn's
// guarantees rest on, last, with the partition callbacks.
func (s *session) kgoOpts() []kgo.Opt {
	c := &s.p.cfg
	opts := append(c.conn.Opts(), c.guardedOpts()...)
	return append(opts,
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked(false)),
		kgo.OnPartitionsLost(s.onRevoked(true)),
	)
}

// newSession builds a session and initialises its producer ID now, not at
// the first produce: this fences a zombie with the same transactional ID
// and aborts its open transaction, so read_committed readers (the LSO) are
// unblocked at once. nil, nil on shutdown.
func (p *Processor) newSession(ctx context.Context) (*session, error) {
	s := &session{p: p}
	gts, err := kgo.NewGroupTransactSession(s.kgoOpts()...)
	if err != nil {
		return nil, fmt.Errorf("txn: franz-go rejected the options: %w: %w", eoskit.ErrInvalidOption, err)
	}
	s.gts = gts
	ictx, cancel := context.WithTimeout(ctx, p.cfg.txnTimeout)
	id, epoch, err := gts.Client().ProducerID(ictx)
	cancel()
	if err != nil {
		gts.Close()
		switch {
		case ctx.Err() != nil:
			return nil, nil
		case isFencedCoordinator(err):
			return nil, fmt.Errorf("txn: init producer ID for %q: %w: %w", p.cfg.txnID, eoskit.ErrFenced, err)
		}
		return nil, fmt.Errorf("txn: init producer ID for %q: %w", p.cfg.txnID, err)
	}
	s.producerID, s.epoch = id, epoch
	s.tv1, s.tvKnown = learnTxnVersion(ctx, gts.Client(), p.cfg.txnTimeout)
	p.cfg.logger.Info("txn: session started", "txn_id", p.cfg.txnID, "group", p.cfg.group, "producer_id", id, "epoch", epoch)
	p.hooks.SessionStart(eoskit.SessionStart{TransactionalID: p.cfg.txnID, Group: p.cfg.group, ProducerID: id, Epoch: epoch})
	return s, nil
}

// learnTxnVersion asks one broker for the cluster's finalized
// transaction.version (ApiVersions, KIP-584) the way franz-go decides to
// speak KIP-890 part 2 when it begins a transaction: version 2 only when
// the cluster finalized it and the client's MaxVersions (Conn.KgoOpts)
// allow Produce v12, EndTxn v5 and TxnOffsetCommit v5. Without an answer,
// known is false and noteEnd infers the version from the first commit (a
// transaction.version 1 commit leaves the epoch). Knowing it before the
// first commit matters: a session whose first transaction outlives the
// transaction timeout is fenced by the coordinator's abort under version 1
// (KIP-588's re-initialisation with the old epoch is refused), which is no
// sign of another instance.
func learnTxnVersion(ctx context.Context, cl *kgo.Client, within time.Duration) (tv1, known bool) {
	rctx, cancel := context.WithTimeout(ctx, min(within, 5*time.Second))
	defer cancel()
	// No software name and version: franz-go fills in the client's own
	// (KIP-511), as on every connection.
	req := kmsg.NewPtrApiVersionsRequest()
	resp, err := req.RequestWith(rctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		return false, false
	}
	level := int16(0)
	if resp.FinalizedFeaturesEpoch != -1 {
		for _, f := range resp.FinalizedFeatures {
			if f.Name == "transaction.version" {
				level = f.MaxVersionLevel
			}
		}
	}
	if level < 2 {
		return true, true
	}
	if mv, ok := cl.OptValue(kgo.MaxVersions).(*kversion.Versions); ok && mv != nil {
		for _, k := range []struct {
			key kmsg.Key
			min int16
		}{{kmsg.Produce, 12}, {kmsg.EndTxn, 5}, {kmsg.TxnOffsetCommit, 5}} {
			if v, ok := mv.LookupMaxKeyVersion(int16(k.key)); !ok || v < k.min {
				return true, true
			}
		}
	}
	return false, true
}

// close leaves the group. The closed client fails what it still buffered;
// once those promises have run, the produced run of a transaction that
// ended with records in flight is reported (waiting at most 5 s for them).
func (s *session) close() {
	s.gts.Close()
	if t := s.unsettled; t != nil {
		for deadline := time.Now().Add(5 * time.Second); !s.settleProduced(t) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if !t.settled {
			s.p.cfg.logger.Warn("txn: produce answers still pending 5 s after the client closed; their records are not counted in HookProducedRun",
				"txn_id", s.p.cfg.txnID, "group", s.p.cfg.group)
		}
	}
}

func (s *session) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.p.st.add(func(st *Stats) { st.Rebalances++ })
	s.p.cfg.logger.Info("txn: partitions assigned", "txn_id", s.p.cfg.txnID, "group", s.p.cfg.group, "partitions", m)
	s.p.hooks.Assigned(eoskit.Assignment{Group: s.p.cfg.group, Partitions: m})
}

func (s *session) onRevoked(lost bool) func(context.Context, *kgo.Client, map[string][]int32) {
	how := "revoked"
	if lost {
		how = "lost"
	}
	return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
		if lost || len(m) > 0 {
			s.rebalanced.Store(true) // the session aborts the next End
		}
		s.p.cfg.logger.Info("txn: partitions "+how, "txn_id", s.p.cfg.txnID, "group", s.p.cfg.group, "partitions", m)
		s.p.hooks.Revoked(eoskit.Assignment{Group: s.p.cfg.group, Partitions: m, Lost: lost})
	}
}

// run is the session's loop: poll, process, end. It returns nil on
// shutdown and otherwise the error that ends the session.
func (s *session) run(ctx context.Context) error {
	var t *transaction
	for {
		recs, err := s.poll(ctx, t)
		switch {
		case ctx.Err() != nil:
			return s.shutdown(t, len(recs))
		case err != nil:
			return s.fail(t, len(recs), eoskit.AbortOther, err)
		}
		if len(recs) > 0 {
			if t == nil {
				if t, err = s.begin(ctx); t == nil {
					return err
				}
			}
			if err := t.process(ctx, recs); err != nil {
				reason := eoskit.AbortHandlerError
				if ctx.Err() != nil {
					reason = eoskit.AbortShutdown
				}
				return s.fail(t, len(recs), reason, err)
			}
		}
		if t != nil && t.due() {
			if err := s.end(t, true, eoskit.AbortNone); err != nil {
				return err
			}
			t = nil
		}
	}
}

// poll waits for records, up to the open transaction's deadline.
func (s *session) poll(ctx context.Context, t *transaction) ([]*kgo.Record, error) {
	c := &s.p.cfg
	pollCtx, limit := ctx, c.maxRecords
	if t != nil {
		var cancel context.CancelFunc
		pollCtx, cancel = context.WithDeadline(ctx, t.began.Add(c.interval))
		defer cancel()
		limit -= t.records
	}
	if c.maxPoll > 0 {
		limit = min(limit, c.maxPoll)
	}
	fs := s.gts.PollRecords(pollCtx, limit)
	return fs.Records(), s.fetchErr(fs, pollCtx)
}

// fetchErr returns the fetch errors the session must not continue past.
func (s *session) fetchErr(fs kgo.Fetches, pollCtx context.Context) error {
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
			return &eoskit.PartitionError{Topic: fe.Topic, Partition: fe.Partition, Offset: -1,
				Err: fmt.Errorf("txn: %w: an operator must move the group's offset: %w", eoskit.ErrPositionLost, fe.Err)}
		case isAuthError(fe.Err):
			return fmt.Errorf("txn: fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		default:
			// franz-go retries these itself (leader moves, timeouts); log them.
			s.p.cfg.logger.Warn("txn: fetch error", "txn_id", s.p.cfg.txnID, "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
	}
	return errors.Join(errs...)
}

// begin opens a transaction after the backoff a transient produce error
// asked for. It returns nil and nil on shutdown.
func (s *session) begin(ctx context.Context) (*transaction, error) {
	p := s.p
	if p.backoff > 0 {
		select {
		case <-ctx.Done():
			return nil, s.fail(nil, 1, eoskit.AbortShutdown, nil)
		case <-time.After(p.backoff):
		}
	}
	if err := s.gts.Begin(); err != nil {
		return nil, fmt.Errorf("txn: begin transaction: %w", err)
	}
	t := newTransaction(s)
	s.openSince = t.began
	p.hooks.TxnBegin(eoskit.TxnBegin{TransactionalID: p.cfg.txnID, Group: p.cfg.group, At: t.began})
	return t, nil
}

// shutdown ends the open transaction on ctx cancellation: it commits if
// nothing polled is left unhandled, else it aborts.
func (s *session) shutdown(t *transaction, unhandled int) error {
	if t == nil && unhandled == 0 {
		return nil
	}
	if unhandled > 0 {
		return s.fail(t, unhandled, eoskit.AbortShutdown, nil)
	}
	return s.end(t, true, eoskit.AbortNone)
}

// fail aborts the open transaction (or, with records polled but none
// begun, rewinds the consumer) and returns cause joined with whatever
// ending the transaction reported.
func (s *session) fail(t *transaction, polled int, reason eoskit.AbortReason, cause error) error {
	if t == nil && polled == 0 {
		return cause
	}
	if t == nil {
		t = newTransaction(s) // nothing produced: End only rewinds
	}
	return errors.Join(cause, s.end(t, false, reason))
}

// isAuthError reports fetch errors that are authorization or
// authentication failures: no retry fixes them.
func isAuthError(err error) bool {
	var ae *eoskit.AccessError
	return errors.As(conn.ExplainAuthError(err, conn.Access{}), &ae)
}

// probeFence runs before a session is rebuilt after an error. A rebuilt
// session's InitProducerID fences every other holder of the
// transactional ID, so a zombie (a frozen or partitioned instance) that
// rebuilt would fence its replacement. The probe asks the coordinator for
// the ID's current producer epoch (DescribeTransactions) and counts the
// bumps this session cannot explain: its own unconfirmed EndTxn (and
// franz-go's re-initialisation after it; transaction.version 2 bumps on
// every EndTxn) and the coordinator's
// abort of a transaction open longer than its timeout. Any other bump is
// another instance's InitProducerID: Run stops with eoskit.ErrFenced.
// (Re-initialising with the last epoch, KIP-360, cannot tell: the
// coordinator answers a zombie holding the previous epoch as a retry of
// the bump.) When the coordinator cannot be asked, the rebuild decides.
func (s *session) probeFence(ctx context.Context) error {
	if s.tv1 {
		// Under transaction.version 1 both checks misfire after broker
		// faults (franz-go's own re-initialisations) and neither catches
		// a zombie holding the previous epoch: leave the decision to the
		// rebuild, as before the probe.
		return nil
	}
	if err := s.probeEpoch(ctx); err != nil {
		return err
	}
	return s.probeReinit(ctx)
}

// probeEpoch is probeFence's DescribeTransactions check.
func (s *session) probeEpoch(ctx context.Context) error {
	c := &s.p.cfg
	pctx, cancel := context.WithTimeout(ctx, c.txnTimeout)
	defer cancel()
	// franz-go re-initialises by itself after some produce errors (KIP-360
	// bumps during broker faults): its cached epoch is this session's.
	// An error here is no verdict: franz-go keeps a produce's
	// INVALID_PRODUCER_EPOCH (the coordinator aborted the transaction,
	// KIP-588) the same way as a coordinator's fence. probeReinit asks the
	// coordinator itself.
	if id, epoch, err := s.gts.Client().ProducerID(pctx); err == nil && id == s.producerID {
		s.epoch = epoch
	}
	d, ok := s.describe(pctx)
	if !ok {
		return nil
	}
	explained := 0
	if s.unconfirmed {
		explained++ // franz-go re-initialises after an unconfirmed EndTxn (KIP-360 bump)
		if !s.tv1 {
			explained++ // the EndTxn itself bumps under transaction.version 2
		}
	}
	if aborting(d) && !s.openSince.IsZero() && time.Since(s.openSince) >= c.txnTimeout {
		explained++
	}
	if bumps := int(d.ProducerEpoch) - int(s.epoch); bumps > explained {
		return fmt.Errorf("txn: transactional ID %q is at producer epoch %d (%s), %d bumps past this session's epoch %d that it did not make: another instance initialised it: %w",
			c.txnID, d.ProducerEpoch, d.State, bumps, s.epoch, eoskit.ErrFenced)
	}
	return nil
}

// describe asks the coordinator for this session's transactional ID; ok
// only with an answer about this session's producer ID.
func (s *session) describe(ctx context.Context) (kadm.DescribedTransaction, bool) {
	id := s.p.cfg.txnID
	ds, err := kadm.NewClient(s.gts.Client()).DescribeTransactions(ctx, id)
	d, ok := ds[id]
	return d, err == nil && ok && d.Err == nil && d.ProducerID == s.producerID
}

// aborting reports a transaction the coordinator is aborting or aborted:
// the state a timeout abort leaves.
func aborting(d kadm.DescribedTransaction) bool {
	return d.State == "PrepareAbort" || d.State == "CompleteAbort"
}

// probeReinit is probeFence's second check: it re-initialises with the
// last producer ID and epoch (KIP-360). The coordinator answers
// PRODUCER_FENCED when the epoch moved past that and its predecessor
// (another instance initialised); otherwise the epoch is bumped, which
// aborts what this epoch left open without an EndTxn on it (KAFKA-17754).
func (s *session) probeReinit(ctx context.Context) error {
	c := &s.p.cfg
	cl := s.gts.Client()
	pctx, cancel := context.WithTimeout(ctx, c.txnTimeout)
	defer cancel()
	// Cached, or franz-go's own KIP-360 reload. A failed state keeps the
	// ID and epoch it failed at, and its error does not say who answered:
	// INVALID_PRODUCER_EPOCH from a produce after the coordinator aborted
	// the transaction (the coordinator frozen past the transaction
	// timeout, transaction.version 2) is no fence. Re-initialising at that
	// ID and epoch lets the coordinator answer.
	id, epoch, err := cl.ProducerID(pctx)
	if id < 0 {
		if err != nil && isFencedCoordinator(err) && s.producerID >= 0 {
			id, epoch = s.producerID, s.epoch
		} else {
			return nil
		}
	}
	res := reinit.Reinit(pctx, cl, reinit.Request{TransactionalID: c.txnID, Timeout: c.txnTimeout,
		ProducerID: id, Epoch: epoch, Backoff: c.retryBackoff})
	switch res.Outcome {
	case reinit.Bumped:
		c.logger.Info("txn: producer epoch bumped before rebuilding the session", "txn_id", c.txnID, "producer_id", id, "epoch", epoch, "new_epoch", res.Epoch)
	case reinit.Fenced:
		return fmt.Errorf("txn: re-initialise producer %d epoch %d (txn_id %s): %w: %w", id, epoch, c.txnID, eoskit.ErrFenced, res.Err)
	}
	return nil // Unknown: the rebuild decides
}

// noteEnd keeps the session's view of its epoch after a transaction end:
// confirmed ends refresh it (franz-go's cached producer ID; no request),
// and tell transaction.version 1 (a commit leaves the epoch) from 2.
func (s *session) noteEnd(outcome eoskit.TxnOutcome) {
	s.openSince = time.Time{}
	if outcome == eoskit.TxnOutcomeUnknown {
		s.unconfirmed = true
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, epoch, err := s.gts.Client().ProducerID(ctx); err == nil {
		if !s.tvKnown && outcome == eoskit.TxnCommitted && epoch == s.epoch {
			s.tv1 = true
		}
		s.epoch = epoch
	}
}
