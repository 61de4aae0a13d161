package client

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
)

// consumeOpts: a read_committed group member from the start of the topic.
func consumeOpts(s Spec) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(s.Brokers...),
		kgo.ConsumerGroup(s.Group),
		kgo.ConsumeTopics(s.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	}
}

// consume reads s.Records records read_committed in a consumer group. The
// clock starts before the group join, as ConsumerPerformance's nMsg.sec.
func consume(ctx context.Context, s Spec) (Result, error) {
	if s.Impl == ImplEoskit {
		return consumeEoskit(ctx, s)
	}
	cl, err := kgo.NewClient(consumeOpts(s)...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	var n int64
	start := time.Now()
	for n < s.Records {
		fs := cl.PollFetches(ctx)
		if err := fetchErr(ctx, fs); err != nil {
			return Result{Records: n}, err
		}
		// A function call per record, as eoskit's handler: what a franz-go
		// application does with each record, at its cheapest.
		fs.EachRecord(func(*kgo.Record) { n++ })
	}
	return Result{Records: n, Seconds: time.Since(start).Seconds()}, nil
}

func fetchErr(ctx context.Context, fs kgo.Fetches) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var first error
	fs.EachError(func(t string, p int32, err error) {
		if first == nil {
			first = fmt.Errorf("fetch %s/%d: %w", t, p, err)
		}
	})
	return first
}

// consumeEoskit runs eoskit's consumer with a handler that counts records,
// and stops it (a graceful shutdown) once s.Records were handled.
func consumeEoskit(ctx context.Context, s Spec) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn := eoskit.Conn{Brokers: s.Brokers}
	opts := []consumer.Opt{consumer.WithGroup(s.Group), consumer.WithTopics(s.Topic), consumer.StartAtEarliest()}
	if s.Observe {
		hooks, kopts, err := observeHooks(s)
		if err != nil {
			return Result{}, err
		}
		conn.KgoOpts = append(conn.KgoOpts, kopts...)
		opts = append(opts, consumer.WithHooks(hooks...))
	}
	c, err := consumer.New(conn, opts...)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	var (
		n   atomic.Int64
		end atomic.Pointer[time.Time]
	)
	start := time.Now()
	err = c.Run(ctx, func(context.Context, *kgo.Record) error {
		if n.Add(1) == s.Records {
			now := time.Now()
			end.Store(&now)
			cancel()
		}
		return nil
	})
	res := Result{Records: n.Load()}
	if e := end.Load(); e != nil {
		res.Seconds = e.Sub(start).Seconds()
		return res, err
	}
	if err == nil {
		err = fmt.Errorf("the consumer stopped after %d of %d records", res.Records, s.Records)
	}
	return res, err
}
