package consumer_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
	"github.com/eoskit/eoskit/internal/kfaketest"
)

// BenchmarkConsume measures eoskit's per-record cost over raw franz-go
// when reading read_committed in a group (kfake: the broker side is not
// what is measured; compare the sub-benchmarks' ns/op and allocs/op).
// Each iteration reads b.N records of 100 B from 6 partitions with a new
// group, as bench's consume-read-committed case: franz-go with
// PollFetches and a function call per record, eoskit with Consumer.Run.
func BenchmarkConsume(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "t"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	produced := 0
	fill := func(b *testing.B) {
		// The topic holds at least b.N records; each run reads b.N of them.
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		val := make([]byte, 100)
		for ; produced < b.N; produced++ {
			cl.Produce(ctx, &kgo.Record{Value: val}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	group := 0
	b.Run("franz-go", func(b *testing.B) {
		fill(b)
		group++
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup(fmt.Sprint("bf-", group)),
			kgo.ConsumeTopics("t"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		b.ReportAllocs()
		b.ResetTimer()
		defer kfaketest.StartCPU(b)()
		n := 0
		for n < b.N {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				b.Fatal(err)
			}
			fs.EachRecord(func(*kgo.Record) { n++ })
		}
	})
	b.Run("eoskit", func(b *testing.B) {
		fill(b)
		group++
		cons, err := consumer.New(eoskit.Conn{Brokers: c.ListenAddrs()},
			consumer.WithGroup(fmt.Sprint("be-", group)), consumer.WithTopics("t"), consumer.StartAtEarliest())
		if err != nil {
			b.Fatal(err)
		}
		defer cons.Close()
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var n atomic.Int64
		want := int64(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		report := kfaketest.StartCPU(b)
		err = cons.Run(rctx, func(context.Context, *kgo.Record) error {
			if n.Add(1) == want {
				cancel()
			}
			return nil
		})
		b.StopTimer()
		report()
		if err != nil || n.Load() < want {
			b.Fatalf("Run: %v after %d of %d records", err, n.Load(), want)
		}
	})
}
