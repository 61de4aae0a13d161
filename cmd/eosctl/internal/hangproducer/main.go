// Command hangproducer leaves a transaction open, for eosctl's real-broker
// tests of hanging transactions: it commits -committed records to
// partition 0 of -topic in one transaction, then begins another with a
// 15-minute transaction timeout, writes -open records to the same
// partition, prints "OPEN <first offset>" and waits to be stopped
// (SIGSTOP) and killed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "", "seed brokers")
	topic := flag.String("topic", "", "topic")
	id := flag.String("txn-id", "", "transactional ID")
	committed := flag.Int("committed", 10, "records to commit first")
	open := flag.Int("open", 5, "records to leave in the open transaction")
	flag.Parse()
	if err := run(*brokers, *topic, *id, *committed, *open); err != nil {
		fmt.Fprintln(os.Stderr, "hangproducer:", err)
		os.Exit(1)
	}
	select {}
}

func run(brokers, topic, id string, committed, open int) error {
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.TransactionalID(id),
		kgo.TransactionTimeout(15*time.Minute), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	write := func(prefix string, n int) (int64, error) {
		if err := cl.BeginTransaction(); err != nil {
			return 0, err
		}
		first := int64(-1)
		for i := 0; i < n; i++ {
			r, err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}).First()
			if err != nil {
				return 0, err
			}
			if first < 0 {
				first = r.Offset
			}
		}
		return first, nil
	}
	if _, err := write("committed", committed); err != nil {
		return err
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return err
	}
	first, err := write("open", open)
	if err != nil {
		return err
	}
	fmt.Printf("OPEN %d\n", first)
	return nil
}
