package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/dlq"
)

func TestDLQRenderGolden(t *testing.T) {
	rec := dlq.Record{Partition: 0, Offset: 17, Timestamp: t0, Key: "order-42", Value: `{"qty":"x"}`, Error: `parse qty: strconv.Atoi: parsing "x": invalid syntax`,
		SourceTopic: "orders", SourcePartition: 3, SourceOffset: 9120, ReplayCount: 1, Headers: []dlq.Header{{Key: "eoskit-source", Value: "orders/3/9120"}}}
	rep := dlq.Report{Topic: "orders-dlq", From: "group eoskit-dlq-replay-orders-dlq", Records: 3,
		ByError:    []dlq.Count{{Value: rec.Error, Count: 2}, {Value: "timeout calling pricing", Count: 1}},
		BySource:   []dlq.SourceCount{{Topic: "orders", Partition: 1, Count: 1}, {Topic: "orders", Partition: 3, Count: 2}},
		ByReplays:  []dlq.Count{{Value: "0", Count: 2}, {Value: "1", Count: 1}},
		Partitions: []dlq.Range{{Partition: 0, From: 15, End: 21}},
		Shown:      []dlq.Record{rec}}
	render(t, "dlq", "inspect", func(w *bytes.Buffer, j bool) error { return writeInspect(w, j, rep) })
	sum := dlq.Summary{Topic: "orders-dlq", Group: dlq.GroupFor("orders-dlq"), TransactionalID: dlq.TransactionalIDFor("orders-dlq"),
		Total: 200, Done: 200, Replayed: 197, ByTarget: map[string]int64{"orders": 197}, KeptMaxReplays: 3, Kept: []dlq.Record{rec},
		Complete: true, Elapsed: 2345 * time.Millisecond}
	render(t, "dlq", "replay", func(w *bytes.Buffer, j bool) error { return writeReplaySummary(w, j, sum) })
}

// fakeDLQ returns kfake brokers with "in" and "dlq", holding n dead
// letters of "in" (error "bad A" for even i, "bad B" for odd).
func fakeDLQ(t *testing.T, n int) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in", "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < n; i++ {
		e := "bad A"
		if i%2 == 1 {
			e = "bad B"
		}
		r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v"), Headers: []kgo.RecordHeader{
			{Key: txn.DeadLetterError, Value: []byte(e)}, {Key: txn.DeadLetterTopicHeader, Value: []byte("in")},
			{Key: txn.DeadLetterPartition, Value: []byte("0")}, {Key: txn.DeadLetterOffset, Value: []byte(strconv.Itoa(i))}}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return c.ListenAddrs()
}

// ttyWriter is a stderr that claims to be a terminal.
type ttyWriter struct{ bytes.Buffer }

func (*ttyWriter) IsTerminal() bool { return true }

func TestDLQOnKfake(t *testing.T) {
	brokers := []string{"--brokers", strings.Join(fakeDLQ(t, 6), ",")}
	cli := func(args ...string) result {
		t.Helper()
		return run(t, "", append(args, brokers...)...)
	}
	r := cli("dlq", "inspect", "--topic", "dlq", "--show", "2", "-o", "json")
	var rep dlq.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitOK || rep.Records != 6 || len(rep.Shown) != 2 ||
		rep.ByError[0] != (dlq.Count{Value: "bad A", Count: 3}) || rep.Shown[0].SourceTopic != "in" {
		t.Fatalf("inspect: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if r := cli("dlq", "inspect", "--topic", "nope"); r.code != exitUsage || !strings.Contains(r.stderr, "unknown dead-letter topic") {
		t.Fatalf("inspect nope: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Replay "bad A" with a progress bar on a terminal stderr.
	var out bytes.Buffer
	var errb ttyWriter
	code := Execute(context.Background(), append([]string{"dlq", "replay", "--topic", "dlq", "--filter-error", "A$", "-o", "json"}, brokers...),
		strings.NewReader(""), &out, &errb)
	var sum dlq.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || code != exitOK || !sum.Complete || sum.Replayed != 3 || sum.KeptFiltered != 3 {
		t.Fatalf("replay: exit %d %v\n%s%s", code, err, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "replaying dlq") {
		t.Errorf("no progress bar on a terminal stderr: %q", errb.String())
	}
	// The rest, quietly; then nothing is pending.
	r = cli("dlq", "replay", "--topic", "dlq", "--to-source", "--quiet")
	if r.code != exitOK || !strings.Contains(r.stdout, "replayed to in") || !strings.Contains(r.stdout, "3 of 3 records done") || r.stderr != "" {
		t.Fatalf("second replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli("dlq", "inspect", "--topic", "dlq"); r.code != exitOK || !strings.HasPrefix(r.stdout, "Dead-letter topic dlq: 0 records") {
		t.Fatalf("inspect after replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli("dlq", "inspect", "--topic", "dlq", "--all"); r.code != exitOK || !strings.HasPrefix(r.stdout, "Dead-letter topic dlq: 9 records") {
		t.Fatalf("inspect --all (6 + 3 kept by the first replay): exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDLQUsageErrors(t *testing.T) {
	now := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	if got, err := parseSince("2h", now); err != nil || !got.Equal(now.Add(-2*time.Hour)) {
		t.Fatalf("parseSince 2h: %v %v", got, err)
	}
	if got, err := parseSince("2026-12-01T20:00:00Z", now); err != nil || !got.Equal(now.Add(-2*time.Hour)) {
		t.Fatalf("parseSince RFC 3339: %v %v", got, err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "inspect"}, "--topic is required"},
		{[]string{"dlq", "inspect", "--topic", "d", "--show", "-1"}, "--show"},
		{[]string{"dlq", "replay"}, "--topic is required"},
		{[]string{"dlq", "replay", "--topic", "d", "--to-source", "--to", "x"}, "not both"},
		{[]string{"dlq", "replay", "--topic", "d", "--filter-error", "("}, "--filter-error"},
		{[]string{"dlq", "replay", "--topic", "d", "--since", "yesterday"}, "--since"},
		{[]string{"dlq", "replay", "--topic", "d", "--to", "d"}, "dead-letter topic itself"},
		{[]string{"dlq", "replay", "--topic", "d", "--max-replays", "-1"}, "WithMaxReplays"},
	}
	for _, c := range cases {
		r := run(t, "", c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
