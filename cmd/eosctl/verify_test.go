package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/txn/verify"
)

// verifyGolden compares got with testdata/verify/name (-update rewrites it).
func verifyGolden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", "verify", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no input":            {"verify", "--to", "out"},
		"no output":           {"verify", "--from", "in"},
		"same topic":          {"verify", "--from", "t", "--to", "t"},
		"order-by-key alone":  {"verify", "--from", "in", "--to", "out", "--order-by-key"},
		"bad format":          {"verify", "--from", "in", "--to", "out", "--output", "xml"},
		"unknown flag":        {"verify", "--from", "in", "--to", "out", "--nope"},
		"argument":            {"verify", "--from", "in", "--to", "out", "extra"},
		"broker without port": {"verify", "--from", "in", "--to", "out", "--brokers", "localhost"},
	} {
		if r := run(t, "", args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("%s: exit %d, stderr %q; want %d and a message", name, r.code, r.stderr, exitUsage)
		}
	}
}

// seedCopy writes 4 records to in (1 partition) and copies them to out
// with provenance headers; dup names an input copied a second time (-1:
// none).
func seedCopy(t *testing.T, brokers, in, out string, dup int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, in, out); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}).First()
		if err != nil {
			t.Fatal(err)
		}
		copies := 1
		if i == dup {
			copies = 2
		}
		for range copies {
			src := verify.Pos{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}.String()
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: r.Value,
				Headers: []kgo.RecordHeader{{Key: verify.ProvenanceHeader, Value: []byte(src)}}}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestVerifyOnFake(t *testing.T) {
	b := fakeBrokers(t)
	seedCopy(t, b, "in", "out", 2)
	seedCopy(t, b, "in2", "out2", -1)

	r := run(t, "", "verify", "--brokers", b, "--from", "in", "--to", "out", "--order")
	if r.code != exitFailed || !strings.Contains(r.stderr, "anomalies found (1)") {
		t.Fatalf("duplicate: exit %d stderr %q", r.code, r.stderr)
	}
	verifyGolden(t, "duplicate.txt", r.stdout)

	r = run(t, "", "verify", "--brokers", b, "--from", "in", "--to", "out", "--output", "json")
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitFailed {
		t.Fatalf("json: exit %d, %v: %q", r.code, err, r.stdout)
	}
	if rep.Counts.Duplicates != 1 || rep.Counts.InputRecords != 4 || rep.Counts.OutputRecords != 5 || rep.Duplicates[0].Input.Offset != 2 {
		t.Errorf("json report %+v", rep)
	}

	r = run(t, "", "verify", "--brokers", b, "--from", "in2", "--to", "out2", "--order", "--identity")
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("clean copy: exit %d stderr %q", r.code, r.stderr)
	}
	verifyGolden(t, "clean.txt", r.stdout)

	if r := run(t, "", "verify", "--brokers", b, "--from", "in", "--to", "nope"); r.code != exitUsage || !strings.Contains(r.stderr, `"nope"`) {
		t.Fatalf("unknown topic: exit %d stderr %q", r.code, r.stderr)
	}
}

// checkHistoryCLI runs eosctl verify --history on in and out, a clean copy
// of 4 records made by seedCopy: with the history of that copy (two
// committed transactions) it passes; with one that says the second
// transaction aborted, its visible outputs are aborted reads and it fails;
// an unreadable history file is a usage error.
func checkHistoryCLI(t *testing.T, brokers, in, out string) {
	t.Helper()
	txnOf := func(seq int, outcome string, from, to int64) verify.HistoryTxn {
		tx := verify.HistoryTxn{Seq: seq, TransactionalID: "copier", ProducerID: 7, Outcome: outcome, Began: time.Now(),
			Offsets: map[string]map[int32]int64{in: {0: to}}}
		for o := from; o < to; o++ {
			tx.Outputs = append(tx.Outputs, verify.HistoryOutput{Pos: verify.Pos{Topic: out, Partition: 0, Offset: o},
				Provenance: verify.Pos{Topic: in, Partition: 0, Offset: o}.String()})
		}
		return tx
	}
	write := func(name string, txns ...verify.HistoryTxn) string {
		h := verify.NewHistory()
		for _, tx := range txns {
			h.Add(tx)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := h.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	args := func(history string) []string {
		return []string{"verify", "--brokers", brokers, "--timeout", "60s", "--from", in, "--to", out, "--history", history, "--output", "json"}
	}
	report := func(r result) verify.HistoryReport {
		t.Helper()
		var rep verify.HistoryReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("stdout is not a history report (%v): %q; stderr %q", err, r.stdout, r.stderr)
		}
		return rep
	}

	r := run(t, "", args(write("good.jsonl", txnOf(1, "committed", 0, 2), txnOf(2, "committed", 2, 4)))...)
	rep := report(r)
	if r.code != exitOK || !rep.OK() || rep.Counts.Committed != 2 || rep.Counts.Outputs != 4 || rep.Counts.Unchecked != 0 {
		t.Fatalf("history of the clean copy: exit %d, report %+v; stderr %q", r.code, rep.Counts, r.stderr)
	}

	r = run(t, "", args(write("aborted.jsonl", txnOf(1, "committed", 0, 2), txnOf(2, "aborted", 2, 4)))...)
	rep = report(r)
	if r.code != exitFailed || rep.Counts.AbortedReads != 2 || rep.Counts.Aborted != 1 || !strings.Contains(r.stderr, "anomalies found") {
		t.Fatalf("history with the second transaction aborted: exit %d, counts %+v; stderr %q", r.code, rep.Counts, r.stderr)
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "", args(bad)...); r.code != exitUsage || !strings.Contains(r.stderr, "--history") {
		t.Fatalf("unreadable history: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestVerifyHistoryOnFake(t *testing.T) {
	b := fakeBrokers(t)
	seedCopy(t, b, "in", "out", -1)
	checkHistoryCLI(t, b, "in", "out")
}
