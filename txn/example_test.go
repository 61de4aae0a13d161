package txn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/txn"
)

// An exactly-once uppercaser: each input record's output appears once in
// "shout", committed with the input offsets. kfake stands in for a cluster.
func Example() {
	c, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "words", "shout"))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	defer cl.Close()
	for _, w := range []string{"exactly", "once"} {
		cl.ProduceSync(ctx, &kgo.Record{Topic: "words", Value: []byte(w)})
	}

	upper := func(_ context.Context, in *kgo.Record, emit txn.Emit) error {
		emit(&kgo.Record{Topic: "shout", Value: []byte(strings.ToUpper(string(in.Value)))})
		return nil
	}
	p, err := txn.New(upper,
		txn.Brokers(c.ListenAddrs()...),
		txn.Group("uppercaser"),
		txn.Topics("words"),
		txn.TransactionalID("uppercaser-0"), // stable per instance
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()

	for p.Stats().RecordsIn < 2 { // wait for the commit
		time.Sleep(10 * time.Millisecond)
	}
	stop() // graceful: ends the open transaction, leaves the group
	if err := <-done; errors.Is(err, txn.ErrFenced) {
		fmt.Println("another instance took uppercaser-0")
	}

	offs, _ := kadm.NewClient(cl).FetchOffsets(ctx, "uppercaser")
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	s := p.Stats()
	fmt.Printf("in %d, out %d, committed offsets %d\n", s.RecordsIn, s.RecordsOut, committed)
	// Output: in 2, out 2, committed offsets 2
}

// Route records the handler cannot process to a dead-letter topic, inside
// the same transaction, after two retries.
func ExampleDeadLetterTopic() {
	_, err := txn.New(txn.Copy("orders-clean"),
		txn.Brokers("localhost:9092"),
		txn.Group("orders-cleaner"),
		txn.Topics("orders"),
		txn.TransactionalID("orders-cleaner-0"),
		txn.HandlerRetries(2),
		txn.DeadLetterTopic("orders-dlq"),
	)
	fmt.Println(err)
	// Output: <nil>
}
