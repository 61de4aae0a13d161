package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn/verify"
)

// TestRunRefusesUnsettledOutput (#12 item 11): after a clean copy, a
// transaction opens on the output and never ends, and a committed
// duplicate lands after it. Reading to the last stable offset would miss
// the duplicate and pass: Run must say the partition is not settled (with
// the open producer), fail with ErrNotSettled, and never pass. Once the
// transaction is aborted, the duplicate is read and reported.
func TestRunRefusesUnsettledOutput(t *testing.T) {
	opts := fake(t)
	ctx := testCtx(t, time.Minute)
	createTopics(t, opts, 2, "in", "out")
	p0, p1 := writeInput(ctx, t, opts, "in")
	writeCleanCopy(ctx, t, opts, "out", p0, p1)

	open := newClient(t, opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("verify-open"))
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, open, copyOf("out", 0, p0[0], true))
	pid, _, err := open.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dup := newClient(t, opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce(ctx, t, dup, copyOf("out", 0, p0[1], true)) // committed, above the LSO

	cfg := verify.Config{Input: []string{"in"}, Output: []string{"out"}, SettleTimeout: 500 * time.Millisecond}
	rep, err := verify.Run(ctx, connOf(t, opts), cfg)
	if !errors.Is(err, eoskit.ErrNotSettled) {
		t.Fatalf("Run with an open transaction on the output: %v, want ErrNotSettled\n%s", err, rep)
	}
	if rep.OK() || len(rep.Unsettled) != 1 || rep.Counts.Unsettled != 1 {
		t.Fatalf("report must fail and name the one unsettled partition:\n%s", rep)
	}
	u := rep.Unsettled[0]
	if u.Topic != "out" || u.Partition != 0 || u.LSO >= u.HWM || len(u.OpenProducers) != 1 || u.OpenProducers[0].ProducerID != pid {
		t.Fatalf("unsettled %+v, want out/0 with LSO < HWM held by producer %d", u, pid)
	}
	if text := rep.String(); !strings.Contains(text, "FAILED") || !strings.Contains(text, "not settled") {
		t.Fatalf("text report does not say the partition is not settled:\n%s", text)
	}

	if err := open.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	rep, err = verify.Run(ctx, connOf(t, opts), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Counts.Duplicates != 1 || len(rep.Unsettled) != 0 {
		t.Fatalf("settled output: want the committed duplicate found:\n%s", rep)
	}
}

// TestRunRefusesCompactedOutput: compaction can delete duplicates before
// the verifier reads them, so a compacted output is refused unless
// AllowCompacted says the caller knows.
func TestRunRefusesCompactedOutput(t *testing.T) {
	opts := fake(t)
	ctx := testCtx(t, time.Minute)
	createTopics(t, opts, 1, "in")
	policy := "compact,delete"
	resp, err := kadm.NewClient(newClient(t, opts)).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &policy}, "out")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := verify.Config{Input: []string{"in"}, Output: []string{"out"}}
	if _, err := verify.Run(ctx, connOf(t, opts), cfg); !errors.Is(err, verify.ErrCompactedOutput) || !strings.Contains(err.Error(), `"out"`) {
		t.Fatalf("compacted output: %v, want ErrCompactedOutput naming the topic", err)
	}
	cfg.AllowCompacted = true
	if _, err := verify.Run(ctx, connOf(t, opts), cfg); err != nil {
		t.Fatalf("AllowCompacted: %v", err)
	}
}

// TestReportNamesKeyValueMatching: outputs without the provenance header
// are matched by key and value, which cannot tell a duplicate of one input
// from the output of another input with the same key and value: the
// report says so.
func TestReportNamesKeyValueMatching(t *testing.T) {
	opts := fake(t)
	ctx := testCtx(t, time.Minute)
	createTopics(t, opts, 2, "in", "out")
	p0, _ := writeInput(ctx, t, opts, "in")
	cl := newClient(t, opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, r := range p0 {
		produce(ctx, t, cl, copyOf("out", 0, r, false))
	}
	rep, err := verify.Run(context.Background(), connOf(t, opts), verify.Config{Input: []string{"in"}, Output: []string{"out"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.ByKeyValue != len(p0) || len(rep.Limitations) != 1 || !strings.Contains(rep.String(), "key and value") {
		t.Fatalf("key/value matching must be named as a limitation:\n%s", rep)
	}
	if !strings.Contains(string(rep.JSON()), `"limitations"`) {
		t.Fatalf("JSON report lacks the limitations:\n%s", rep.JSON())
	}
}
