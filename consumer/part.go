package consumer

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/hooks"
)

// markEvery is how many handled records a worker lets pass between two
// marks (and fetch-resume checks) within one batch. Marks are read only by
// commits, so a worker that is up to markEvery records behind in marking
// merely commits a little less at that moment: never more than was handled.
const markEvery = 256

// part handles one partition's records in order on its own goroutine.
//
// The poll loop appends whole fetches to queue (the fetched slices
// themselves, not their records one by one); the worker takes the whole
// queue at once and handles it without locking per record. pending counts
// records fetched but not yet handled (queued plus taken). When a partition
// is behind (pending over its bounds) after a poll, the poll loop first
// waits up to pauseAfter for it to catch up, and only then pauses its
// fetching: franz-go drops the buffered data of a paused partition and
// fetches it again after the resume, and a resumed partition may wait for a
// fetch in flight (up to the fetch max wait), so pausing whenever a fast
// handler is momentarily behind a large fetch would cost throughput and CPU
// for nothing. A slow handler is paused; the others keep fetching.
type part struct {
	r      *run
	k      tp
	ctx    context.Context // the handler's; cancelled when lost or past the grace period
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	stopped atomic.Bool // set under r.mu; read by the worker between records
	clock   hooks.Clock // the worker's: which handler calls are timed

	// guarded by r.mu
	queue        []chunk
	pending      int // records fetched, not yet handled (queued or taken)
	pendingBytes int // their keys, values and headers
	paused       bool
}

// chunk is one fetch of a partition's records, as franz-go returned them,
// and what they hold in memory (recordBytes summed).
type chunk struct {
	recs  []*kgo.Record
	bytes int
}

