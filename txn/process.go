package txn

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/hooks"
)

// emitter collects a handler call's outputs. It is open only while a
// handler runs; Emit and BatchEmit lock it, so handlers may emit from
// goroutines of their own until they return.
type emitter struct {
	prov    bool
	emitFn  Emit      // em.emit, bound once
	batchFn BatchEmit // em.batchEmit, bound once

	mu     sync.Mutex
	open   bool
	cur    *kgo.Record // the input of a per-record handler call
	queued []output
}

// errEmitAfterReturn is the panic of an emit with no handler running.
const errEmitAfterReturn = "txn: Emit called after the handler returned: the output cannot be committed with its input; " +
	"wait for every goroutine that emits before returning from the handler"

func (e *emitter) emit(out *kgo.Record) {
	e.mu.Lock()
	if !e.open {
		e.mu.Unlock()
		panic(errEmitAfterReturn)
	}
	e.queued = append(e.queued, output{e.cur, out})
	e.mu.Unlock()
}

func (e *emitter) batchEmit(from, out *kgo.Record) {
	e.mu.Lock()
	if !e.open {
		e.mu.Unlock()
		panic(errEmitAfterReturn)
	}
	e.queued = append(e.queued, output{from, out})
	e.mu.Unlock()
}

// start opens the emitter for a handler call on cur (nil: a batch).
func (e *emitter) start(cur *kgo.Record) {
	e.mu.Lock()
	e.open, e.cur, e.queued = true, cur, e.queued[:0]
	e.mu.Unlock()
}

// stop closes the emitter and returns the call's outputs, valid until the
// next start.
func (e *emitter) stop() []output {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.open, e.cur = false, nil
	return e.queued
}

// process runs the handler on recs inside t and produces their outputs.
// Inputs whose outputs could never be produced go straight to the
// dead-letter topic.
func (t *transaction) process(ctx context.Context, recs []*kgo.Record) error {
	p := t.s.p
	if len(p.poisoned) > 0 {
		kept := recs[:0:0]
		for _, r := range recs {
			if err, ok := p.poisoned[positionOf(r)]; ok {
				delete(p.poisoned, positionOf(r))
				t.deadLetter(r, err)
				continue
			}
			kept = append(kept, r)
		}
		t.records += len(recs) - len(kept)
		recs = kept
	}
	if p.batch != nil {
		if err := t.handleBatch(ctx, recs); err != nil {
			return err
		}
		t.records += len(recs)
		return nil
	}
	// The quiet calls (HookHandledRun) of recs, counted here: locals cost
	// no write barrier per record, as a field of p would.
	ptrCtx := pointerContext(ctx)
	quiet, last := 0, (*kgo.Record)(nil)
	for _, r := range recs {
		q, err := t.handleRecord(ctx, ptrCtx, r)
		if q {
			quiet, last = quiet+1, r
		}
		if err != nil {
			p.flushRun(quiet, last)
			return err
		}
		t.records++
	}
	p.flushRun(quiet, last)
	return nil
}

// flushRun reports quiet handler calls, the last on last, as one run
// (HookHandledRun).
func (p *Processor) flushRun(quiet int, last *kgo.Record) {
	if quiet == 0 {
		return
	}
	p.hooks.HandledRun(eoskit.HandledRun{Group: p.cfg.group, Calls: quiet, Last: last})
}

// handleRecord calls the per-record handler on r, retrying r alone: the
// outputs of the records before it stay in the transaction. ptrCtx is
// pointerContext(ctx). quiet: the call was not reported with
// HookHandled, and goes into the caller's run (HookHandledRun).
func (t *transaction) handleRecord(ctx context.Context, ptrCtx bool, r *kgo.Record) (quiet bool, _ error) {
	p := t.s.p
	backoff := p.cfg.retryBackoff
	for attempt := 1; ; attempt++ {
		p.em.start(r)
		hctx := p.hooks.RecordContext(ctx, r) // a tracer's span for this call
		var began time.Time
		if p.hooks.HasHandled() {
			began = p.clock.Start()
		}
		err := p.record(hctx, r, p.em.emitFn)
		outs := p.em.stop()
		if p.hooks.HasHandled() {
			took, untimed := hooks.Took(began)
			if untimed && err == nil && attempt == 1 && p.runs && (!p.hooks.HasRecordContext() || ptrCtx && hctx == ctx) {
				quiet = true // reported by flushRun, with the others of its run
			} else {
				p.hooks.Handled(eoskit.Handled{Group: p.cfg.group, Record: r, Batch: 1, Attempt: attempt, Duration: took, Untimed: untimed, Err: err, Context: hctx})
			}
		}
		if err == nil {
			for _, o := range outs {
				if p.hooks.HasEmit() {
					p.hooks.Emit(hctx, o.from, o.out)
				}
				t.produce(o.from, o.out)
			}
			return quiet, nil
		}
		if done, err := t.retry(ctx, []*kgo.Record{r}, err, attempt, &backoff); done {
			return false, err
		}
	}
}

