package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/bench/internal/stats"
	"github.com/eoskit/eoskit/producer"
)

// acks counts produce outcomes and keeps the first error.
type acks struct {
	ok    atomic.Int64
	once  sync.Once
	first error
}

func (a *acks) done(_ *kgo.Record, err error) {
	if err != nil {
		a.once.Do(func() { a.first = err })
		return
	}
	a.ok.Add(1)
}

func (a *acks) err() error { return a.first }

// produce writes s.Records records with an idempotent producer, as fast as it can.
func produce(ctx context.Context, s Spec) (Result, error) {
	var (
		async func(*kgo.Record, func(*kgo.Record, error))
		flush func() error
		close func()
	)
	switch s.Impl {
	case ImplFranz:
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Brokers...), kgo.DefaultProduceTopic(s.Topic), stickyPartitioner(s)}, producerOpts(s)...)...)
		if err != nil {
			return Result{}, err
		}
		async = func(r *kgo.Record, f func(*kgo.Record, error)) { cl.Produce(ctx, r, f) }
		flush = func() error { return cl.Flush(ctx) }
		close = cl.Close
	case ImplEoskit:
		p, err := producer.New(eoskit.Conn{Brokers: s.Brokers, KgoOpts: append(producerOpts(s), stickyPartitioner(s))})
		if err != nil {
			return Result{}, err
		}
		async = func(r *kgo.Record, f func(*kgo.Record, error)) { p.ProduceAsync(ctx, r, f) }
		flush = func() error { return p.Flush(ctx) }
		close = func() { _ = p.Close(context.Background()) }
	}
	defer close()
	var a acks
	start := time.Now()
	for i := range s.Records {
		async(&kgo.Record{Topic: s.Topic, Value: Payload(i, s.RecordSize)}, a.done)
	}
	if err := flush(); err != nil {
		return Result{}, fmt.Errorf("flush: %w", err)
	}
	res := Result{Records: a.ok.Load(), Seconds: time.Since(start).Seconds()}
	return res, a.err()
}

// txnProducer is the transactional producer of either implementation.
type txnProducer interface {
	begin() error
	produce(r *kgo.Record, f func(*kgo.Record, error))
	commit() error // flush and commit
	close()
}

type franzTxn struct {
	ctx context.Context
	cl  *kgo.Client
}

func (t *franzTxn) begin() error { return t.cl.BeginTransaction() }
func (t *franzTxn) produce(r *kgo.Record, f func(*kgo.Record, error)) {
	t.cl.Produce(t.ctx, r, f)
}
func (t *franzTxn) commit() error {
	if err := t.cl.Flush(t.ctx); err != nil {
		return err
	}
	return t.cl.EndTransaction(t.ctx, kgo.TryCommit)
}
func (t *franzTxn) close() { t.cl.Close() }

type eoskitTxn struct {
	ctx context.Context
	p   *producer.TxProducer
	tx  *producer.Tx
}

func (t *eoskitTxn) begin() (err error) { t.tx, err = t.p.Begin(); return err }
func (t *eoskitTxn) produce(r *kgo.Record, f func(*kgo.Record, error)) {
	t.tx.ProduceAsync(t.ctx, r, f)
}
func (t *eoskitTxn) commit() error { return t.tx.Commit(t.ctx) }
func (t *eoskitTxn) close()        { _ = t.p.Close(context.Background()) }

func newTxnProducer(ctx context.Context, s Spec) (txnProducer, error) {
	if s.TxnID == "" {
		return nil, errors.New("transactional workload without a transactional ID")
	}
	switch s.Impl {
	case ImplFranz:
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Brokers...), kgo.TransactionalID(s.TxnID), stickyPartitioner(s)}, producerOpts(s)...)...)
		if err != nil {
			return nil, err
		}
		if _, _, err := cl.ProducerID(ctx); err != nil { // InitProducerID before the clock, as Java's initTransactions
			cl.Close()
			return nil, fmt.Errorf("init producer ID: %w", err)
		}
		return &franzTxn{ctx: ctx, cl: cl}, nil
	default:
		p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: s.Brokers, KgoOpts: append(producerOpts(s), stickyPartitioner(s))}, s.TxnID)
		if err != nil {
			return nil, err
		}
		return &eoskitTxn{ctx: ctx, p: p}, nil
	}
}

// txnProduce writes s.Records records in transactions of TxnIntervalMs.
func txnProduce(ctx context.Context, s Spec) (Result, error) {
	tp, err := newTxnProducer(ctx, s)
	if err != nil {
		return Result{}, err
	}
	defer tp.close()
	interval := time.Duration(max(s.TxnIntervalMs, 1)) * time.Millisecond
	var (
		a       acks
		commits []float64
	)
	start := time.Now()
	for i := int64(0); i < s.Records; {
		if err := tp.begin(); err != nil {
			return Result{}, fmt.Errorf("begin: %w", err)
		}
		began := time.Now()
		for ; i < s.Records; i++ {
			if i%64 == 0 && time.Since(began) >= interval {
				break
			}
			tp.produce(&kgo.Record{Topic: s.Topic, Value: Payload(i, s.RecordSize)}, a.done)
		}
		c := time.Now()
		if err := tp.commit(); err != nil {
			return Result{}, fmt.Errorf("commit: %w", err)
		}
		commits = append(commits, ms(time.Since(c)))
	}
	return Result{
		Records: a.ok.Load(), Seconds: time.Since(start).Seconds(),
		CommitP50: stats.Percentile(commits, 50), CommitP99: stats.Percentile(commits, 99),
	}, a.err()
}
