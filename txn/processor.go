package txn

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
	"github.com/eoskit/eoskit/internal/hooks"
)

// ProvenanceHeader is the header stamped on every output record (unless
// WithProvenance(false)): its value is "<topic>/<partition>/<offset>"
// (decimal) of the input record the output came from. Verifiers match
// outputs to inputs with it.
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
// modified after emitting it. Emit may be called any number of times, from
// any goroutine, while the handler runs; calling it after the handler
// returned panics (the output could not be committed with its input).
type Emit func(out *kgo.Record)

// Handler processes one input record and emits zero or more outputs to any
// topics. It may be called again on the same record: after an error (a
// retry of that record alone) or when a transaction aborts and the input
// is re-consumed. Only outputs of transactions that commit are visible to
// read_committed readers, so the handler needs no idempotence of its own
// for Kafka outputs; side effects outside Kafka are not covered.
type Handler func(ctx context.Context, in *kgo.Record, emit Emit) error

// BatchEmit queues out as an output of the input record from (whose
// coordinates go in the provenance header; from may be nil for none). It
// is safe for concurrent use while the BatchHandler runs and panics when
// called after it returned.
type BatchEmit func(from, out *kgo.Record)

// BatchHandler processes the records of one poll (all in the same
// transaction). On error the whole batch is retried; after the retries,
// each of its records is dead-lettered or Run stops.
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
	cfg    config
	record Handler      // one of record and batch is set
	batch  BatchHandler //
	hooks  hooks.Set
	st     stats
	ran    atomic.Bool
	em     emitter

	// Run's goroutine only.
	clock    hooks.Clock        // which handler calls are timed for HookHandled
	runs     bool               // quiet handler calls go to HookHandledRun (process counts them)
	prodRuns bool               // acknowledged outputs go to HookProducedRun (transaction.acked counts them)
	pinned   bool               // the start position is pinned (WithStartOffset at the end)
	poisoned map[position]error // inputs whose output can never be produced: dead-letter them
	backoff  time.Duration      // before the next transaction, after a transient produce error
}

// position is an input record's coordinates.
type position struct {
	topic     string
	partition int32
	offset    int64
}

func positionOf(r *kgo.Record) position { return position{r.Topic, r.Partition, r.Offset} }

// New returns a Processor calling h once per input record, on the cluster
// conn. It validates the options (and conn.KgoOpts) and connects to
// nothing; Run does. Errors match eoskit.ErrInvalidOption and list every
// problem.
func New(conn eoskit.Conn, h Handler, opts ...Opt) (*Processor, error) {
	p, err := newProcessor(conn, h == nil, opts)
	if err != nil {
		return nil, err
	}
	p.record = h
	return p, nil
}

// NewBatch is New for a handler that takes every record of a poll at once.
func NewBatch(conn eoskit.Conn, h BatchHandler, opts ...Opt) (*Processor, error) {
	p, err := newProcessor(conn, h == nil, opts)
	if err != nil {
		return nil, err
	}
	p.batch = h
	return p, nil
}

func newProcessor(conn eoskit.Conn, noHandler bool, opts []Opt) (*Processor, error) {
	cfg := defaultConfig()
	cfg.conn = conn
	for _, o := range opts {
		o.apply(&cfg)
	}
	ps := eoskit.NewProblems("txn")
	if noHandler {
		ps.Addf("nil handler")
	}
	ps.Add(cfg.validate())
	ps.Add(checkKgoOpts(&cfg))
	if err := ps.Err(); err != nil {
		return nil, err
	}
	p := &Processor{cfg: cfg, hooks: hooks.New(cfg.hooks), poisoned: map[position]error{}}
	// A call whose context a HookRecordContext hook changed (a span) goes
	// to OnHandled, which ends it; see handleRecord.
	p.runs = p.hooks.HandledRuns()
	p.prodRuns = p.hooks.ProducedRuns()
	p.em.prov = cfg.provenance
	p.em.emitFn = p.em.emit
	p.em.batchFn = p.em.batchEmit
	return p, nil
}

// Stats returns a snapshot of the counters.
func (p *Processor) Stats() Stats { return p.st.snapshot() }