// pointerContext reports whether ctx is pointer-shaped (the standard
// library's derived contexts are), so that a handler context can be
// compared with it: == on two values of one non-comparable type would
// panic. A HookRecordContext hook that hands the handler ctx itself (a
// tracer that started no span for the record) leaves OnHandled nothing of
// the call's to end; with a context of another shape every call reaches
// OnHandled.
func pointerContext(ctx context.Context) bool {
	return reflect.TypeOf(ctx).Kind() == reflect.Pointer
}

// handleBatch calls the batch handler on recs, retrying the whole batch.
func (t *transaction) handleBatch(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	p := t.s.p
	backoff := p.cfg.retryBackoff
	for attempt := 1; ; attempt++ {
		p.em.start(nil)
		hctx := p.hooks.BatchContext(ctx, recs) // a tracer's span for this call
		var began time.Time
		if p.hooks.HasHandled() {
			began = time.Now() // a batch call is worth its two clock reads
		}
		err := p.batch(hctx, recs, p.em.batchFn)
		outs := p.em.stop()
		if p.hooks.HasHandled() {
			p.hooks.Handled(eoskit.Handled{Group: p.cfg.group, Record: recs[0], Batch: len(recs), Attempt: attempt, Duration: time.Since(began), Err: err, Context: hctx})
		}
		if err == nil {
			for _, o := range outs {
				if p.hooks.HasEmit() {
					p.hooks.Emit(hctx, o.from, o.out)
				}
				t.produce(o.from, o.out)
			}
			return nil
		}
		if done, err := t.retry(ctx, recs, err, attempt, &backoff); done {
			return err
		}
	}
}

// retry decides after a failed handler call: wait and try again (false),
// or stop trying (true) with nil after dead-lettering recs, or with the
// error that ends the transaction.
func (t *transaction) retry(ctx context.Context, recs []*kgo.Record, err error, attempt int, backoff *time.Duration) (bool, error) {
	p := t.s.p
	if ctx.Err() != nil {
		return true, fmt.Errorf("txn: handler: %w", err)
	}
	if attempt > p.cfg.retries {
		if p.cfg.deadLetter == "" {
			r := recs[0]
			return true, &HandlerError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Attempts: attempt, Err: err}
		}
		for _, r := range recs {
			t.deadLetter(r, err)
		}
		return true, nil
	}
	p.st.add(func(s *Stats) { s.HandlerRetries++ })
	p.cfg.logger.Warn("txn: handler failed, retrying", "txn_id", p.cfg.txnID, "topic", recs[0].Topic,
		"partition", recs[0].Partition, "offset", recs[0].Offset, "attempt", attempt, "err", err)
	select {
	case <-ctx.Done():
		return true, fmt.Errorf("txn: handler: %w", err)
	case <-time.After(*backoff):
	}
	*backoff = min(2**backoff, p.cfg.maxBackoff)
	return false, nil
}

// deadLetter produces r to the dead-letter topic in this transaction.
func (t *transaction) deadLetter(r *kgo.Record, err error) {
	p := t.s.p
	hs := append([]kgo.RecordHeader(nil), r.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: DeadLetterError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: DeadLetterTopicHeader, Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: DeadLetterPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		kgo.RecordHeader{Key: DeadLetterOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
	)
	p.cfg.logger.Warn("txn: dead-lettering input record", "txn_id", p.cfg.txnID, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
	p.hooks.DeadLetter(eoskit.DeadLetter{Group: p.cfg.group, Record: r, To: p.cfg.deadLetter, Err: err})
	t.dead++
	t.produce(r, &kgo.Record{Topic: p.cfg.deadLetter, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: hs})
}
