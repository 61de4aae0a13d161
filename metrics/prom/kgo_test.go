package prom_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKgoOptsSeveralClients: kprom registers per client; through KgoOpts
// two clients at once, and one built after the first closed, share one
// set of counters on the registry without a duplicate-registration panic.
func TestKgoOptsSeveralClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg, m := newMetrics(t)
	produce := func(n int) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t")}, m.KgoOpts()...)...)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		return cl
	}
	a, b := produce(3), produce(4)
	a.Close()
	b.Close()
	produce(5).Close()
	var got float64
	for _, mm := range family(t, reg, "eoskit_kafka_produce_records_total").GetMetric() {
		if l := labelsOf(mm); l["topic"] != "t" || l["group"] != "g" || l["txn_id"] != "app-g-0" {
			t.Errorf("labels %v, want topic t, group g, txn_id app-g-0", l)
		}
		got += mm.GetCounter().GetValue()
	}
	if got != 12 {
		t.Fatalf("eoskit_kafka_produce_records_total = %v over three clients, want 12", got)
	}
}
