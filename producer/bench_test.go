package producer_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/kfaketest"
	"github.com/eoskit/eoskit/producer"
)

// BenchmarkTxProduceAsync measures eoskit's per-record cost over raw
// franz-go in a transaction (kfake: the broker side is not what is
// measured; compare the two sub-benchmarks' ns/op and allocs/op).
func BenchmarkTxProduceAsync(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "t"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	val := make([]byte, 100)
	done := func(*kgo.Record, error) {}
	const perTxn = 10000
	b.Run("franz-go", func(b *testing.B) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("bf"), kgo.DefaultProduceTopic("t"))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		b.ReportAllocs()
		defer kfaketest.StartCPU(b)()
		for i := 0; i < b.N; {
			if err := cl.BeginTransaction(); err != nil {
				b.Fatal(err)
			}
			for j := 0; j < perTxn && i < b.N; j, i = j+1, i+1 {
				cl.Produce(ctx, &kgo.Record{Value: val}, done)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				b.Fatal(err)
			}
		}
	})
	eos := func(b *testing.B, txnID string, done func(*kgo.Record, error), opts ...producer.Opt) {
		p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{kgo.DefaultProduceTopic("t")}}, txnID, opts...)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close(ctx)
		b.ReportAllocs()
		defer kfaketest.StartCPU(b)()
		for i := 0; i < b.N; {
			tx, err := p.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for j := 0; j < perTxn && i < b.N; j, i = j+1, i+1 {
				tx.ProduceAsync(ctx, &kgo.Record{Value: val}, done)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("eoskit", func(b *testing.B) { eos(b, "be", done) })
	// Outcomes through a produce hook instead of done (no allocation per record).
	b.Run("eoskit-hook", func(b *testing.B) { eos(b, "bh", nil, producer.WithHooks(new(ackCounter))) })
}

// ackCounter is a produce hook counting outcomes (the benchmarks' done).
type ackCounter struct{ ok, failed atomic.Int64 }

func (a *ackCounter) OnProduce(e eoskit.Produced) {
	if e.Err != nil {
		a.failed.Add(1)
		return
	}
	a.ok.Add(1)
}

// BenchmarkProduceAsync is BenchmarkTxProduceAsync for the idempotent
// producer: eoskit's ProduceAsync against franz-go's Produce, 100 B values.
func BenchmarkProduceAsync(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "t"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	val := make([]byte, 100)
	done := func(*kgo.Record, error) {}
	const perFlush = 10000
	run := func(b *testing.B, produce func(*kgo.Record), flush func() error) {
		b.ReportAllocs()
		defer kfaketest.StartCPU(b)()
		for i := 0; i < b.N; {
			for j := 0; j < perFlush && i < b.N; j, i = j+1, i+1 {
				produce(&kgo.Record{Value: val})
			}
			if err := flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("franz-go", func(b *testing.B) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		run(b, func(r *kgo.Record) { cl.Produce(ctx, r, done) }, func() error { return cl.Flush(ctx) })
	})
	b.Run("eoskit", func(b *testing.B) {
		p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{kgo.DefaultProduceTopic("t")}})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close(ctx)
		run(b, func(r *kgo.Record) { p.ProduceAsync(ctx, r, done) }, func() error { return p.Flush(ctx) })
	})
	b.Run("eoskit-hook", func(b *testing.B) {
		p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{kgo.DefaultProduceTopic("t")}},
			producer.WithHooks(new(ackCounter)))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close(ctx)
		run(b, func(r *kgo.Record) { p.ProduceAsync(ctx, r, nil) }, func() error { return p.Flush(ctx) })
	})
}
