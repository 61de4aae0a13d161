package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/internal/kfaketest"
)

// txnCluster is a kfake cluster with topic "t" (2 partitions) holding 5
// committed records on partition 0.
func txnCluster(t *testing.T) (*admin.Client, []string) {
	t.Helper()
	addrs := kfaketest.Cluster(t, 2, "t")
	cl := kfaketest.Client(t, addrs, kgo.DefaultProduceTopic("t"))
	kfaketest.Produce(t, cl, "t", 0, 5, "c")
	return admin.NewWithClient(cl), addrs
}

// openTxn begins a transaction for id, writes n records to t/partition and
// leaves it open; the returned client ends it when closed (aborting).
func openTxn(t *testing.T, addrs []string, id string, partition int32, n int) *kgo.Client {
	t.Helper()
	return kfaketest.OpenTxn(t, addrs, id, "t", partition, n)
}

func TestTransactionsListDescribeHangingAbort(t *testing.T) {
	ctx := context.Background()
	adm, addrs := txnCluster(t)
	openTxn(t, addrs, "app-hung", 0, 3)

	ls, err := adm.ListTransactions(ctx, admin.TxnFilter{IDPrefix: "app-", States: []string{"Ongoing"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ls.Sorted(); len(got) != 1 || got[0].TransactionalID != "app-hung" || got[0].State != "Ongoing" || got[0].ProducerID < 0 {
		t.Fatalf("ListTransactions: %+v", got)
	}
	if none, err := adm.ListTransactions(ctx, admin.TxnFilter{IDPrefix: "other-"}); err != nil || len(none) != 0 {
		t.Fatalf("prefix other-: %+v %v", none, err)
	}

	ds, err := adm.DescribeTransactions(ctx, "app-hung", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	d := ds["app-hung"]
	if d.State != "Ongoing" || d.Timeout != 10*time.Minute || d.Started.IsZero() || len(d.Partitions) != 1 ||
		d.Partitions[0] != (admin.TopicPartition{Topic: "t", Partition: 0}) || d.ProducerID != ls["app-hung"].ProducerID {
		t.Fatalf("DescribeTransactions: %+v", d)
	}
	if ds["nobody"].Err == nil {
		t.Errorf("unknown ID described without error: %+v", ds["nobody"])
	}

	pps, err := adm.DescribeProducers(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(pps) != 2 || len(pps[0].Producers) == 0 {
		t.Fatalf("DescribeProducers: %+v", pps)
	}
	var open *admin.ActiveProducer
	for i, p := range pps[0].Producers {
		if p.ProducerID == d.ProducerID {
			open = &pps[0].Producers[i]
		}
	}
	if open == nil || open.TxnStartOffset != 5 {
		t.Fatalf("t/0 producers %+v: want producer %d open from offset 5", pps[0].Producers, d.ProducerID)
	}

	// A group that read the 5 committed records is stuck at the LSO.
	if _, err := kadm.NewClient(mustClient(t, addrs)).CommitOffsets(ctx, "readers", kadm.OffsetsFromRecords(kgo.Record{Topic: "t", Partition: 0, Offset: 4})); err != nil {
		t.Fatal(err)
	}

	// Known to its coordinator and within its timeout: not hanging...
	if h, err := adm.FindHanging(ctx, admin.HangingOptions{}); err != nil || len(h) != 0 {
		t.Fatalf("FindHanging without max age: %+v %v", h, err)
	}
	// ...unless older than --max-age.
	time.Sleep(20 * time.Millisecond)
	h, err := adm.FindHanging(ctx, admin.HangingOptions{Topics: []string{"t"}, MaxAge: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].TransactionalID != "app-hung" || h[0].StartOffset != 5 || h[0].LSO != 5 || h[0].HWM != 8 ||
		strings.Join(h[0].Reasons, ",") != admin.HangingMaxAge || len(h[0].Blocked) != 1 ||
		h[0].Blocked[0] != (admin.BlockedGroup{Group: "readers", Committed: 5, LagToLSO: 0, LagToHWM: 3}) {
		t.Fatalf("FindHanging: %+v", h)
	}
	// As if the clock were 11 minutes on: older than its own timeout.
	if h, err := adm.FindHanging(ctx, admin.HangingOptions{Now: time.Now().Add(11 * time.Minute)}); err != nil || len(h) != 1 ||
		strings.Join(h[0].Reasons, ",") != admin.HangingTimedOut {
		t.Fatalf("FindHanging past the timeout: %+v %v", h, err)
	}

	lag, err := adm.GroupLag(ctx, "readers", admin.HangingOptions{MaxAge: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if lag.Pinned != 1 || len(lag.Partitions) != 1 || lag.Partitions[0].PinnedBy == nil ||
		lag.Partitions[0].PinnedBy.TransactionalID != "app-hung" || lag.Partitions[0].LagToLSO != 0 || lag.Partitions[0].LagToHWM != 3 {
		t.Fatalf("GroupLag while pinned: %+v", lag)
	}

	if _, err := adm.PlanAbort(ctx, admin.AbortPartition("t", 1)); !errors.Is(err, admin.ErrNoOpenTransaction) {
		t.Fatalf("PlanAbort of a partition without open transaction: %v", err)
	}
	p, err := adm.PlanAbort(ctx, admin.AbortPartition("t", 0))
	if err != nil {
		t.Fatal(err)
	}
	if p.ProducerID != d.ProducerID || p.ProducerEpoch != d.ProducerEpoch || len(p.Open) != 1 || p.Open[0].TransactionalID != "app-hung" {
		t.Fatalf("PlanAbort: %+v", p)
	}
	res, err := adm.Abort(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Partitions) != 1 || res.Partitions[0].LSOBefore != 5 || res.Partitions[0].LSOAfter != res.Partitions[0].HWM || res.Partitions[0].HWM != 9 {
		t.Fatalf("Abort: %+v", res)
	}
	// (kfake keeps describing the producer as open after the markers: it
	// derives DescribeProducers from its coordinator's state. The broker
	// test TestTxnsHangingAbort checks that FindHanging is empty after.)
	if lag, err := adm.GroupLag(ctx, "readers", admin.HangingOptions{}); err != nil || lag.Pinned != 0 || lag.Partitions[0].LagToLSO != 4 {
		t.Fatalf("GroupLag after abort: %+v %v", lag, err)
	}
	if _, err := adm.GroupLag(ctx, "nobody", admin.HangingOptions{}); !errors.Is(err, admin.ErrUnknownGroup) {
		t.Fatalf("GroupLag of an unknown group: %v", err)
	}
}

func TestAbortAmbiguousAndByTransactionalID(t *testing.T) {
	ctx := context.Background()
	adm, addrs := txnCluster(t)
	a := openTxn(t, addrs, "a", 1, 1)
	openTxn(t, addrs, "b", 1, 1)
	_, err := adm.PlanAbort(ctx, admin.AbortPartition("t", 1))
	if !errors.Is(err, admin.ErrAmbiguousTransaction) || !strings.Contains(err.Error(), "producer ID") {
		t.Fatalf("two open transactions: %v", err)
	}
	// Named by its start offset (offset 0 is a's, 1 b's): not ambiguous.
	spec := admin.AbortPartition("t", 1)
	spec.StartOffset = 1
	if p, err := adm.PlanAbort(ctx, spec); err != nil || len(p.Open) != 1 || p.Open[0].TransactionalID != "b" {
		t.Fatalf("PlanAbort by start offset: %+v %v", p, err)
	}
	spec.StartOffset = 4
	if _, err := adm.PlanAbort(ctx, spec); !errors.Is(err, admin.ErrNoOpenTransaction) {
		t.Fatalf("PlanAbort at an offset no transaction starts at: %v", err)
	}

	p, err := adm.PlanAbortTransactionalID(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Partitions) != 1 || len(p.Open) != 1 || p.Open[0].TransactionalID != "a" {
		t.Fatalf("PlanAbortTransactionalID: %+v", p)
	}
	if _, err := adm.Abort(ctx, p); err != nil {
		t.Fatal(err)
	}
	if ds, err := adm.DescribeTransactions(ctx, "a"); err != nil || ds["a"].State == "Ongoing" || ds["a"].ProducerEpoch <= p.ProducerEpoch {
		t.Fatalf("after fencing: %+v %v", ds, err)
	}
	// The fenced producer can no longer commit.
	if err := a.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the fenced producer committed")
	}
	if _, err := adm.PlanAbortTransactionalID(ctx, "a"); !errors.Is(err, admin.ErrNoOpenTransaction) {
		t.Fatalf("second abort of a: %v", err)
	}
}

func mustClient(t *testing.T, addrs []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
