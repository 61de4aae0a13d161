package producer_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/producer"
)

// Produce waits for every record and says which failed and why.
func ExampleProducer_Produce() {
	cluster := kfake.MustCluster(kfake.SeedTopics(1, "orders")) // in-process fake; use real brokers in production
	defer cluster.Close()
	ctx := context.Background()

	p, err := producer.New(eoskit.Conn{Brokers: cluster.ListenAddrs()})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	err = p.Produce(ctx,
		&kgo.Record{Topic: "orders", Value: []byte("order-1")},
		&kgo.Record{Topic: "no-such-topic", Value: []byte("order-2")},
	)
	var pe *producer.ProduceError
	if errors.As(err, &pe) {
		for _, f := range pe.Failed {
			fmt.Printf("%s failed, unknown topic: %v\n", f.Record.Value, errors.Is(f.Err, producer.ErrUnknownTopic))
		}
	}
	// Output:
	// order-2 failed, unknown topic: true
}

// New refuses a configuration that silently weakens durability.
func ExampleNew_refusesWeakDurability() {
	conn := eoskit.Conn{Brokers: []string{"localhost:9092"}}
	weak := conn
	weak.KgoOpts = []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}
	_, err := producer.New(weak)
	fmt.Println(errors.Is(err, eoskit.ErrInvalidOption))

	p, err := producer.New(conn, producer.UnsafeAcks(kgo.LeaderAck()))
	fmt.Println(err)
	_ = p.Close(context.Background())
	// Output:
	// true
	// <nil>
}

// Run commits when the function returns nil and aborts when it returns an
// error or panics.
func ExampleTxProducer_Run() {
	cluster := kfake.MustCluster(kfake.SeedTopics(1, "payments"))
	defer cluster.Close()
	ctx := context.Background()

	p, err := producer.NewTransactional(ctx, eoskit.Conn{Brokers: cluster.ListenAddrs()}, "payments-writer-1")
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	err = p.Run(ctx, func(tx *producer.Tx) error {
		return tx.Produce(ctx,
			&kgo.Record{Topic: "payments", Value: []byte("debit")},
			&kgo.Record{Topic: "payments", Value: []byte("credit")},
		)
	})
	fmt.Println("committed:", err == nil)

	err = p.Run(ctx, func(tx *producer.Tx) error {
		if err := tx.Produce(ctx, &kgo.Record{Topic: "payments", Value: []byte("half")}); err != nil {
			return err
		}
		return errors.New("validation failed")
	})
	fmt.Println("aborted:", errors.Is(err, producer.ErrAborted))

	switch err := p.Run(ctx, func(*producer.Tx) error { return nil }); {
	case errors.Is(err, eoskit.ErrFenced):
		fmt.Println("another instance took over: stop")
	case errors.Is(err, eoskit.ErrCommitOutcomeUnknown):
		fmt.Println("maybe committed: reconcile")
	}
	// Output:
	// committed: true
	// aborted: true
}
