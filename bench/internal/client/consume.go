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
// clock starts at the first record, as ConsumerPerformance's fetch rate
// leaves out the group join.
func consume(ctx context.Context, s Spec) (Result, error) {
	if s.Impl != ImplFranz {
		return Result{}, errors.New("the eoskit consumer adapter is not written yet")
	}
	cl, err := kgo.NewClient(consumeOpts(s)...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	var (
		n     int64
		start time.Time
	)
	for n < s.Records {
		fs := cl.PollFetches(ctx)
		if err := fetchErr(ctx, fs); err != nil {
			return Result{Records: n}, err
		}
		k := int64(fs.NumRecords())
		if k > 0 && start.IsZero() {
			start = time.Now()
		}
		n += k
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
