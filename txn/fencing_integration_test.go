//go:build integration

package txn_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
)

// A crashed instance left a transaction open (a zombie with a 10-minute
// transaction timeout). Its replacement, with the same transactional ID,
// initialises its producer ID at start-up — before any input exists — and
// that fences the zombie: the open transaction is aborted, read_committed
// readers are unblocked long before the zombie's timeout, and the zombie
// can no longer commit.
func TestStartupFencesZombie(t *testing.T) {
	c := shared.Cluster
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	createReplicated(t, c, in, 1)
	createReplicated(t, c, out, 1)
	id := group + "-0"
	zombie := client(t, c.Bootstrap(), kgo.TransactionalID(id), kgo.TransactionTimeout(10*time.Minute))
	ctx := testCtx(t, 2*time.Minute)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Topic: out, Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(client(t, c.Bootstrap()))
	if lso := stableEnd(t, adm, out); lso != 0 {
		t.Fatalf("LSO %d with the zombie's transaction open, want 0", lso)
	}

	p, err := txn.New(kconn(c.Bootstrap()), txn.Copy(out), txn.WithGroup(group), txn.WithTopics(in), txn.WithTransactionalID(id))
	if err != nil {
		t.Fatal(err)
	}
	runProc(t, p)
	// The abort marker moves the LSO past the zombie's record (offset 0).
	for stableEnd(t, adm, out) < 2 {
		if ctx.Err() != nil {
			t.Fatal("the zombie's transaction still blocks read_committed readers")
		}
		time.Sleep(100 * time.Millisecond)
	}
	err = zombie.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie commit returned %v, want a fencing error", err)
	}
	if got := readCommitted(t, c.Bootstrap(), out); len(got) != 0 {
		t.Fatalf("%d zombie records visible to read_committed", len(got))
	}
}

// stableEnd returns partition 0's last stable offset.
func stableEnd(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	offs, err := adm.ListCommittedOffsets(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := offs.Lookup(topic, 0)
	return o.Offset
}

// Two live processors with one transactional ID: the older one is fenced
// and its Run returns ErrFenced; the output stays exactly once.
func TestSharedTransactionalIDFenced(t *testing.T) {
	c := shared.Cluster
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	createReplicated(t, c, in, 2)
	createReplicated(t, c, out, 2)
	newProc := func() *txn.Processor {
		p, err := txn.New(kconn(c.Bootstrap()), txn.Copy(out), txn.WithGroup(group), txn.WithTopics(in),
			txn.WithTransactionalID(group+"-same"), txn.WithMaxTxnRecords(50))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := runProc(t, newProc())
	seedInput(t, c, in, 200)
	waitCommitted(t, c.Bootstrap(), group, in)
	b := runProc(t, newProc())
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; ; i++ {
		seedInput(t, c, in, 20)
		select {
		case <-a.done:
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("the older processor was not fenced")
			}
			continue
		}
		break
	}
	if !errors.Is(a.err, eoskit.ErrFenced) {
		t.Fatalf("older processor's Run returned %v, want ErrFenced", a.err)
	}
	waitCommitted(t, c.Bootstrap(), group, in)
	if err := b.stop(); err != nil {
		t.Fatalf("newer processor: %v", err)
	}
	exactlyOnce(t, readCommitted(t, c.Bootstrap(), in), readCommitted(t, c.Bootstrap(), out))
}
