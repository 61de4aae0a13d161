//go:build integration

package txn_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/txn/verify"
)

// runAtLeastOnceControl runs a deliberately broken pipeline on the
// scenarios' cluster, to show that the history checker catches what it is
// for: at-least-once (consume in a group, produce each record's copy
// non-transactionally, idempotent and acks=all, then commit the offsets),
// crashed between produce and commit: once the outputs of its 3rd batch are
// acknowledged, its clients are closed without committing, and a restarted
// instance re-reads from the committed offsets. The test records the
// pipeline's history through verify's Recorder, the hook API txn's
// processors record with (OnProduce per acknowledged output, OnTxnEnd once
// a batch's offsets are committed; the crashed batch never ends, as with a
// crashed processor). The history checker must report the crashed batch's
// outputs as duplicates, exactly, and nothing else; so must verify.Run.
func runAtLeastOnceControl(t *testing.T, c *integration.Cluster) {
	const records, batch, crashAfter = 600, 100, 3
	began := time.Now()
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	createReplicated(t, c, in, 3)
	createReplicated(t, c, out, 3)
	seedInput(t, c, in, records)
	hist := verify.NewHistory()

	ctx := testCtx(t, 3*time.Minute)
	ends, err := kadm.NewClient(client(t, c.Bootstrap())).ListEndOffsets(ctx, in)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of %s: %v %v", in, err, ends.Error())
	}
	committed := map[int32]int64{}
	finished := func() bool {
		done := true
		ends.Each(func(o kadm.ListedOffset) { done = done && committed[o.Partition] >= o.Offset })
		return done
	}

	// instance runs the pipeline until the input is committed, or crashes
	// right after its crash-th batch is acknowledged (0: never) and
	// returns that batch's size.
	instance := func(crash int) int {
		rec := hist.Recorder()
		cons := client(t, c.Bootstrap(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(3*time.Second))
		prod := client(t, c.Bootstrap(), kgo.RequiredAcks(kgo.AllISRAcks()))
		defer cons.Close()
		defer prod.Close()
		for n := 1; !finished(); n++ {
			if ctx.Err() != nil {
				t.Fatalf("at-least-once pipeline: input not committed in time (committed %v of %v)", committed, ends)
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			fs := cons.PollRecords(pctx, batch)
			cancel()
			if err := fs.Err0(); err != nil && pctx.Err() == nil {
				t.Fatalf("at-least-once pipeline: poll: %v", err)
			}
			recs := fs.Records()
			if len(recs) == 0 {
				continue
			}
			start := time.Now()
			outs := make([]*kgo.Record, len(recs))
			next := map[int32]int64{}
			for i, r := range recs {
				src := verify.Pos{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
				outs[i] = &kgo.Record{Topic: out, Key: r.Key, Value: r.Value,
					Headers: []kgo.RecordHeader{{Key: verify.ProvenanceHeader, Value: []byte(src.String())}}}
				next[r.Partition] = max(next[r.Partition], r.Offset+1)
			}
			res := prod.ProduceSync(ctx, outs...)
			if err := res.FirstErr(); err != nil {
				t.Fatalf("at-least-once pipeline: produce: %v", err)
			}
			for _, r := range res {
				rec.OnProduce(eoskit.Produced{Record: r.Record})
			}
			if n == crash {
				return len(outs) // crash: the offsets are never committed
			}
			if err := cons.CommitRecords(ctx, recs...); err != nil {
				t.Fatalf("at-least-once pipeline: commit: %v", err)
			}
			for p, o := range next {
				committed[p] = max(committed[p], o)
			}
			r0 := res[0].Record
			rec.OnTxnEnd(eoskit.TxnEnd{Group: group, ProducerID: r0.ProducerID, Epoch: r0.ProducerEpoch, Outcome: eoskit.TxnCommitted,
				Records: len(recs), Outputs: len(outs), Began: start, Offsets: map[string]map[int32]int64{in: next}})
		}
		return 0
	}
	replayed := instance(crashAfter)
	if replayed == 0 {
		t.Fatalf("at-least-once pipeline finished before its crash at batch %d: %d records are too few", crashAfter, records)
	}
	instance(0)

	cfg := verify.Config{Input: []string{in}, Output: []string{out}, Identity: true, SettleTimeout: time.Minute}
	hrep, err := verify.CheckHistory(ctx, c.Conn(), cfg, hist)
	if err != nil {
		t.Fatalf("history check: %v", err)
	}
	rep, err := verify.Run(ctx, c.Conn(), cfg)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	hc, cn := hrep.Counts, rep.Counts
	classes := map[string]int{}
	for _, a := range hrep.Anomalies {
		classes[a.Class]++
	}
	t.Logf("NETSCENARIO at-least-once-control (tv%d): records %d; faults [crash between produce and commit after batch %d (%d outputs acknowledged, offsets not committed), restart]; txns committed %d aborted %d unknown %d; anomalies: lost writes %d, aborted reads %d, duplicates %d, unseen %d, non-monotonic %d (listed by class %v); verify: duplicates %d, missing %d, unexplained %d; wall %v",
		c.TransactionVersion(), records, crashAfter, replayed, hc.Committed, hc.Aborted, hc.Unknown,
		hc.LostWrites, hc.AbortedReads, hc.Duplicates, hc.Unseen, hc.NonMonotonic, classes,
		cn.Duplicates, cn.Missing, cn.Unexplained, time.Since(began).Round(time.Second))
	if hrep.OK() || hc.Duplicates != replayed || classes[verify.DuplicateRead] == 0 {
		t.Errorf("history check of an at-least-once pipeline crashed after producing %d outputs: OK %v, %d duplicates (%d listed); want it failed with %d:\n%s",
			replayed, hrep.OK(), hc.Duplicates, classes[verify.DuplicateRead], replayed, hrep.String())
	}
	if other := hc.LostWrites + hc.AbortedReads + hc.Unseen + hc.NonMonotonic; other != 0 {
		t.Errorf("history check: %d anomalies other than duplicates, want 0:\n%s", other, hrep.String())
	}
	if cn.Duplicates != replayed || cn.Missing != 0 || cn.InputRecords != records || cn.OutputRecords != records+replayed {
		t.Errorf("verify: %d duplicates, %d missing, %d inputs, %d outputs; want %d, 0, %d, %d:\n%s",
			cn.Duplicates, cn.Missing, cn.InputRecords, cn.OutputRecords, replayed, records, records+replayed, rep.String())
	}
	if hc.Committed == 0 || hc.Aborted+hc.Unknown+hc.Fenced != 0 {
		t.Errorf("history: %d committed, %d other transactions; want the committed batches only", hc.Committed, hc.Aborted+hc.Unknown+hc.Fenced)
	}
}