// TransactionalID returns the instance's transactional ID.
func (p *Processor) TransactionalID() string { return p.cfg.txnID }

// Run consumes, processes and commits until ctx is cancelled or a fatal
// error occurs. It may be called once. The package documentation has the
// table of transaction outcomes and what Run does after each.
//
// On ctx cancellation, Run ends the open transaction — it commits if every
// polled record was handled, else it aborts — leaves the group, and
// returns nil, or an error matching eoskit.ErrCommitOutcomeUnknown when
// that last commit's outcome is unknown.
//
// Fatal errors (Run returns them): eoskit.ErrFenced, ErrPositionLost,
// ErrAccessDenied (*eoskit.AccessError), ErrUnproducible
// (*eoskit.UnproducibleError, without a dead-letter topic), ErrHandler
// (*HandlerError, without a dead-letter topic), ErrInvalidOption. Every
// other failure closes the session and builds a new one with backoff; a
// new session re-initialises the producer ID, which bumps the epoch, so a
// transaction of unknown outcome is never aborted on the same epoch
// (KAFKA-17754).
func (p *Processor) Run(ctx context.Context) error {
	if !p.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("txn: Run called twice: create a new Processor: %w", eoskit.ErrInvalidOption)
	}
	backoff := p.cfg.retryBackoff
	for {
		progressed, err := p.runSession(ctx)
		err = p.explainAccess(err)
		switch {
		case err == nil:
			return nil
		case isFatal(err):
			p.cfg.logger.Error("txn: stopping", "txn_id", p.cfg.txnID, "group", p.cfg.group, "err", err)
			return err
		case ctx.Err() != nil:
			if errors.Is(err, eoskit.ErrCommitOutcomeUnknown) {
				return err
			}
			return nil
		}
		if progressed {
			backoff = p.cfg.retryBackoff
		}
		p.st.add(func(s *Stats) { s.SessionRestarts++ })
		p.cfg.logger.Info("txn: rebuilding session", "txn_id", p.cfg.txnID, "group", p.cfg.group, "err", err, "backoff", backoff)
		p.hooks.SessionRestart(eoskit.SessionRestart{TransactionalID: p.cfg.txnID, Group: p.cfg.group, Err: err, Backoff: backoff})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.cfg.maxBackoff)
	}
}

// isFatal reports the errors no session rebuild can fix.
func isFatal(err error) bool {
	return errors.Is(err, eoskit.ErrFenced) || errors.Is(err, eoskit.ErrPositionLost) || errors.Is(err, ErrHandler) ||
		errors.Is(err, eoskit.ErrInvalidOption) || errors.Is(err, eoskit.ErrAccessDenied) || errors.Is(err, eoskit.ErrUnproducible)
}

// explainAccess turns authentication, authorization and TLS failures,
// which no session rebuild can fix, into an *eoskit.AccessError (it
// matches eoskit.ErrAccessDenied and keeps the broker's error).
func (p *Processor) explainAccess(err error) error {
	if err == nil || errors.Is(err, eoskit.ErrAccessDenied) {
		return err
	}
	explained := conn.ExplainAuthError(err, conn.Access{Group: p.cfg.group, TransactionalID: p.cfg.txnID, Input: p.cfg.topics})
	if errors.Is(explained, eoskit.ErrAccessDenied) {
		return fmt.Errorf("txn: %w", explained)
	}
	return err
}

// runSession pins the start position if needed, then runs one session
// until shutdown (nil) or an error. progressed reports whether a
// transaction committed.
func (p *Processor) runSession(ctx context.Context) (progressed bool, err error) {
	if !p.pinned {
		if err := p.pinStart(ctx); err != nil {
			return false, err
		}
		p.pinned = true
	}
	s, err := p.newSession(ctx)
	if err != nil || s == nil {
		return false, err
	}
	defer s.close()
	err = s.run(ctx)
	if err != nil && !isFatal(err) && ctx.Err() == nil {
		if ferr := s.probeFence(ctx); ferr != nil {
			return s.progressed, ferr
		}
	}
	return s.progressed, err
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
