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

// OnProduce implements eoskit.HookProduce: the eoskit sides count outcomes
// with a produce hook (built once per producer, eoskit's allocation-free
// path for every record's outcome) and pass no callback per record.
func (a *acks) OnProduce(e eoskit.Produced) { a.done(e.Record, e.Err) }

// produce writes s.Records records with an idempotent producer, as fast as it can.
// Each side observes every record's outcome the cheapest way its library
// offers: franz-go one callback value for all records, eoskit a produce hook.
func produce(ctx context.Context, s Spec) (Result, error) {
	var (
		a     acks
		async func(*kgo.Record)
		flush func() error
		close func()
	)
	switch s.Impl {
	case ImplFranz:
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Brokers...), kgo.DefaultProduceTopic(s.Topic), stickyPartitioner(s)}, producerOpts(s)...)...)
		if err != nil {
			return Result{}, err
		}
		done := a.done
		async = func(r *kgo.Record) { cl.Produce(ctx, r, done) }
		flush = func() error { return cl.Flush(ctx) }
		close = cl.Close
	case ImplEoskit:
		p, err := producer.New(eoskit.Conn{Brokers: s.Brokers, KgoOpts: append(producerOpts(s), stickyPartitioner(s))}, producer.WithHooks(&a))
		if err != nil {
			return Result{}, err
		}
		async = func(r *kgo.Record) { p.ProduceAsync(ctx, r, nil) }
		flush = func() error { return p.Flush(ctx) }
		close = func() { _ = p.Close(context.Background()) }
	}
	defer close()
	start := time.Now()
	for i := range s.Records {
		async(&kgo.Record{Topic: s.Topic, Value: Payload(i, s.RecordSize)})
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
	produce(r *kgo.Record) // its outcome goes to the acks the producer was made with
	commit() error         // flush and commit
	close()
}

type franzTxn struct {
	ctx  context.Context
	cl   *kgo.Client
	done func(*kgo.Record, error)
}

func (t *franzTxn) begin() error          { return t.cl.BeginTransaction() }
func (t *franzTxn) produce(r *kgo.Record) { t.cl.Produce(t.ctx, r, t.done) }
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

func (t *eoskitTxn) begin() (err error)    { t.tx, err = t.p.Begin(); return err }
func (t *eoskitTxn) produce(r *kgo.Record) { t.tx.ProduceAsync(t.ctx, r, nil) }
func (t *eoskitTxn) commit() error         { return t.tx.Commit(t.ctx) }
func (t *eoskitTxn) close()                { _ = t.p.Close(context.Background()) }

func newTxnProducer(ctx context.Context, s Spec, a *acks) (txnProducer, error) {
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
		return &franzTxn{ctx: ctx, cl: cl, done: a.done}, nil
	default:
		p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: s.Brokers, KgoOpts: append(producerOpts(s), stickyPartitioner(s))}, s.TxnID, producer.WithHooks(a))
		if err != nil {
			return nil, err
		}
		return &eoskitTxn{ctx: ctx, p: p}, nil
	}
}

// txnProduce writes s.Records records in transactions of TxnIntervalMs.
func txnProduce(ctx context.Context, s Spec) (Result, error) {
	var a acks
	tp, err := newTxnProducer(ctx, s, &a)
	if err != nil {
		return Result{}, err
	}
	defer tp.close()
	interval := time.Duration(max(s.TxnIntervalMs, 1)) * time.Millisecond
	var commits []float64
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
			tp.produce(&kgo.Record{Topic: s.Topic, Value: Payload(i, s.RecordSize)})
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
