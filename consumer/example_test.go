package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
)

// Run handles records until ctx is cancelled, then commits what was handled.
func ExampleConsumer_Run() {
	cluster := kfake.MustCluster(kfake.SeedTopics(2, "events")) // in-process fake; use real brokers in production
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	prod, _ := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	for i := range 10 {
		prod.ProduceSync(ctx, &kgo.Record{Topic: "events", Value: fmt.Appendf(nil, "event-%d", i)})
	}
	prod.Close()

	c, err := consumer.New(eoskit.Conn{Brokers: cluster.ListenAddrs()},
		consumer.WithGroup("billing"),
		consumer.WithTopics("events"),
		consumer.StartAtEarliest(),
		consumer.WithRetries(3, 100*time.Millisecond),
	)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	var handled atomic.Int64
	err = c.Run(ctx, func(ctx context.Context, r *kgo.Record) error {
		if handled.Add(1) == 10 {
			cancel() // graceful shutdown: commit and leave
		}
		return nil
	})
	fmt.Println("run:", err, "handled:", handled.Load())

	lag, _ := c.Lag(context.Background())
	var total int64
	for _, l := range lag {
		total += l.Lag
	}
	fmt.Println("lag:", total)
	// Output:
	// run: <nil> handled: 10
	// lag: 0
}

// A position the broker no longer has is an error, never a silent jump:
// Run returns an *eoskit.PartitionError matching eoskit.ErrPositionLost.
func Example_positionLost() {
	var err error = &eoskit.PartitionError{Topic: "events", Partition: 3, Offset: -1,
		Err: fmt.Errorf("%w: OFFSET_OUT_OF_RANGE", eoskit.ErrPositionLost)}
	if errors.Is(err, eoskit.ErrPositionLost) {
		fmt.Println("stop and page someone:", err)
	}
	// Output:
	// stop and page someone: topic "events" partition 3: partition position lost: refusing to reset offsets silently: OFFSET_OUT_OF_RANGE
}
