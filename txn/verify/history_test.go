package verify

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

func hIn(off int64) Record {
	return Record{Pos: Pos{"in", 0, off}, Key: []byte("k"), Value: []byte("v")}
}

func hOut(off int64, from int64) Record {
	prov := Pos{"in", 0, from}.String()
	return Record{Pos: Pos{"out", 0, off}, Key: []byte("k"), Value: []byte("v"), Provenance: prov, HasProvenance: true}
}

func hOutput(off, from int64) HistoryOutput {
	return HistoryOutput{Pos: Pos{"out", 0, off}, Provenance: Pos{"in", 0, from}.String()}
}

func hTxn(seq int, outcome eoskit.TxnOutcome, next int64, outs ...HistoryOutput) HistoryTxn {
	return HistoryTxn{Seq: seq, TransactionalID: "t", Group: "g", ProducerID: 7, Outcome: outcome.String(),
		Offsets: map[string]map[int32]int64{"in": {0: next}}, Outputs: outs}
}

// cleanHistory: four inputs; transaction 1 commits inputs 0 and 1 (outputs
// at 0, 1; its marker at 2), transaction 2 aborts inputs 2 and 3 (outputs 3,
// 4, marker 5), transaction 3 (unknown outcome) redoes them and did commit
// (outputs 6, 7), transaction 4 (unknown, no output visible) tried nothing
// new after it.
func cleanHistory() (HistorySnapshot, []HistoryTxn) {
	s := HistorySnapshot{Snapshot: Snapshot{
		Inputs:  []Record{hIn(0), hIn(1), hIn(2), hIn(3)},
		Outputs: []Record{hOut(0, 0), hOut(1, 1), hOut(6, 2), hOut(7, 3)},
	}, OutputEnds: map[string]map[int32]int64{"out": {0: 12}}}
	txns := []HistoryTxn{
		hTxn(1, eoskit.TxnCommitted, 2, hOutput(0, 0), hOutput(1, 1)),
		hTxn(2, eoskit.TxnAborted, 4, hOutput(3, 2), hOutput(4, 3)),
		hTxn(3, eoskit.TxnOutcomeUnknown, 4, hOutput(6, 2), hOutput(7, 3)),
		hTxn(4, eoskit.TxnOutcomeUnknown, 4, hOutput(9, 2)),
	}
	return s, txns
}

var hCfg = Config{Input: []string{"in"}, Output: []string{"out"}}

func TestMatchHistoryClean(t *testing.T) {
	s, txns := cleanHistory()
	rep := MatchHistory(hCfg, s, txns)
	if !rep.OK() || rep.HistoryAnomalies() != 0 {
		t.Fatalf("clean history failed:\n%s", rep)
	}
	want := HistoryCounts{Committed: 1, Aborted: 1, Unknown: 2, UnknownVisible: 1, Outputs: 7}
	if rep.Counts != want {
		t.Fatalf("counts %+v, want %+v", rep.Counts, want)
	}
	if !strings.Contains(rep.String(), "history check PASSED") {
		t.Fatalf("text:\n%s", rep)
	}
}

