// Command sarama is eosbench's IBM/sarama produce side: idempotent,
// acks=all, linger 5 ms, 16 KiB flushes, no compression. Sarama allows one
// request in flight per broker with idempotence (Net.MaxOpenRequests 1) and
// has no sticky partitioner: keyless records go round-robin.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/eoskit/eoskit/bench/internal/client"
	"github.com/eoskit/eoskit/bench/peers"
)

func main() { peers.Main(client.ImplSarama, produce) }

func produce(ctx context.Context, s client.Spec) (client.Result, error) {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.ClientID = "eosbench-sarama"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1 // required by sarama with Idempotent
	cfg.Producer.Flush.Frequency = time.Duration(peers.Linger(s)) * time.Millisecond
	cfg.Producer.Flush.Bytes = peers.BatchBytes(s)
	cfg.Producer.Compression = sarama.CompressionNone
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	p, err := sarama.NewAsyncProducer(s.Brokers, cfg)
	if err != nil {
		return client.Result{}, fmt.Errorf("sarama producer: %w", err)
	}
	acked := make(chan error, 1)
	go func() {
		for ok := int64(0); ok < s.Records; {
			select {
			case <-p.Successes():
				ok++
			case perr := <-p.Errors():
				acked <- fmt.Errorf("after %d acks: %w", ok, perr)
				return
			}
		}
		acked <- nil
	}()
	start := time.Now()
	for i := range s.Records {
		select {
		case p.Input() <- &sarama.ProducerMessage{Topic: s.Topic, Value: sarama.ByteEncoder(client.Payload(i, s.RecordSize))}:
		case err := <-acked:
			_ = p.Close()
			return client.Result{}, err
		case <-ctx.Done():
			_ = p.Close()
			return client.Result{}, ctx.Err()
		}
	}
	var res client.Result
	select {
	case err = <-acked:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		res = client.Result{Records: s.Records, Seconds: time.Since(start).Seconds()}
	}
	if cerr := p.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return res, err
}
