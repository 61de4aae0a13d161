package consumer

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// part handles one partition's records in order on its own goroutine.
type part struct {
	r      *run
	k      tp
	ctx    context.Context // the handler's; cancelled when lost or past the grace period
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	// guarded by r.mu
	queue   []*kgo.Record
	paused  bool
	stopped bool
}

func newPart(r *run, k tp) *part {
	ctx, cancel := context.WithCancel(context.Background())
	return &part{r: r, k: k, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues fetched records, pausing the partition's fetches when the
// queue is full. r.mu is held.
func (p *part) push(rs []*kgo.Record) {
	if p.stopped {
		return
	}
	p.queue = append(p.queue, rs...)
	if !p.paused && len(p.queue) >= p.r.cfg.maxPending {
		p.paused = true
		p.r.cl.PauseFetchPartitions(map[string][]int32{p.k.topic: {p.k.partition}})
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// stop drops queued records; the worker exits after its current record.
// r.mu is held.
func (p *part) stop(cancelNow bool) {
	p.stopped = true
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

// next pops the next record, or returns nil once stopped.
func (p *part) next() *kgo.Record {
	for {
		p.r.mu.Lock()
		if p.stopped {
			p.r.mu.Unlock()
			return nil
		}
		if len(p.queue) > 0 {
			rec := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			if p.paused && len(p.queue) <= p.r.cfg.maxPending/2 {
				p.paused = false
				p.r.cl.ResumeFetchPartitions(map[string][]int32{p.k.topic: {p.k.partition}})
			}
			p.r.mu.Unlock()
			return rec
		}
		p.r.mu.Unlock()
		<-p.wake
	}
}

func (p *part) work() {
	defer close(p.done)
	defer p.cancel()
	for {
		rec := p.next()
		if rec == nil {
			return
		}
		select {
		case p.r.sem <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		ok := p.handle(rec)
		<-p.r.sem
		if !ok {
			return
		}
		p.r.mu.Lock()
		if !p.stopped || p.ctx.Err() == nil {
			// Marks only move forward, one partition in order: the
			// commit never passes a record that was not handled.
			p.r.cl.MarkCommitRecords(rec)
		}
		p.r.mu.Unlock()
	}
}

// handle runs the handler with retries; false: do not mark, stop this
// worker (the partition was lost, or the record failed fatally).
func (p *part) handle(rec *kgo.Record) bool {
	cfg := &p.r.cfg
	backoff := cfg.backoff
	var err error
	for try := 0; ; try++ {
		began := time.Now()
		err = p.r.h(p.ctx, rec)
		cfg.onHandle(rec, err, time.Since(began))
		if err == nil {
			return true
		}
		if p.ctx.Err() != nil {
			return false // lost or out of grace: the next owner handles it
		}
		if try >= cfg.retries || p.isStopped() {
			break
		}
		cfg.logger.Warn("handler failed, retrying", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "try", try+1, "err", err)
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
			return false
		}
		backoff = min(2*backoff, 32*cfg.backoff)
	}
	if p.isStopped() {
		return false // revoked while failing: the next owner retries
	}
	if cfg.onError != nil {
		if cerr := cfg.onError(p.ctx, rec, err); cerr == nil {
			return true
		} else {
			err = cerr
		}
	}
	p.r.fail(&PartitionError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Err: fmt.Errorf("%w: %w", ErrHandler, err)})
	return false
}

func (p *part) isStopped() bool {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	return p.stopped
}