func TestMatchHistoryAnomalies(t *testing.T) {
	cases := []struct {
		name   string
		change func(*HistorySnapshot, []HistoryTxn) []HistoryTxn
		class  string
		want   func(HistoryCounts) int
	}{
		{"lost write: a committed output is gone", func(s *HistorySnapshot, txns []HistoryTxn) []HistoryTxn {
			s.Outputs = s.Outputs[1:] // out/0/0 of transaction 1
			return txns
		}, LostWrite, func(c HistoryCounts) int { return c.LostWrites }},
		{"lost write: the position holds another record (truncated log)", func(s *HistorySnapshot, txns []HistoryTxn) []HistoryTxn {
			s.Outputs[1] = hOut(1, 3)
			return txns
		}, LostWrite, func(c HistoryCounts) int { return c.LostWrites }},
		{"lost write: an unknown transaction only partly visible", func(s *HistorySnapshot, txns []HistoryTxn) []HistoryTxn {
			s.Outputs = s.Outputs[:3] // out/0/7 of transaction 3 missing
			return txns
		}, LostWrite, func(c HistoryCounts) int { return c.LostWrites }},
		{"aborted read", func(s *HistorySnapshot, txns []HistoryTxn) []HistoryTxn {
			s.Outputs = append(s.Outputs, hOut(3, 2))
			return txns
		}, AbortedRead, func(c HistoryCounts) int { return c.AbortedReads }},
		{"aborted read of a fenced transaction", func(s *HistorySnapshot, txns []HistoryTxn) []HistoryTxn {
			txns[1].Outcome = eoskit.TxnFenced.String()
			s.Outputs = append(s.Outputs, hOut(4, 3))
			return txns
		}, AbortedRead, func(c HistoryCounts) int { return c.AbortedReads }},
		{"duplicate: two unknown transactions over the same input both visible", func(s *HistorySnapshot, txns []HistoryTxn) []HistoryTxn {
			s.Outputs = append(s.Outputs, hOut(9, 2))
			return txns
		}, DuplicateRead, func(c HistoryCounts) int { return c.Duplicates }},
		{"unseen: committed past an input with no output", func(s *HistorySnapshot, txns []HistoryTxn) []HistoryTxn {
			s.Outputs = s.Outputs[:3]
			txns[2].Outputs = txns[2].Outputs[:1]
			return txns
		}, Unseen, func(c HistoryCounts) int { return c.Unseen }},
		{"non-monotonic offsets", func(s *HistorySnapshot, txns []HistoryTxn) []HistoryTxn {
			return append(txns, hTxn(5, eoskit.TxnCommitted, 3))
		}, NonMonotonic, func(c HistoryCounts) int { return c.NonMonotonic }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, txns := cleanHistory()
			txns = tc.change(&s, txns)
			rep := MatchHistory(hCfg, s, txns)
			if got := tc.want(rep.Counts); got != 1 {
				t.Fatalf("%s count %d, want 1:\n%s", tc.class, got, rep)
			}
			if rep.OK() {
				t.Fatalf("report OK with a %s", tc.class)
			}
			if len(rep.Anomalies) == 0 || !slicesHasClass(rep.Anomalies, tc.class) {
				t.Fatalf("no %s listed: %+v", tc.class, rep.Anomalies)
			}
			if !strings.Contains(rep.String(), "history check FAILED") {
				t.Fatalf("text:\n%s", rep)
			}
		})
	}
}

func slicesHasClass(as []HistoryAnomaly, class string) bool {
	for _, a := range as {
		if a.Class == class {
			return true
		}
	}
	return false
}

func TestMatchHistoryUnchecked(t *testing.T) {
	s, txns := cleanHistory()
	// An output past the end read, one in a topic not read, one below the start.
	txns = append(txns,
		HistoryTxn{Seq: 5, Outcome: "committed", Outputs: []HistoryOutput{{Pos: Pos{"out", 0, 20}}, {Pos: Pos{"dlq", 0, 0}}}},
	)
	s.OutputStarts = map[string]map[int32]int64{"out": {0: 0}}
	rep := MatchHistory(hCfg, s, txns)
	if !rep.OK() || rep.Counts.Unchecked != 2 {
		t.Fatalf("unchecked %d, ok %v:\n%s", rep.Counts.Unchecked, rep.OK(), rep)
	}
}

