package producer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
	"github.com/eoskit/eoskit/internal/hooks"
)

// Producer is an idempotent producer: acks=all, idempotence on, at most 5
// requests in flight per broker, so retries never duplicate or reorder
// records within a partition. It is safe for concurrent use.
type Producer struct {
	cfg     config
	cl      *kgo.Client
	checked atomic.Bool // the connection's security was checked once
	// hooked is franz-go's callback for ProduceAsync without done when
	// produce hooks are set: bound once, so that path allocates nothing.
	hooked func(*kgo.Record, error)
}

// checkSecurity fails fast, explained, on wrong credentials, an untrusted CA
// or a missing ACL, which franz-go would otherwise retry until records time
// out. It runs once, at the first produce.
func (p *Producer) checkSecurity(ctx context.Context) error {
	if p.checked.Load() {
		return nil
	}
	if err := conn.Check(ctx, p.cl, conn.Access{}); err != nil {
		return fmt.Errorf("producer: %w", err) // an *eoskit.AccessError
	}
	p.checked.Store(true)
	return nil
}

// New returns an idempotent producer for conn. It does not contact the
// cluster. Options that would weaken durability, including franz-go options
// in conn.KgoOpts, are refused with an *eoskit.OptionError (matching
// eoskit.ErrInvalidOption) listing every problem, unless requested by name
// (UnsafeAcks, UnsafeDisableIdempotence, UnsafeAllowProduceCancellation).
func New(conn eoskit.Conn, opts ...Opt) (*Producer, error) {
	cfg := newConfig(conn, opts)
	cl, err := cfg.newClient("")
	if err != nil {
		return nil, err
	}
	p := &Producer{cfg: cfg, cl: cl}
	if hs := &p.cfg.hooks; hs.HasProduce() {
		p.hooked = func(r *kgo.Record, err error) { ack(hs, nil, nil, r, err) }
	}
	return p, nil
}

// Produce writes records and waits until every one has an outcome. It
// returns nil when all were acknowledged by all in-sync replicas, else a
// *ProduceError naming each failed record and its reason (errors.Is works
// with ErrRecordTooLarge, ErrUnknownTopic, eoskit.ErrAccessDenied,
// ErrNotEnoughReplicas, ErrClosed and the kerr codes). Records without a
// Topic fail. Partition and Offset of each record are set on success.
//
// Cancelling ctx fails the records that are still buffered or whose last
// attempt was answered; a record whose request is on the wire is waited
// for, because failing it could let a retry duplicate it.
func (p *Producer) Produce(ctx context.Context, records ...*kgo.Record) error {
	if err := p.checkSecurity(ctx); err != nil {
		p.report(records, err)
		return err
	}
	err := resultsErr(p.cl.ProduceSync(ctx, records...))
	p.report(records, err)
	return err
}

func (p *Producer) report(records []*kgo.Record, err error) {
	if !p.cfg.hooks.HasProduce() {
		return
	}
	var pe *ProduceError
	if err != nil && !errors.As(err, &pe) {
		// Not a per-record outcome (the security check failed before
		// anything was sent): every record failed with err.
		for _, r := range records {
			p.cfg.hooks.Produce(eoskit.Produced{Record: r, Err: err})
		}
		return
	}
	failed := map[*kgo.Record]error{}
	if pe != nil {
		for _, f := range pe.Failed {
			failed[f.Record] = f.Err
		}
	}
	for _, r := range records {
		p.cfg.hooks.Produce(eoskit.Produced{Record: r, Err: failed[r]})
	}
}

// ProduceAsync buffers r and returns at once (or blocks while the buffer is
// full, until ctx is done). done, if not nil, is called exactly once with the
// outcome, mapped like Produce's errors; it runs on a franz-go goroutine
// and must not block.
//
// Cost: a non-nil done costs one small allocation per record over raw
// franz-go (the closure that maps the error before done sees it). Where
// every record's outcome is wanted at the highest rate, pass nil and
// observe outcomes with an eoskit.HookProduce given to WithHooks: its
// callback is built once per producer, so that path adds no allocation
// (bench/ measures it against franz-go's Produce with one callback).
func (p *Producer) ProduceAsync(ctx context.Context, r *kgo.Record, done func(*kgo.Record, error)) {
	if done == nil {
		p.cl.Produce(ctx, r, p.hooked) // nil without produce hooks
		return
	}
	hs := &p.cfg.hooks
	p.cl.Produce(ctx, r, func(r *kgo.Record, err error) { ack(hs, nil, done, r, err) })
}

// ack reports one record's outcome: a failure is recorded in tx (if any)
// and mapped, then the hooks and done see it. A ProduceAsync with done
// passes a closure (one small allocation, the only one eoskit adds per
// record) calling it; without done, a closure bound once per producer or
// transaction. A pool of carriers instead of the per-record closure was
// measured 1.3x raw franz-go's client CPU at 1M records (a cold carrier per
// callback, pool overhead, 10 MiB more RSS), the closure 1.0-1.15x.
func ack(hs *hooks.Set, tx *Tx, done func(*kgo.Record, error), r *kgo.Record, err error) {
	if err != nil {
		if tx != nil {
			tx.first.Promise()(r, err)
		}
		err = mapErr(r, err)
	}
	if hs.HasProduce() {
		hs.Produce(eoskit.Produced{Record: r, Err: err})
	}
	if done != nil {
		done(r, err)
	}
}

// Flush waits until every buffered record has an outcome (reported to its
// callback). It returns ctx's error if ctx is done first.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("producer: flush: %w", err)
	}
	return nil
}

// Close flushes, waiting at most until ctx is done, then closes the client.
// Records still unflushed at the deadline fail with ErrClosed; Close then
// returns ctx's error: their callbacks say which ones, and an in-flight
// record failed this way may still have been written.
func (p *Producer) Close(ctx context.Context) error {
	err := p.cl.Flush(ctx)
	p.cl.Close()
	if err != nil {
		return fmt.Errorf("producer: close: records were still unflushed: %w", err)
	}
	return nil
}

// Client returns the underlying franz-go client, for what this package does
// not wrap (metadata, admin requests). Producing through it bypasses the
// hooks but keeps the durability settings.
func (p *Producer) Client() *kgo.Client { return p.cl }
