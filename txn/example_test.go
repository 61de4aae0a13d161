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

	"github.com/eoskit/eoskit"
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
	conn := eoskit.Conn{Brokers: c.ListenAddrs()}
	p, err := txn.New(conn, upper,
		txn.WithGroup("uppercaser"),
		txn.WithTopics("words"),
		txn.WithTransactionalID("uppercaser-0"), // stable per instance
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
	if err := <-done; errors.Is(err, eoskit.ErrFenced) {
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
func ExampleWithDeadLetterTopic() {
	conn := eoskit.Conn{Brokers: []string{"localhost:9092"}}
	_, err := txn.New(conn, txn.Copy("orders-clean"),
		txn.WithGroup("orders-cleaner"),
		txn.WithTopics("orders"),
		txn.WithTransactionalID("orders-cleaner-0"),
		txn.WithHandlerRetries(2),
		txn.WithDeadLetterTopic("orders-dlq"),
	)
	fmt.Println(err)
	// Output: <nil>
}
