package consumer_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/consumer"
)

// TestLagSeesHangingTransaction (#12 item 12): the group has read and
// committed everything a read_committed reader can see (5 records), and a
// transaction that never ends holds 3 more. Lag to the last stable offset
// is 0, but Lag must also report the 3 records to the high watermark and
// flag the partition as held by an open transaction.
func TestLagSeesHangingTransaction(t *testing.T) {
	c := fake(t, 1, "t")
	addrs := c.ListenAddrs()
	ctx := ctxT(t)
	seed(t, addrs, "t", 1, 5)
	hang, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.TransactionalID("hanging"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	if err := hang.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := hang.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: 0, Value: []byte("open")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(hang)
	var offs kadm.Offsets
	offs.AddOffset("t", 0, 5, -1)
	if err := adm.CommitAllOffsets(ctx, "lagged", offs); err != nil {
		t.Fatal(err)
	}

	cons, err := consumer.New(eoskit.Conn{Brokers: addrs}, base(addrs, "lagged", "t")...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	lag, err := cons.Lag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(lag) != 1 {
		t.Fatalf("lag %+v, want one partition", lag)
	}
	l := lag[0]
	if l.Committed != 5 || l.LSO != 5 || l.HWM != 8 || l.Lag != 0 || l.LagToLSO != 0 || l.LagToHWM != 3 || !l.Pinned {
		t.Fatalf("lag %+v, want committed 5, LSO 5, HWM 8, lag 0 to the LSO and 3 to the HWM, pinned", l)
	}
}