func TestHistoryRecorderAndFile(t *testing.T) {
	h := NewHistory()
	a, b := h.Recorder(), h.Recorder()
	rec := func(pid int64, off int64, from string) eoskit.Produced {
		return eoskit.Produced{Record: &kgo.Record{Topic: "out", Partition: 1, Offset: off, ProducerID: pid,
			Headers: []kgo.RecordHeader{{Key: ProvenanceHeader, Value: []byte(from)}}}}
	}
	a.OnProduce(rec(1, 10, "in/0/0"))
	b.OnProduce(rec(2, 11, "in/1/0"))
	a.OnProduce(eoskit.Produced{Record: &kgo.Record{Topic: "out", ProducerID: 1}, Err: errors.New("failed")})
	a.OnProduce(rec(1, 12, "in/0/1"))
	a.OnTxnEnd(eoskit.TxnEnd{TransactionalID: "a", Group: "g", ProducerID: 1, Outcome: eoskit.TxnCommitted,
		Offsets: map[string]map[int32]int64{"in": {0: 2}}})
	b.OnTxnEnd(eoskit.TxnEnd{TransactionalID: "b", Group: "g", ProducerID: 2, Outcome: eoskit.TxnAborted, Reason: eoskit.AbortRebalance})
	h.OnTxnEnd(eoskit.TxnEnd{ProducerID: 3, Outcome: eoskit.TxnOutcomeUnknown})

	txns := h.Txns()
	if len(txns) != 3 {
		t.Fatalf("%d transactions, want 3", len(txns))
	}
	wantA := []HistoryOutput{{Pos{"out", 1, 10}, "in/0/0"}, {Pos{"out", 1, 12}, "in/0/1"}}
	if txns[0].Seq != 1 || txns[0].Outcome != "committed" || !reflect.DeepEqual(txns[0].Outputs, wantA) || txns[0].Offsets["in"][0] != 2 {
		t.Fatalf("transaction a: %+v", txns[0])
	}
	if txns[1].Outcome != "aborted" || txns[1].Reason != "rebalance" || len(txns[1].Outputs) != 1 || txns[1].Outputs[0].Offset != 11 {
		t.Fatalf("transaction b: %+v", txns[1])
	}
	if got := h.Count(); got["committed"] != 1 || got["aborted"] != 1 || got["unknown"] != 1 {
		t.Fatalf("count %v", got)
	}

	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := h.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadHistoryFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Txns(); !reflect.DeepEqual(got, txns) {
		t.Fatalf("read back %+v\nwant %+v", got, txns)
	}
	var buf bytes.Buffer
	if _, err := back.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("%d lines, want 3", n)
	}
}

func TestReadHistoryBad(t *testing.T) {
	for _, in := range []string{"{not json}\n", `{"seq":1,"outcome":"maybe"}` + "\n"} {
		if _, err := ReadHistory(strings.NewReader(in)); !errors.Is(err, ErrBadHistory) {
			t.Fatalf("%q: err %v, want ErrBadHistory", in, err)
		}
	}
}

