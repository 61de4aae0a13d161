// Command confluent is eosbench's confluent-kafka-go (librdkafka) produce
// side: enable.idempotence, acks=all, linger.ms 5, batch.size 16384, 5
// requests in flight, no compression; librdkafka's sticky partitioning of
// keyless records. Delivery reports carry no key or value.
package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/eoskit/eoskit/bench/internal/client"
	"github.com/eoskit/eoskit/bench/peers"
)

func main() { peers.Main(client.ImplConfluent, produce) }

func produce(ctx context.Context, s client.Spec) (client.Result, error) {
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":                     strings.Join(s.Brokers, ","),
		"client.id":                             "eosbench-confluent",
		"enable.idempotence":                    true,
		"acks":                                  "all",
		"linger.ms":                             peers.Linger(s),
		"batch.size":                            peers.BatchBytes(s),
		"max.in.flight.requests.per.connection": 5,
		"compression.type":                      "none",
		"go.delivery.report.fields":             "none",
	})
	if err != nil {
		return client.Result{}, fmt.Errorf("confluent producer: %w", err)
	}
	defer p.Close()
	acked := make(chan error, 1)
	go func() {
		var ok int64
		for ev := range p.Events() {
			switch e := ev.(type) {
			case *kafka.Message:
				if e.TopicPartition.Error != nil {
					acked <- fmt.Errorf("after %d acks: %w", ok, e.TopicPartition.Error)
					return
				}
				if ok++; ok == s.Records {
					acked <- nil
					return
				}
			case kafka.Error:
				if e.IsFatal() {
					acked <- fmt.Errorf("after %d acks: %w", ok, e)
					return
				}
			}
		}
	}()
	topic := s.Topic
	start := time.Now()
	for i := int64(0); i < s.Records; {
		err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Value: client.Payload(i, s.RecordSize)}, nil)
		var kerr kafka.Error
		switch {
		case err == nil:
			i++
		case errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull:
			time.Sleep(100 * time.Microsecond) // the delivery goroutine drains the queue
		default:
			return client.Result{}, fmt.Errorf("produce record %d: %w", i, err)
		}
		if ctx.Err() != nil {
			return client.Result{}, ctx.Err()
		}
	}
	select {
	case err = <-acked:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return client.Result{}, err
	}
	return client.Result{Records: s.Records, Seconds: time.Since(start).Seconds()}, nil
}