func newPart(r *run, k tp) *part {
	ctx, cancel := context.WithCancel(context.Background())
	return &part{r: r, k: k, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues fetched records. r.mu is held.
func (p *part) push(rs []*kgo.Record) {
	if p.stopped.Load() {
		return
	}
	c := chunk{recs: rs}
	for _, rec := range rs {
		c.bytes += recordBytes(rec)
	}
	p.queue = append(p.queue, c)
	p.pending += len(rs)
	p.pendingBytes += c.bytes
	if p.r.cfg.onPush != nil {
		p.r.cfg.onPush(p.k.partition, p.pending, p.pendingBytes)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// behind tells whether the handler has more than the pending bounds to do.
// r.mu is held.
func (p *part) behind() bool {
	return !p.stopped.Load() && !p.paused &&
		(p.pending >= p.r.cfg.maxPending || p.pendingBytes >= p.r.cfg.maxPendingBytes)
}

// pause stops fetching the partition until handled resumes it. r.mu is held.
func (p *part) pause() {
	p.paused = true
	p.r.cl.PauseFetchPartitions(map[string][]int32{p.k.topic: {p.k.partition}})
}

// stop drops queued records; the worker exits after its current record.
// r.mu is held.
func (p *part) stop(cancelNow bool) {
	p.stopped.Store(true)
	p.queue = nil
	if p.paused {
		p.paused = false
		p.r.cl.ResumeFetchPartitions(map[string][]int32{p.k.topic: {p.k.partition}})
	}
	if cancelNow {
		p.cancel()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// take returns every queued fetch, waiting for one, or nil once stopped.
// done is the batch the worker finished: its array becomes the next queue,
// so the two arrays alternate instead of growing a new one per poll.
func (p *part) take(done []chunk) []chunk {
	clear(done) // let handled records be collected
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	for {
		if p.stopped.Load() {
			return nil
		}
		if len(p.queue) > 0 {
			batch := p.queue
			p.queue = done[:0]
			return batch
		}
		if done != nil && cap(p.queue) < cap(done) {
			p.queue = done[:0]
		}
		done = nil
		p.r.mu.Unlock()
		<-p.wake
		p.r.mu.Lock()
	}
}

// handled records that n more records of size bytes were handled, the last
// of them rec: it marks rec for commit, unless the partition was lost, and
// resumes fetching once the handler has caught up.
func (p *part) handled(n, bytes int, rec *kgo.Record) {
	if n == 0 {
		return
	}
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.pending -= n
	p.pendingBytes -= bytes
	switch {
	case p.paused && !p.stopped.Load() && p.pending <= p.r.cfg.maxPending/2 && p.pendingBytes <= p.r.cfg.maxPendingBytes/2:
		p.paused = false
		p.r.cl.ResumeFetchPartitions(map[string][]int32{p.k.topic: {p.k.partition}})
	case !p.paused && !p.behind():
		select { // the poll loop may be waiting for this partition
		case p.r.progress <- struct{}{}:
		default:
		}
	}
	if rec != nil && (!p.stopped.Load() || p.ctx.Err() == nil) {
		// Marks only move forward, one partition in order: the commit
		// never passes a record that was not handled.
		p.r.cl.MarkCommitRecords(rec)
	}
}

// flushRun reports quiet handler calls, the last on last, as one run
// (HookHandledRun).
func (p *part) flushRun(quiet int, last *kgo.Record) {
	if quiet == 0 {
		return
	}
	cfg := &p.r.cfg
	cfg.hooks.HandledRun(eoskit.HandledRun{Group: cfg.group, Calls: quiet, Last: last})
}

func (p *part) work() {
	defer close(p.done)
	defer p.cancel()
	var batch []chunk
	for {
		batch = p.take(batch)
		if batch == nil {
			return
		}
		if !p.handleBatch(batch) || p.stopped.Load() {
			return
		}
	}
}

// handleBatch handles records in order until the batch ends, the partition
// is stopped, or a record fails (false: the worker must exit). Handled
// records are marked every markEvery records and at the end.
//
// A handler runs only while the worker holds a concurrency slot. The worker
// keeps its slot from one record to the next while a slot is free, since
// then no other worker can be waiting for one (a waiter means the slots are
// all taken); when all are taken it gives its slot back after each record,
// and Go queues the waiters first. So the bound holds and no partition
// starves, without two channel operations per record in the common case.
func (p *part) handleBatch(batch []chunk) bool {
	sem := p.r.sem
	held := false
	defer func() {
		if held {
			<-sem
		}
	}()
	cfg := &p.r.cfg
	n, bytes := 0, 0 // handled since the last mark, and their bytes
	var last *kgo.Record
	// The quiet calls since the last mark (HookHandledRun), counted in
	// locals: a field of p would cost a write barrier per record.
	quiet, quietLast := 0, (*kgo.Record)(nil)
	defer func() {
		p.flushRun(quiet, quietLast)
		p.handled(n, bytes, last)
	}()
	for _, c := range batch {
		// A fetch's bytes are released as its records are handled: in
		// proportion at a mark within it, the rest at its end (so the
		// worker sums no record sizes; the totals stay exact).
		released := 0
		for i, rec := range c.recs {
			if p.stopped.Load() {
				return true
			}
			if !held {
				select {
				case sem <- struct{}{}:
					held = true
				case <-p.ctx.Done():
					return false
				}
			}
			var err error
			if cfg.timeHandler {
				var q bool
				if q, err = p.call(rec, 0); q {
					quiet, quietLast = quiet+1, rec
				}
			} else {
				err = p.r.h(p.ctx, rec)
			}
			if err != nil && !p.recover(rec, err) {
				return false
			}
			n++
			last = rec
			if n == markEvery {
				b := c.bytes * (i + 1) / len(c.recs)
				bytes += b - released
				released = b
				p.flushRun(quiet, quietLast)
				p.handled(n, bytes, last)
				n, bytes, last = 0, 0, nil
				quiet, quietLast = 0, nil
			}
			if len(sem) == cap(sem) {
				<-sem
				held = false
			}
		}
		bytes += c.bytes - released
	}
	return true
}

// call runs the handler once, timed for the hooks (cfg.timeHandler): try
// counts the earlier attempts. quiet: the call was not reported with
// HookHandled, and goes into the caller's run (HookHandledRun).
func (p *part) call(rec *kgo.Record, try int) (quiet bool, _ error) {
	cfg := &p.r.cfg
	began := p.clock.Start()
	err := p.r.h(p.ctx, rec)
	took, untimed := hooks.Took(began)
	if untimed && err == nil && try == 0 && cfg.handledRuns {
		return true, nil // reported by flushRun, with the others of its run
	}
	cfg.hooks.Handled(eoskit.Handled{Group: cfg.group, Record: rec, Batch: 1, Attempt: try + 1, Duration: took, Untimed: untimed, Err: err})
	return false, err
}

// recover handles a record whose first attempt failed with err: retries
// with backoff, then the error handler. true: the record is done (mark
// it); false: do not mark, stop this worker (the partition was lost, or
// the record failed fatally).
func (p *part) recover(rec *kgo.Record, err error) bool {
	cfg := &p.r.cfg
	backoff := cfg.backoff
	for try := 1; ; try++ {
		if p.ctx.Err() != nil {
			return false // lost or out of grace: the next owner handles it
		}
		if try > cfg.retries || p.stopped.Load() {
			break
		}
		cfg.logger.Warn("handler failed, retrying", eoskit.LogKeyTopic, rec.Topic, eoskit.LogKeyPartition, rec.Partition, eoskit.LogKeyOffset, rec.Offset, "try", try, eoskit.LogKeyErr, err)
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
			return false
		}
		backoff = min(2*backoff, 32*cfg.backoff)
		if cfg.timeHandler {
			_, err = p.call(rec, try) // a retry is never quiet
		} else {
			err = p.r.h(p.ctx, rec)
		}
		if err == nil {
			return true
		}
	}
	if p.stopped.Load() {
		return false // revoked while failing: the next owner retries
	}
	if cfg.onError != nil {
		if cerr := cfg.onError(p.ctx, rec, err); cerr == nil {
			return true
		} else {
			err = cerr
		}
	}
	p.r.fail(&eoskit.PartitionError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Err: fmt.Errorf("%w: %w", ErrHandler, err)})
	return false
}

// recordBytes is what a record holds in memory, roughly: key, value and
// headers.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
