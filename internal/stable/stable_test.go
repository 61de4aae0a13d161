package stable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit/internal/kfaketest"
	"github.com/eoskit/eoskit/internal/stable"
)

// pendingOffsets commits offset 5 of topic/0 for group inside an open
// transaction and returns a function that commits that transaction.
func pendingOffsets(t *testing.T, ctx context.Context, addrs []string, group, topic string) (commit func()) {
	t.Helper()
	cl := kfaketest.Client(t, addrs)
	id := "stable-test"
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID = &id
	init.TransactionTimeoutMillis = 60000
	ir, err := init.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(ir.ErrorCode)
	}
	if err != nil {
		t.Fatalf("init producer ID: %v", err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = id, ir.ProducerID, ir.ProducerEpoch, group
	if ar, err := add.RequestWith(ctx, cl); err != nil || ar.ErrorCode != 0 {
		t.Fatalf("add offsets to the transaction: %v (code %d)", err, ar.ErrorCode)
	}
	oc := kmsg.NewPtrTxnOffsetCommitRequest()
	oc.TransactionalID, oc.Group, oc.ProducerID, oc.ProducerEpoch = id, group, ir.ProducerID, ir.ProducerEpoch
	oc.MemberID, oc.Generation = "", -1
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil || td[topic].Err != nil {
		t.Fatalf("topic %s: %v %v", topic, err, td[topic].Err)
	}
	tp := kmsg.NewTxnOffsetCommitRequestTopic()
	tp.Topic, tp.TopicID = topic, td[topic].ID // v6 names topics by ID
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.LeaderEpoch = 0, 5, -1
	tp.Partitions = append(tp.Partitions, p)
	oc.Topics = append(oc.Topics, tp)
	or, err := oc.RequestWith(ctx, cl)
	if err != nil || or.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit offsets in the transaction: %v %+v", err, or)
	}
	return func() {
		end := kmsg.NewPtrEndTxnRequest()
		end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = id, ir.ProducerID, ir.ProducerEpoch, true
		if er, err := end.RequestWith(context.Background(), cl); err != nil || er.ErrorCode != 0 {
			t.Errorf("end the transaction: %v (code %d)", err, er.ErrorCode)
		}
	}
}

// TestFetchWaitsForPendingOffsets: offsets committed in an open
// transaction read as UNSTABLE_OFFSET_COMMIT with require_stable; Fetch
// retries until the transaction commits and returns its offsets, and
// reports the pending partitions, wrapping kerr.UnstableOffsetCommit, when
// its context ends first.
func TestFetchWaitsForPendingOffsets(t *testing.T) {
	addrs := kfaketest.Cluster(t, 1, "in")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(kfaketest.Client(t, addrs))
	// The group's settled offset 2, then 5 pending in a transaction.
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "in", Partition: 0, At: 2, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "g", os); err != nil {
		t.Fatal(err)
	}
	commit := pendingOffsets(t, ctx, addrs, "g", "in")

	// A plain read gives the settled offset, not the pending one.
	plain, err := adm.FetchOffsetsForTopics(ctx, "g", "in")
	if r, _ := plain.Lookup("in", 0); err != nil || r.Err != nil || r.At != 2 {
		t.Fatalf("plain read during the transaction: %+v, %v; want the settled offset 2", r, err)
	}

	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = stable.Fetch(short, adm, "g", "in")
	cancelShort()
	if !errors.Is(err, kerr.UnstableOffsetCommit) {
		t.Fatalf("Fetch while the transaction is open: %v, want kerr.UnstableOffsetCommit", err)
	}

	time.AfterFunc(200*time.Millisecond, commit)
	began := time.Now()
	offs, err := stable.Fetch(ctx, adm, "g", "in")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	r, ok := offs.Lookup("in", 0)
	if !ok || r.Err != nil || r.At != 5 {
		t.Fatalf("in/0 after the commit: %+v (found %v), want offset 5", r, ok)
	}
	if waited := time.Since(began); waited < 150*time.Millisecond {
		t.Errorf("Fetch returned after %v, before the transaction committed (200 ms)", waited)
	}
}
