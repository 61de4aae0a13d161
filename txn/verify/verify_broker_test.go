//go:build integration

package verify_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/internal/demo"
	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/verify"
)

// shared is one single-node Apache Kafka cluster for the whole suite.
var shared *integration.Shared

func TestMain(m *testing.M) {
	shared = integration.StartShared(integration.WithNodes(1))
	integration.AnnounceSuite("verify", shared.Cluster)
	os.Exit(shared.Run(m))
}

func brokerOpts() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(shared.Bootstrap()...)} }

// names returns random input and output topic names for t.
func names(t *testing.T) (in, out string) {
	base := fmt.Sprintf("%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	return base + "-in", base + "-out"
}

// On Apache Kafka, the verifier finds exactly the planted anomalies, and
// none of the records of the aborted transactions (input or output).
func TestBrokerFindsAnomalies(t *testing.T) {
	opts := brokerOpts()
	ctx := testCtx(t, 2*time.Minute)
	in, out := names(t)
	createTopics(t, opts, 2, in, out)
	p0, p1 := writeInput(ctx, t, opts, in)
	writeAnomalousOutput(ctx, t, opts, in, out, p0, p1)
	rep, err := verify.Run(ctx, eoskit.Conn{Brokers: shared.Bootstrap()}, verify.Config{Input: []string{in}, Output: []string{out}, Order: true})
	if err != nil {
		t.Fatal(err)
	}
	checkAnomalies(t, rep, in, out)
}

func TestBrokerCleanCopy(t *testing.T) {
	opts := brokerOpts()
	ctx := testCtx(t, 2*time.Minute)
	in, out := names(t)
	createTopics(t, opts, 2, in, out)
	p0, p1 := writeInput(ctx, t, opts, in)
	writeCleanCopy(ctx, t, opts, out, p0, p1)
	rep, err := verify.Run(ctx, eoskit.Conn{Brokers: shared.Bootstrap()}, verify.Config{Input: []string{in}, Output: []string{out}, Order: true, Identity: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Counts.InputRecords != 22 || rep.Counts.OutputRecords != 22 || rep.Counts.ByHeader != 22 {
		t.Fatalf("want a clean 22-record copy:\n%s", rep)
	}
}

// A transaction still open on the output holds back the last stable
// offset: the verifier reads up to it, never past it, and does not wait
// for the transaction.
func TestBrokerRefusesHangingTransaction(t *testing.T) {
	opts := brokerOpts()
	ctx := testCtx(t, 2*time.Minute)
	in, out := names(t)
	createTopics(t, opts, 2, in, out)
	p0, p1 := writeInput(ctx, t, opts, in)
	writeCleanCopy(ctx, t, opts, out, p0, p1)

	// A transaction that hangs (never ends within the test), then a
	// committed duplicate after it: reading to the last stable offset
	// would pass without seeing the duplicate.
	open := newClient(t, opts, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(fmt.Sprintf("verify-test-open-%d", time.Now().UnixNano())))
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, open, copyOf(out, 0, p0[0], true))
	t.Cleanup(func() { _ = open.EndTransaction(context.Background(), kgo.TryAbort) })
	pid, _, err := open.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, newClient(t, opts, kgo.RecordPartitioner(kgo.ManualPartitioner())), copyOf(out, 0, p0[1], true))

	cfg := verify.Config{Input: []string{in}, Output: []string{out}, Order: true, SettleTimeout: 2 * time.Second}
	rep, err := verify.Run(ctx, eoskit.Conn{Brokers: shared.Bootstrap()}, cfg)
	if !errors.Is(err, eoskit.ErrNotSettled) || rep.OK() {
		t.Fatalf("hanging transaction: err %v, report:\n%s\nwant ErrNotSettled and a failed report", err, rep)
	}
	if len(rep.Unsettled) != 1 || rep.Unsettled[0].Topic != out || rep.Unsettled[0].Partition != 0 ||
		len(rep.Unsettled[0].OpenProducers) != 1 || rep.Unsettled[0].OpenProducers[0].ProducerID != pid {
		t.Fatalf("unsettled %+v, want %s/0 held by producer %d", rep.Unsettled, out, pid)
	}

	if err := open.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	rep, err = verify.Run(ctx, eoskit.Conn{Brokers: shared.Bootstrap()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Counts.Duplicates != 1 || rep.Counts.OutputRecords != 23 {
		t.Fatalf("after the abort: want the committed duplicate found (23 outputs, 1 duplicate):\n%s", rep)
	}
}

// Outputs of eoskit's own txn processor carry the provenance header the
// verifier matches on.
func TestBrokerTxnProcessorCopy(t *testing.T) {
	opts := brokerOpts()
	ctx := testCtx(t, 2*time.Minute)
	in, out := names(t)
	createTopics(t, opts, 2, in, out)
	p0, p1 := writeInput(ctx, t, opts, in)
	group := "verify-copy-" + in
	p, err := txn.New(eoskit.Conn{Brokers: shared.Bootstrap()}, txn.Copy(out), txn.WithGroup(group), txn.WithTopics(in),
		txn.WithTransactionalID(group+"-0"))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	rep, err := verify.Run(ctx, eoskit.Conn{Brokers: shared.Bootstrap()}, verify.Config{Input: []string{in}, Output: []string{out}, Order: true, Identity: true, Wait: time.Minute})
	stop()
	if rerr := <-done; rerr != nil {
		t.Errorf("processor: %v", rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Counts.ByHeader != len(p0)+len(p1) {
		t.Fatalf("want every input copied once, matched by header:\n%s", rep)
	}
}

// The demo, on Apache Kafka: a processor crashes mid-transaction, its
// replacement fences it, and the output is an exactly-once copy.
func TestBrokerDemo(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	var progress strings.Builder
	res, err := demo.Run(ctx, demo.Config{
		Brokers: shared.Bootstrap(), Records: 5000, Partitions: 3, StreamFor: 3 * time.Second, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var sum strings.Builder
	res.WriteText(&sum)
	t.Logf("progress:\n%s\nsummary:\n%s", progress.String(), sum.String())
	if !res.OK() || res.Simulated {
		t.Fatal("the demo on real brokers must pass and not claim to be simulated")
	}
	c := res.Verify.Counts
	if c.InputRecords != 5000 || c.OutputRecords != 5000 || c.ByHeader != 5000 {
		t.Errorf("counts %+v", c)
	}
	if res.Crash.Processor == "" || res.Crash.Replacement == "" {
		t.Errorf("no crash and replacement: %+v", res.Crash)
	}
}
