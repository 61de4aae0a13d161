package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
// clock starts when partitions are assigned, as ConsumerPerformance's fetch
// rate leaves out the group join.
func consume(ctx context.Context, s Spec) (Result, error) {
	if s.Impl != ImplFranz {
		return Result{}, errors.New("the eoskit consumer adapter is not written yet")
	}
	var (
		n        int64
		start    time.Time
		assigned = make(chan time.Time, 1)
	)
	cl, err := kgo.NewClient(append(consumeOpts(s), kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
		select {
		case assigned <- time.Now():
		default:
		}
	}))...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	for n < s.Records {
		fs := cl.PollFetches(ctx)
		if err := fetchErr(ctx, fs); err != nil {
			return Result{Records: n}, err
		}
		if start.IsZero() {
			select {
			case start = <-assigned:
			default:
			}
		}
		n += int64(fs.NumRecords())
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
