package verify_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/txn/verify"
)

// The scenario helpers run on any cluster reachable with opts: kfake in the
// unit tests, real brokers in the integration suite.

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, opts []kgo.Opt, more ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(slices.Clone(opts), more...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopics(t *testing.T, opts []kgo.Opt, partitions int32, topics ...string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, opts))
	resp, err := adm.CreateTopics(testCtx(t, 30*time.Second), partitions, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topics %v: %v", topics, err)
	}
}

// produce writes rs synchronously (to their Partition) and returns them
// with their offsets.
func produce(ctx context.Context, t *testing.T, cl *kgo.Client, rs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return rs
}

// txnWrite writes rs in one transaction and commits or aborts it.
func txnWrite(ctx context.Context, t *testing.T, cl *kgo.Client, commit bool, rs ...*kgo.Record) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, cl, rs...)
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit=%v): %v", commit, err)
	}
}

func inRec(p int32, i int) *kgo.Record {
	return &kgo.Record{Partition: p, Key: fmt.Appendf(nil, "k%d", i%3), Value: fmt.Appendf(nil, "p%d-v%d", p, i)}
}

// copyOf returns an output record for input r on partition p, with the
// provenance header when header is true.
func copyOf(topic string, p int32, r *kgo.Record, header bool) *kgo.Record {
	out := &kgo.Record{Topic: topic, Partition: p, Key: r.Key, Value: r.Value}
	if header {
		out.Headers = []kgo.RecordHeader{{Key: verify.ProvenanceHeader, Value: []byte(verify.Pos{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}.String())}}
	}
	return out
}

// writeInput writes the input of the scenarios to topic (2 partitions): 10
// committed records per partition, then on partition 0 an aborted
// transaction of 3 records and 2 more committed records. It returns the 22
// committed records in offset order per partition.
func writeInput(ctx context.Context, t *testing.T, opts []kgo.Opt, topic string) (p0, p1 []*kgo.Record) {
	t.Helper()
	cl := newClient(t, opts, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 10 {
		p0 = append(p0, inRec(0, i))
		p1 = append(p1, inRec(1, i))
	}
	produce(ctx, t, cl, p0...)
	produce(ctx, t, cl, p1...)
	tx := newClient(t, opts, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(fmt.Sprintf("verify-test-in-%d", time.Now().UnixNano())))
	txnWrite(ctx, t, tx, false, inRec(0, 100), inRec(0, 101), inRec(0, 102))
	p0 = append(p0, produce(ctx, t, cl, inRec(0, 10), inRec(0, 11))...)
	return p0, p1
}

// anomalies is what writeAnomalousOutput puts in the output.
var anomalies = verify.Counts{
	InputRecords: 22, OutputRecords: 24, ByHeader: 21, ByKeyValue: 1, Explained: 21,
	Duplicates: 1, DuplicatedInputs: 1, Missing: 1, Unexplained: 2, OrderViolations: 1,
}

// writeAnomalousOutput copies p0 to out/0 and p1 to out/1 in committed
// transactions with known anomalies: p0[2] is missing, p1[3] is duplicated,
// p1[5] comes before p1[4], p1[7] has no provenance header (matched by key
// and value), one output names an aborted input and one has neither a
// header nor an input with its key and value. An aborted transaction also
// writes duplicates and an unexplained record: read_committed must not see
// them.
func writeAnomalousOutput(ctx context.Context, t *testing.T, opts []kgo.Opt, in, out string, p0, p1 []*kgo.Record) {
	t.Helper()
	tx := newClient(t, opts, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(fmt.Sprintf("verify-test-out-%d", time.Now().UnixNano())))
	var batch []*kgo.Record
	for i, r := range p0 {
		if i != 2 {
			batch = append(batch, copyOf(out, 0, r, true))
		}
	}
	txnWrite(ctx, t, tx, true, batch...)
	txnWrite(ctx, t, tx, false, copyOf(out, 0, p0[0], true), copyOf(out, 0, p0[1], false),
		&kgo.Record{Topic: out, Partition: 0, Value: []byte("aborted")})
	batch = nil
	for i := range p1 {
		j := i
		switch i {
		case 4:
			j = 5
		case 5:
			j = 4
		}
		batch = append(batch, copyOf(out, 1, p1[j], j != 7))
	}
	txnWrite(ctx, t, tx, true, batch...)
	bogus := copyOf(out, 1, p1[0], true)
	bogus.Headers[0].Value = []byte(in + "/0/11") // an aborted input record
	txnWrite(ctx, t, tx, true, copyOf(out, 1, p1[3], true), bogus,
		&kgo.Record{Topic: out, Partition: 1, Key: []byte("nobody"), Value: []byte("wrote this input")})
}

// writeCleanCopy copies every input to out (same partition) in committed
// transactions, with an aborted transaction in between.
func writeCleanCopy(ctx context.Context, t *testing.T, opts []kgo.Opt, out string, parts ...[]*kgo.Record) {
	t.Helper()
	tx := newClient(t, opts, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(fmt.Sprintf("verify-test-clean-%d", time.Now().UnixNano())))
	for _, rs := range parts {
		var batch []*kgo.Record
		for _, r := range rs {
			batch = append(batch, copyOf(out, r.Partition, r, true))
		}
		txnWrite(ctx, t, tx, false, batch[:3]...)
		txnWrite(ctx, t, tx, true, batch...)
	}
}

// checkAnomalies asserts that rep found exactly the anomalies of
// writeAnomalousOutput.
func checkAnomalies(t *testing.T, rep verify.Report, in, out string) {
	t.Helper()
	if rep.Counts != anomalies {
		t.Fatalf("counts\n got %+v\nwant %+v\n%s", rep.Counts, anomalies, rep)
	}
	pos := func(topic string, p int32, o int64) verify.Pos {
		return verify.Pos{Topic: topic, Partition: p, Offset: o}
	}
	if len(rep.Missing) != 1 || rep.Missing[0] != pos(in, 0, 2) {
		t.Errorf("missing %v, want %s/0/2", rep.Missing, in)
	}
	if len(rep.Duplicates) != 1 || rep.Duplicates[0].Input != pos(in, 1, 3) {
		t.Errorf("duplicates %v, want %s/1/3", rep.Duplicates, in)
	}
	if len(rep.OrderViolations) != 1 || rep.OrderViolations[0].Input != pos(in, 1, 4) || rep.OrderViolations[0].After != pos(in, 1, 5) {
		t.Errorf("order violations %+v, want %s/1/4 after %s/1/5", rep.OrderViolations, in, in)
	}
	if len(rep.Unexplained) != 2 || rep.Unexplained[0].Provenance != in+"/0/11" || rep.Unexplained[1].Provenance != "" {
		t.Errorf("unexplained %+v", rep.Unexplained)
	}
	if rep.OK() || rep.Anomalies() != 5 {
		t.Errorf("OK %v anomalies %d, want false 5", rep.OK(), rep.Anomalies())
	}
}
