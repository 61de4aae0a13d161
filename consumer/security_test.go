package consumer_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
)

// TestWithSASL: the consumer authenticates with the Conn.SASL mechanism
// (Conn.TLS sits next to it; the real-broker suite in
// integration/securitytest runs both).
func TestWithSASL(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "eos", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	mech := scram.Auth{User: "eos", Pass: "secret"}.AsSha512Mechanism()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(mech), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctxT(t), kgo.StringRecord("a"), kgo.StringRecord("b"), kgo.StringRecord("c")).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cons, err := consumer.New(eoskit.Conn{Brokers: c.ListenAddrs(), SASL: mech},
		consumer.WithGroup("g"), consumer.WithTopics("in"), consumer.StartAtEarliest())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	var n atomic.Int32
	err = cons.Run(ctx, func(context.Context, *kgo.Record) error {
		if n.Add(1) == 3 {
			cancel()
		}
		return nil
	})
	if err != nil || n.Load() != 3 {
		t.Fatalf("Run over SASL: %v after %d records, want nil after 3", err, n.Load())
	}
}
