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
		n   counter
		end atomic.Pointer[time.Time]
	)
	n.init(s.Records)
	start := time.Now()
	err = c.Run(ctx, func(_ context.Context, r *kgo.Record) error {
		if n.add(r.Partition) {
			now := time.Now()
			end.Store(&now)
			cancel()
		}
		return nil
	})
	res := Result{Records: n.sum()}
	if e := end.Load(); e != nil {
		res.Seconds = e.Sub(start).Seconds()
		return res, err
	}
	if err == nil {
		err = fmt.Errorf("the consumer stopped after %d of %d records", res.Records, s.Records)
	}
	return res, err
}

// counter counts the records handled by eoskit's consumer, whose handler
// runs on a goroutine per partition: one cache line per partition slot,
// so that the count costs what franz-go's side's n++ costs and not the
// contention of one shared counter (2.8 % of the eoskit side's CPU in the
// profiles when it was one atomic, more than the consumer's own per-record
// work). Each call adds 1 to its slot;
// every 256th of a slot, or each call once near the end, sums the slots.
type counter struct {
	slots [counterSlots]struct {
		n atomic.Int64
		_ [120]byte // 128 bytes a slot: its own cache line, however the array is aligned
	}
	want    int64
	nearEnd atomic.Bool // from here on, each call sums
	done    atomic.Bool // the want-th record was reported
}

const counterSlots = 64

func (c *counter) init(want int64) {
	c.want = want
	// Once no slot can reach another multiple of 256, fewer than
	// counterSlots*256 records are left: a sum at a multiple saw that.
	c.nearEnd.Store(want <= counterSlots*256)
}

// add counts one record of partition p and reports whether that was the
// want-th record handled (true once). The call that sets nearEnd sums
// again after setting it: a call that counted in between and did not see
// the flag yet is in that second sum.
func (c *counter) add(p int32) bool {
	v := c.slots[uint32(p)%counterSlots].n.Add(1)
	if v%256 != 0 && !c.nearEnd.Load() {
		return false
	}
	total := c.sum()
	if total >= c.want-counterSlots*256 && !c.nearEnd.Load() {
		c.nearEnd.Store(true)
		total = c.sum()
	}
	return total == c.want && c.done.CompareAndSwap(false, true)
}

func (c *counter) sum() int64 {
	var t int64
	for i := range c.slots {
		t += c.slots[i].n.Load()
	}
	return t
}
