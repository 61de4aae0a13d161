//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/dlq"
)

// TestOpsCLIOnBroker runs eosctl txns, groups and dlq end to end against a
// real one-broker cluster: a hanging transaction found, flagged and
// aborted, and a dead-letter topic redriven exactly once across a
// SIGKILL.
func TestOpsCLIOnBroker(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(1))
	bins := buildBinaries(t)
	t.Run("HangingTransaction", func(t *testing.T) { testHangingTransaction(t, c, bins) })
	t.Run("DLQReplay", func(t *testing.T) { testDLQReplay(t, c, bins) })
}

// buildBinaries builds eosctl and the hanging producer into a temporary
// folder.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", dir+"/", ".", "./internal/hangproducer").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func createTopics(t *testing.T, cl *kgo.Client, partitions int32, topics ...string) {
	t.Helper()
	rs, err := kadm.NewClient(cl).CreateTopics(context.Background(), partitions, 1, nil, topics...)
	if err == nil {
		err = rs.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// tailReader reads one partition read_committed from the start and keeps
// what it got.
type tailReader struct {
	cl   *kgo.Client
	recs []*kgo.Record
}

func newTailReader(t *testing.T, c *integration.Cluster, topic string, partition int32) *tailReader {
	t.Helper()
	cl, err := c.NewClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &tailReader{cl: cl}
}

// readFor polls for d and returns how many records it has in all.
func (r *tailReader) readFor(d time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ctx.Err() == nil {
		r.recs = append(r.recs, r.cl.PollFetches(ctx).Records()...)
	}
	return len(r.recs)
}

// logCLI returns the connection flags for c and a runner of eosctl with
// them that logs each command and what it printed.
func logCLI(t *testing.T, c *integration.Cluster) ([]string, func(...string) result) {
	b := []string{"--brokers", c.BootstrapString(), "--timeout", "60s"}
	return b, func(args ...string) result {
		t.Helper()
		r := run(t, "", append(args, b...)...)
		t.Logf("$ eosctl %s\n%s%s", strings.Join(args, " "), r.stdout, r.stderr)
		return r
	}
}

func testHangingTransaction(t *testing.T, c *integration.Cluster, bins string) {
	ctx := context.Background()
	_, cli := logCLI(t, c)
	topic := fmt.Sprintf("ops-hang-%d", time.Now().UnixNano())
	txnID := topic + "-producer"
	admCl, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	createTopics(t, admCl, 2, topic)

	// The producer commits 10 records, leaves 5 in an open transaction
	// (15-minute timeout), and is frozen.
	hp := exec.Command(filepath.Join(bins, "hangproducer"), "-brokers", c.BootstrapString(), "-topic", topic, "-txn-id", txnID, "-committed", "10", "-open", "5")
	stdout, err := hp.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	hp.Stderr = os.Stderr
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hp.Process.Kill(); _ = hp.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "OPEN ") {
		t.Fatalf("hangproducer said %q: %v", line, err)
	}
	openAt, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "OPEN ")), 10, 64)
	if err := hp.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// 20 committed records after the open transaction, from another producer.
	after, err := c.NewClient(kgo.TransactionalID(topic+"-after"), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if err := after.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := after.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(fmt.Sprintf("after-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := after.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	// A read_committed reader stops at the LSO: the 10 records before the
	// open transaction, nothing after. Its group commits there.
	reader := newTailReader(t, c, topic, 0)
	if n := reader.readFor(3 * time.Second); n != 10 || string(reader.recs[9].Value) != "committed-9" {
		t.Fatalf("read_committed reader got %d records before the abort, want the 10 committed before the open transaction", n)
	}
	group := topic + "-readers"
	if _, err := kadm.NewClient(admCl).CommitOffsets(ctx, group, kadm.OffsetsFromRecords(*reader.recs[9])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the open transaction is now older than --max-age 1s
	// (Lag counts offsets: the reader's committed offset is the first
	// commit marker's, one below the LSO.)

	// Known to its coordinator and within its 15-minute timeout: only
	// --max-age finds it.
	if r := cli("txns", "hanging", "--topic", topic); r.code != exitOK || r.stdout != "No hanging transactions.\n" {
		t.Fatalf("hanging without --max-age: exit %d", r.code)
	}
	r := cli("txns", "hanging", "--max-age", "1s", "-o", "json")
	var h struct{ Hanging []admin.OpenTxn }
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || r.code != exitOK {
		t.Fatalf("hanging: exit %d %v", r.code, err)
	}
	if len(h.Hanging) != 1 {
		t.Fatalf("hanging found %d transactions cluster-wide, want exactly the frozen one", len(h.Hanging))
	}
	o := h.Hanging[0]
	if o.Topic != topic || o.Partition != 0 || o.TransactionalID != txnID || o.StartOffset != openAt || o.LSO != openAt ||
		o.State != "Ongoing" || o.Timeout != 15*time.Minute || strings.Join(o.Reasons, ",") != admin.HangingMaxAge ||
		len(o.Blocked) != 1 || o.Blocked[0].Group != group || o.Blocked[0].LagToLSO > 1 || o.Blocked[0].LagToHWM <= 20 {
		t.Fatalf("hanging: %+v", o)
	}
	cli("txns", "hanging", "--max-age", "1s") // the table, for the log
	cli("txns", "list", "--txn-id-prefix", topic)
	cli("txns", "describe", txnID)
	cli("txns", "producers", "--topic", topic)

	lag := groupLag(t, cli, group, "--max-age", "1s")
	if lag.Pinned != 1 || len(lag.Partitions) != 1 || lag.Partitions[0].PinnedBy == nil ||
		lag.Partitions[0].PinnedBy.TransactionalID != txnID || lag.Partitions[0].LagToLSO > 1 || lag.Partitions[0].LagToHWM <= 20 {
		t.Fatalf("groups lag did not flag the pinned partition: %+v", lag)
	}
	cli("groups", "lag", group, "--max-age", "1s")

	// Abort it; the LSO moves to the high watermark.
	r = cli("txns", "abort", "--topic", topic, "--partition", "0", "--yes")
	if r.code != exitOK || !strings.Contains(r.stdout, "aborted") {
		t.Fatalf("abort: exit %d", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(f) != 6 || f[2] != strconv.FormatInt(openAt, 10) || f[3] != f[4] {
		t.Fatalf("abort row %q: want the LSO moving from %d to the HWM", f, openAt)
	}
	if r := cli("txns", "hanging", "--max-age", "1s"); r.code != exitOK || r.stdout != "No hanging transactions.\n" {
		t.Fatalf("hanging after abort: exit %d", r.code)
	}
	// The reader now gets every committed record after it, and none of the aborted ones.
	if n := reader.readFor(3 * time.Second); n != 30 {
		t.Fatalf("reader has %d records after the abort, want 10 + 20", n)
	}
	for i, rec := range reader.recs[10:] {
		if want := fmt.Sprintf("after-%d", i); string(rec.Value) != want {
			t.Fatalf("record %d after the abort is %q, want %q", i, rec.Value, want)
		}
	}
	if lag := groupLag(t, cli, group); lag.Pinned != 0 || lag.Partitions[0].PinnedBy != nil || lag.Partitions[0].LagToLSO != lag.Partitions[0].LagToHWM {
		t.Fatalf("groups lag still flags the partition after the abort: %+v", lag)
	}
	cli("groups", "lag", group)
}

func groupLag(t *testing.T, cli func(...string) result, group string, more ...string) admin.GroupLag {
	t.Helper()
	r := cli(append([]string{"groups", "lag", group, "-o", "json"}, more...)...)
	var lag admin.GroupLag
	if err := json.Unmarshal([]byte(r.stdout), &lag); err != nil || r.code != exitOK {
		t.Fatalf("groups lag: exit %d %v", r.code, err)
	}
	return lag
}

// pipeline runs a txn.Processor from in to out (values upper-cased) that
// dead-letters the records fail says fail, until stopped.
type pipeline struct {
	stop func()
	done chan error
	proc *txn.Processor
}

func startPipeline(t *testing.T, conn eoskit.Conn, name string, fail func(i int) bool) *pipeline {
	t.Helper()
	h := func(_ context.Context, in *kgo.Record, emit txn.Emit) error {
		i, _ := strconv.Atoi(strings.TrimPrefix(string(in.Key), "k"))
		if fail(i) {
			return fmt.Errorf("poison %s", in.Key)
		}
		emit(&kgo.Record{Topic: name + "-out", Key: in.Key, Value: bytes.ToUpper(in.Value)})
		return nil
	}
	p, err := txn.New(conn, h, txn.WithGroup(name+"-pipeline"), txn.WithTopics(name+"-in"), txn.WithTransactionalID(name+"-pipeline-0"),
		txn.WithDeadLetterTopic(name+"-dlq"), txn.WithHandlerRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pl := &pipeline{stop: cancel, done: make(chan error, 1), proc: p}
	go func() { pl.done <- p.Run(ctx) }()
	return pl
}

func (p *pipeline) close(t *testing.T) {
	t.Helper()
	p.stop()
	if err := <-p.done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}
}

// counter reads a topic read_committed from the start, counting records by key.
type counter struct {
	cl    *kgo.Client
	byKey map[string]int
	n     int
}

func newCounter(t *testing.T, c *integration.Cluster, topic string) *counter {
	t.Helper()
	cl, err := c.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &counter{cl: cl, byKey: map[string]int{}}
}

// until reads until cond holds or timeout passes.
func (c *counter) until(t *testing.T, timeout time.Duration, what string, cond func(*counter) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond(c) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%d records, %d keys)", what, timeout, c.n, len(c.byKey))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		c.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { c.byKey[string(r.Key)]++; c.n++ })
		cancel()
	}
}

func testDLQReplay(t *testing.T, c *integration.Cluster, bins string) {
	const n = 20000
	ctx := context.Background()
	name := fmt.Sprintf("ops-dlq-%d", time.Now().UnixNano())
	in, out, dl := name+"-in", name+"-out", name+"-dlq"
	conn := eoskit.Conn{Brokers: c.Bootstrap()}
	b, cli := logCLI(t, c)
	cl, err := c.NewClient(kgo.DefaultProduceTopic(in))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopics(t, cl, 3, in, out, dl)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprintf("k%05d", i)), Value: []byte(fmt.Sprintf("v%05d", i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// The buggy pipeline dead-letters 1 % of the records.
	began := time.Now()
	pl := startPipeline(t, conn, name, func(i int) bool { return i%100 == 0 })
	outs := newCounter(t, c, out)
	outs.until(t, 2*time.Minute, "buggy pipeline output", func(c *counter) bool { return c.n >= n-n/100 })
	dead := newCounter(t, c, dl)
	dead.until(t, time.Minute, "dead letters", func(c *counter) bool { return c.n >= n/100 })
	pl.close(t)
	t.Logf("buggy pipeline: %d outputs, %d dead letters in %v", outs.n, dead.n, time.Since(began).Round(time.Millisecond))
	if outs.n != n-n/100 || dead.n != n/100 {
		t.Fatalf("buggy pipeline: %d outputs, %d dead letters; want %d and %d", outs.n, dead.n, n-n/100, n/100)
	}
	r := cli("dlq", "inspect", "--topic", dl, "-o", "json")
	var rep dlq.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitOK || rep.Records != n/100 || len(rep.ByError) != n/100 || len(rep.BySource) != 3 {
		t.Fatalf("inspect: exit %d %v: %d records, %d errors, %d source partitions", r.code, err, rep.Records, len(rep.ByError), len(rep.BySource))
	}
	cli("dlq", "inspect", "--topic", dl, "--show", "3")

	// The handler is fixed, except for 1 in 10 of the dead letters.
	pl = startPipeline(t, conn, name, func(i int) bool { return i%1000 == 0 })
	defer func() {
		if pl != nil {
			pl.close(t)
		}
	}()

	// A replay is frozen half-way, then SIGKILLed: part of it committed.
	replay := exec.Command(filepath.Join(bins, "eosctl"), append([]string{"dlq", "replay", "--topic", dl, "--to-source", "--txn-records", "5"}, b...)...)
	var rout bytes.Buffer
	replay.Stdout, replay.Stderr = &rout, &rout
	if err := replay.Start(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	position := func() int64 {
		offs, err := adm.FetchOffsetsForTopics(ctx, dlq.GroupFor(dl), dl)
		if err != nil {
			return 0
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At > 0 {
				sum += o.At
			}
		})
		return sum
	}
	var frozenAt int64
	for deadline := time.Now().Add(time.Minute); frozenAt == 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the replay committed nothing within a minute: %s", rout.String())
		}
		if position() > 50 {
			if err := replay.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			frozenAt = position()
		}
	}
	if err := replay.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = replay.Wait()
	killedAt := position()
	t.Logf("replay SIGKILLed with its group at %d of about %d offsets", killedAt, n/100)
	if killedAt >= int64(n/100) {
		t.Fatalf("the replay finished (%d) before it was killed; output: %s", killedAt, rout.String())
	}

	// Started again, it resumes and completes.
	r = cli("dlq", "replay", "--topic", dl, "--to-source", "-o", "json")
	var sum dlq.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != exitOK || !sum.Complete || sum.Total == 0 || sum.Total >= int64(n/100) || sum.Replayed != sum.Total {
		t.Fatalf("restarted replay: exit %d %v %+v", r.code, err, sum)
	}
	t.Logf("restarted replay: %d of the %d dead letters left after the kill, replayed in %v", sum.Total, n/100, sum.Elapsed)

	// Every input exactly once in the output, except the 20 that still fail.
	want := n - n/1000
	outs.until(t, 2*time.Minute, "fixed pipeline output", func(c *counter) bool { return len(c.byKey) >= want })
	dead.until(t, time.Minute, "dead letters failing again", func(c *counter) bool { return c.n >= n/100+n/1000 })
	pl.close(t)
	pl = nil
	settled := time.Now().Add(2 * time.Second)
	outs.until(t, 5*time.Second, "output settled", func(*counter) bool { return time.Now().After(settled) })
	var dups []string
	for k, m := range outs.byKey {
		if m != 1 {
			dups = append(dups, fmt.Sprintf("%s x%d", k, m))
		}
	}
	if len(outs.byKey) != want || outs.n != want || len(dups) > 0 {
		t.Fatalf("output: %d records, %d keys, want %d each; not once: %v", outs.n, len(outs.byKey), want, dups)
	}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k%05d", i)
		if got := outs.byKey[k]; got != 1 && i%1000 != 0 {
			t.Fatalf("input %s is in the output %d times", k, got)
		}
	}

	// The 20 that failed again are back in the DLQ with their count raised
	// (a record that failed again before the restarted replay began was
	// replayed by it once more: its count is 2).
	r = cli("dlq", "inspect", "--topic", dl, "--show", "100", "-o", "json")
	rep = dlq.Report{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitOK || rep.Records != int64(n/1000) || len(rep.Shown) != n/1000 {
		t.Fatalf("inspect after replay: exit %d %v %+v", r.code, err, rep)
	}
	replays := map[string]int{}
	for _, d := range rep.Shown {
		if i, _ := strconv.Atoi(strings.TrimPrefix(d.Key, "k")); i%1000 != 0 || d.SourceTopic != in || d.ReplayCount < 1 || replays[d.Key] != 0 {
			t.Fatalf("pending dead letter %+v: want each key that still fails once, replayed at least once", d)
		}
		replays[d.Key] = d.ReplayCount
	}
	cli("dlq", "inspect", "--topic", dl)

	// --max-replays 1 keeps them and reports them.
	r = cli("dlq", "replay", "--topic", dl, "--max-replays", "1", "-o", "json")
	sum = dlq.Summary{}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != exitOK || sum.Replayed != 0 || sum.KeptMaxReplays != int64(n/1000) || len(sum.Kept) != n/1000 {
		t.Fatalf("replay with --max-replays 1: exit %d %v %+v", r.code, err, sum)
	}
	cli("dlq", "replay", "--topic", dl, "--max-replays", "1")

	// Each replay wrote each dead letter back once: the source topic holds
	// every input once, each dead-lettered one once more, and each of those
	// that still fail once per replay.
	wantSrc := n + n/100
	for _, k := range replays {
		wantSrc += k - 1
	}
	src := newCounter(t, c, in)
	src.until(t, 30*time.Second, "source topic", func(c *counter) bool { return c.n >= wantSrc })
	settle := time.Now().Add(2 * time.Second)
	src.until(t, 5*time.Second, "source topic settled", func(*counter) bool { return time.Now().After(settle) })
	if src.n != wantSrc || len(src.byKey) != n {
		t.Fatalf("source topic: %d records, %d keys; want %d and %d", src.n, len(src.byKey), wantSrc, n)
	}
	for k, m := range src.byKey {
		i, _ := strconv.Atoi(strings.TrimPrefix(k, "k"))
		want := 1 + btoi(i%100 == 0)
		if i%1000 == 0 {
			want = 1 + replays[k]
		}
		if m != want {
			t.Fatalf("source topic: %s %d times, want %d", k, m, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
