package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/internal/kfaketest"
)

// opsGolden compares got with testdata/<dir>/name, or rewrites it with -update.
func opsGolden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	golden(t, filepath.Join("..", dir, name), got)
}

// render runs a table renderer and its JSON twin into golden files
// testdata/<dir>/<name>.txt and .json.
func render(t *testing.T, dir, name string, fn func(w *bytes.Buffer, asJSON bool) error) {
	t.Helper()
	for _, asJSON := range []bool{false, true} {
		var b bytes.Buffer
		if err := fn(&b, asJSON); err != nil {
			t.Fatal(err)
		}
		ext := ".txt"
		if asJSON {
			ext = ".json"
			if !json.Valid(b.Bytes()) {
				t.Fatalf("%s: invalid JSON: %s", name, b.String())
			}
		}
		opsGolden(t, dir, name+ext, b.Bytes())
	}
}

var (
	t0   = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	hung = admin.OpenTxn{
		TopicPartition: admin.TopicPartition{Topic: "orders", Partition: 2}, Leader: 1, ProducerID: 4001, ProducerEpoch: 3,
		CoordinatorEpoch: 1, StartOffset: 120, LastWrite: t0, TransactionalID: "orders-7", State: "Ongoing",
		Timeout: 15 * time.Minute, Age: 20*time.Minute + 3*time.Second, Reasons: []string{admin.HangingTimedOut, admin.HangingMaxAge},
		LSO: 120, HWM: 180, Blocked: []admin.BlockedGroup{{Group: "billing", Committed: 120, LagToLSO: 0, LagToHWM: 60}},
	}
	orphan = admin.OpenTxn{
		TopicPartition: admin.TopicPartition{Topic: "orders", Partition: 5}, Leader: 2, ProducerID: 3999, ProducerEpoch: 0,
		CoordinatorEpoch: 0, StartOffset: 7, LastWrite: t0.Add(-time.Hour), Age: time.Hour, Reasons: []string{admin.HangingUnknownProducer},
		LSO: 7, HWM: 9,
	}
)

// The renderers on constructed results: fixed times and IDs that a live
// cluster cannot give.
func TestTxnsRenderGolden(t *testing.T) {
	ts := []admin.Transaction{
		{TransactionalID: "orders-7", State: "Ongoing", ProducerID: 4001, ProducerEpoch: 3, Coordinator: 1, Timeout: 15 * time.Minute,
			Started: t0, Partitions: []admin.TopicPartition{{Topic: "orders", Partition: 2}, {Topic: "orders-out", Partition: 0}}},
		{TransactionalID: "orders-8", State: "Empty", ProducerID: 4002, ProducerEpoch: 0, Coordinator: 2, Timeout: time.Minute},
		{TransactionalID: "nobody", Coordinator: 1, Error: "TRANSACTIONAL_ID_NOT_FOUND"},
	}
	render(t, "txns", "list", func(w *bytes.Buffer, j bool) error { return writeTxnList(w, j, ts[:2]) })
	render(t, "txns", "describe", func(w *bytes.Buffer, j bool) error { return writeTxnDescribe(w, j, ts) })
	render(t, "txns", "producers", func(w *bytes.Buffer, j bool) error {
		return writeProducers(w, j, []admin.PartitionProducers{
			{TopicPartition: hung.TopicPartition, Leader: 1, Producers: []admin.ActiveProducer{
				{ProducerID: 4001, ProducerEpoch: 3, CoordinatorEpoch: 1, LastSequence: 59, LastWrite: t0, TxnStartOffset: 120},
				{ProducerID: 4005, ProducerEpoch: 1, CoordinatorEpoch: 1, LastSequence: 9, LastWrite: t0, TxnStartOffset: -1}}},
		})
	})
	render(t, "txns", "hanging", func(w *bytes.Buffer, j bool) error { return writeHanging(w, j, []admin.OpenTxn{hung, orphan}) })
	render(t, "txns", "hanging-none", func(w *bytes.Buffer, j bool) error { return writeHanging(w, j, nil) })
	plan := admin.AbortPlan{ProducerID: 4001, ProducerEpoch: 3, CoordinatorEpoch: 1, Partitions: []admin.TopicPartition{hung.TopicPartition}, Open: []admin.OpenTxn{hung}}
	var b bytes.Buffer
	writeAbortPlan(&b, plan)
	writeAbortPlan(&b, admin.AbortPlan{TransactionalID: "orders-7", ProducerID: 4001, ProducerEpoch: 3, CoordinatorEpoch: -1, Partitions: plan.Partitions})
	opsGolden(t, "txns", "abort-plan.txt", b.Bytes())
	render(t, "txns", "abort", func(w *bytes.Buffer, j bool) error {
		return writeAbortResult(w, j, admin.AbortResult{Plan: plan, Partitions: []admin.AbortedPartition{
			{TopicPartition: hung.TopicPartition, LSOBefore: 120, LSOAfter: 181, HWM: 181}}})
	})
}