// TestHistoryAtLeastOnceCrash records an at-least-once pipeline through
// Recorders, as the real-broker control does: batch 1 (inputs 0, 1) is
// produced and its offsets committed; batch 2 (inputs 2, 3) is produced,
// then the instance crashes before committing (its Recorder never sees an
// end); a restarted instance replays inputs 2 and 3. The checker must find
// exactly the two replayed inputs duplicated, and nothing else.
func TestHistoryAtLeastOnceCrash(t *testing.T) {
	h := NewHistory()
	produced := func(r *Recorder, pid int64, off, from int64) {
		rec := &kgo.Record{Topic: "out", Partition: 0, Offset: off, ProducerID: pid,
			Headers: []kgo.RecordHeader{{Key: ProvenanceHeader, Value: []byte(Pos{"in", 0, from}.String())}}}
		r.OnProduce(eoskit.Produced{Record: rec})
	}
	committed := func(r *Recorder, pid, next int64) {
		r.OnTxnEnd(eoskit.TxnEnd{Group: "g", ProducerID: pid, Outcome: eoskit.TxnCommitted, Offsets: map[string]map[int32]int64{"in": {0: next}}})
	}
	first := h.Recorder()
	produced(first, 1, 0, 0)
	produced(first, 1, 1, 1)
	committed(first, 1, 2)
	produced(first, 1, 2, 2) // crash after these acks, before the commit
	produced(first, 1, 3, 3)
	second := h.Recorder()
	produced(second, 2, 4, 2)
	produced(second, 2, 5, 3)
	committed(second, 2, 4)

	s := HistorySnapshot{Snapshot: Snapshot{
		Inputs:  []Record{hIn(0), hIn(1), hIn(2), hIn(3)},
		Outputs: []Record{hOut(0, 0), hOut(1, 1), hOut(2, 2), hOut(3, 3), hOut(4, 2), hOut(5, 3)},
	}}
	rep := MatchHistory(hCfg, s, h.Txns())
	want := HistoryCounts{Committed: 2, Outputs: 4, Duplicates: 2}
	if rep.OK() || rep.Counts != want {
		t.Fatalf("OK %v, counts %+v; want failed with %+v:\n%s", rep.OK(), rep.Counts, want, rep)
	}
	for _, a := range rep.Anomalies {
		if a.Class != DuplicateRead {
			t.Fatalf("anomaly %+v, want duplicates only", a)
		}
	}
	if len(rep.Anomalies) != 2 || rep.Verify.Counts.Duplicates != 2 {
		t.Fatalf("%d anomalies listed, verify %d duplicates; want 2 and 2:\n%s", len(rep.Anomalies), rep.Verify.Counts.Duplicates, rep)
	}
}

// TestRecorderLateAcks: outputs acknowledged after their transaction was
// reported ended (a flush that timed out, then the session's client
// closed) are filed under that transaction when the next session starts,
// not under the next transaction of the same producer ID.
func TestRecorderLateAcks(t *testing.T) {
	h := NewHistory()
	r := h.Recorder()
	ack := func(off, from int64) {
		r.OnProduce(eoskit.Produced{Record: &kgo.Record{Topic: "out", Offset: off, ProducerID: 7,
			Headers: []kgo.RecordHeader{{Key: ProvenanceHeader, Value: []byte(Pos{"in", 0, from}.String())}}}})
	}
	r.OnSessionStart(eoskit.SessionStart{TransactionalID: "t", ProducerID: 7})
	r.OnTxnEnd(eoskit.TxnEnd{TransactionalID: "t", ProducerID: 7, Outcome: eoskit.TxnAborted, Reason: eoskit.AbortOther})
	ack(0, 0) // acknowledged while the old session closed
	r.OnSessionStart(eoskit.SessionStart{TransactionalID: "t", ProducerID: 7, Epoch: 1})
	ack(2, 0)
	r.OnTxnEnd(eoskit.TxnEnd{TransactionalID: "t", ProducerID: 7, Epoch: 1, Outcome: eoskit.TxnCommitted})
	r.OnSessionStart(eoskit.SessionStart{TransactionalID: "t", ProducerID: 7, Epoch: 2}) // nothing pending
	txns := h.Txns()
	if len(txns) != 2 || len(txns[0].Outputs) != 1 || txns[0].Outputs[0].Offset != 0 ||
		len(txns[1].Outputs) != 1 || txns[1].Outputs[0].Offset != 2 {
		t.Fatalf("transactions %+v: want the late ack under the aborted one, the next one's own output under it", txns)
	}
	r.OnProduce(eoskit.Produced{Record: &kgo.Record{Topic: "out", Offset: 6, ProducerID: 9}})
	r.OnSessionStart(eoskit.SessionStart{TransactionalID: "t", ProducerID: 10})
	txns = h.Txns()
	if last := txns[len(txns)-1]; last.Outcome != "unknown" || last.ProducerID != 9 || len(last.Outputs) != 1 {
		t.Fatalf("outputs of a producer with no ended transaction: %+v, want one unknown transaction", last)
	}
}