// fakeTxnCluster is a kfake cluster with topic t (2 partitions): 5
// committed records on partition 0, then an open transaction of
// "app-hung" with 3 records, and group "readers" committed at 5.
func fakeTxnCluster(t *testing.T) []string {
	t.Helper()
	addrs := kfaketest.Cluster(t, 2, "t")
	ctx := context.Background()
	kfaketest.Produce(t, kfaketest.Client(t, addrs), "t", 0, 5, "c")
	kfaketest.OpenTxn(t, addrs, "app-hung", "t", 0, 3)
	g, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := kadm.NewClient(g).CommitOffsets(ctx, "readers", kadm.OffsetsFromRecords(kgo.Record{Topic: "t", Partition: 0, Offset: 4})); err != nil {
		t.Fatal(err)
	}
	return addrs
}

func TestTxnsOnKfake(t *testing.T) {
	brokers := []string{"--brokers", strings.Join(fakeTxnCluster(t), ","), "--timeout", "20s"}
	cli := func(args ...string) result {
		t.Helper()
		return run(t, "", append(args, brokers...)...)
	}

	r := cli("txns", "list", "--txn-id-prefix", "app-", "--state", "Ongoing")
	if r.code != exitOK || !strings.Contains(r.stdout, "app-hung") || !strings.Contains(r.stdout, "Ongoing") {
		t.Fatalf("list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli("txns", "list", "--txn-id-prefix", "zzz"); r.code != exitOK || r.stdout != "No transactional IDs.\n" {
		t.Fatalf("list zzz: exit %d %q", r.code, r.stdout)
	}
	r = cli("txns", "describe", "app-hung", "-o", "json")
	var desc struct{ Transactions []admin.Transaction }
	if err := json.Unmarshal([]byte(r.stdout), &desc); err != nil || r.code != exitOK || len(desc.Transactions) != 1 ||
		desc.Transactions[0].Timeout != 10*time.Minute || len(desc.Transactions[0].Partitions) != 1 {
		t.Fatalf("describe: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if r := cli("txns", "describe", "nobody"); r.code != exitFailed || !strings.Contains(r.stdout, "nobody") {
		t.Fatalf("describe nobody: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli("txns", "producers", "--topic", "t"); r.code != exitOK || !strings.Contains(r.stdout, "OPEN-TXN-FROM") {
		t.Fatalf("producers: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r := cli("txns", "hanging"); r.code != exitOK || r.stdout != "No hanging transactions.\n" {
		t.Fatalf("hanging without --max-age: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	time.Sleep(20 * time.Millisecond)
	r = cli("txns", "hanging", "--max-age", "10ms", "-o", "json")
	var h struct{ Hanging []admin.OpenTxn }
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || r.code != exitOK || len(h.Hanging) != 1 ||
		h.Hanging[0].TransactionalID != "app-hung" || h.Hanging[0].LSO != 5 || h.Hanging[0].HWM != 8 || len(h.Hanging[0].Blocked) != 1 {
		t.Fatalf("hanging: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	r = cli("groups", "lag", "readers", "--max-age", "10ms")
	if r.code != exitOK || !strings.Contains(r.stdout, "1 partitions pinned") || !strings.Contains(r.stdout, "app-hung (open") {
		t.Fatalf("groups lag: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Refused without --yes off a terminal; nothing changed.
	if r := cli("txns", "abort", "--topic", "t", "--partition", "0"); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") ||
		!strings.Contains(r.stdout, "Plan: write abort markers") {
		t.Fatalf("abort without --yes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Asked on a terminal; anything but "yes" cancels.
	r = runIn(t, terminal{strings.NewReader("no\n")}, append([]string{"txns", "abort", "--topic", "t", "--partition", "0"}, brokers...)...)
	if r.code != exitFailed || !strings.Contains(r.stderr, "cancelled") {
		t.Fatalf("abort answered no: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli("txns", "abort", "--topic", "t", "--partition", "1", "--yes"); r.code != exitUsage || !strings.Contains(r.stderr, "no open transaction") {
		t.Fatalf("abort of a partition without transaction: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, terminal{strings.NewReader("yes\n")}, append([]string{"txns", "abort", "--topic", "t", "--partition", "0"}, brokers...)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "aborted") {
		t.Fatalf("abort: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if f := strings.Fields(strings.Split(r.stdout, "\n")[len(strings.Split(r.stdout, "\n"))-2]); len(f) != 6 || f[2] != "5" || f[3] != "9" || f[4] != "9" {
		t.Fatalf("abort result row %q: want LSO 5 -> 9, HWM 9", f)
	}
	if r := cli("groups", "lag", "readers", "-o", "json"); r.code != exitOK || !strings.Contains(r.stdout, `"pinned": 0`) || !strings.Contains(r.stdout, `"lagToLso": 4`) {
		t.Fatalf("groups lag after abort: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestTxnsUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"txns", "abort"}, "name the transaction"},
		{[]string{"txns", "abort", "--topic", "t"}, "name the transaction"},
		{[]string{"txns", "abort", "--txn-id", "x", "--topic", "t", "--partition", "0"}, "not both"},
		{[]string{"txns", "abort", "--txn-id", "x", "--producer-id", "3"}, "go with --topic"},
		{[]string{"txns", "describe"}, "requires at least 1 arg"},
		{[]string{"txns", "producers"}, "--topic is required"},
		{[]string{"txns", "hanging", "--max-age", "-1s"}, "--max-age"},
		{[]string{"txns", "list", "-o", "xml"}, "--output"},
		{[]string{"groups", "lag"}, "accepts 1 arg"},
		{[]string{"groups", "lag", "g", "--interval", "0s"}, "--interval"},
	}
	for _, c := range cases {
		r := run(t, "", c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
