package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eoskit/eoskit"
)

// HistorySnapshot is what the history checker reads: a Snapshot and the
// output range it covers. An acknowledged output is checked when its topic
// is one of Config.Output and its offset lies in [OutputStarts, OutputEnds)
// of its partition; nil maps check every offset.
type HistorySnapshot struct {
	Snapshot
	OutputStarts map[string]map[int32]int64
	OutputEnds   map[string]map[int32]int64
}

// MatchHistory checks a history against the records a read_committed
// reader sees, in Jepsen's terms, and returns the report. It needs no
// broker: CheckHistory reads a HistorySnapshot and calls it.
//
//   - lost write: an output of a transaction the processor saw committed
//     is not visible (no record at its position, or one with another
//     provenance: the log was truncated and rewritten);
//   - aborted read: an output of a transaction it saw aborted or fenced is
//     visible;
//   - duplicate: an input named by the provenance of more than one visible
//     output (counted once per extra output); so of several transactions
//     covering the same inputs, unknown-outcome ones included, at most one
//     may be visible;
//   - unseen: an input record below the highest input offset a visible
//     transaction committed for its partition that no visible output
//     names;
//   - non-monotonic: a visible transaction's committed input offset below
//     an earlier visible one's for the same group and partition.
//
// An unknown-outcome transaction may have committed or not: it counts as
// committed when any of its outputs is visible (then the others must be
// too) and as aborted otherwise. The checks rely on the ProvenanceHeader
// header (eoskit's txn processors stamp it by default) and, like Match, on
// one output per input. Match's report of the same records is in Verify.
func MatchHistory(cfg Config, s HistorySnapshot, txns []HistoryTxn) HistoryReport {
	hm := historyMatcher{limit: cfg.maxListed(), listed: map[string]int{}}
	hm.rep.Verify = Match(cfg, s.Snapshot)
	txns = slices.Clone(txns)
	slices.SortStableFunc(txns, func(a, b HistoryTxn) int { return a.Seq - b.Seq })

	outTopics := map[string]bool{}
	for _, t := range cfg.Output {
		outTopics[t] = true
	}
	checked := func(p Pos) bool {
		if !outTopics[p.Topic] {
			return false
		}
		if st, ok := s.OutputStarts[p.Topic][p.Partition]; ok && p.Offset < st {
			return false
		}
		if s.OutputEnds != nil {
			e, ok := s.OutputEnds[p.Topic][p.Partition]
			return ok && p.Offset < e
		}
		return true
	}
	visible := make(map[Pos]Record, len(s.Outputs))
	byInput := map[string][]Pos{} // provenance -> visible outputs
	for _, o := range s.Outputs {
		visible[o.Pos] = o
		if o.HasProvenance {
			byInput[o.Provenance] = append(byInput[o.Provenance], o.Pos)
		}
	}
	seen := func(o HistoryOutput) bool {
		r, ok := visible[o.Pos]
		return ok && (o.Provenance == "" || r.Provenance == o.Provenance)
	}

	c := &hm.rep.Counts
	owner := map[Pos]int{} // visible output -> Seq of the transaction that wrote it
	var done []HistoryTxn  // visible transactions, in order
	for _, t := range txns {
		var outs []HistoryOutput
		for _, o := range t.Outputs {
			c.Outputs++
			if checked(o.Pos) {
				outs = append(outs, o)
			} else {
				c.Unchecked++
			}
		}
		nSeen := 0
		for _, o := range outs {
			if seen(o) {
				nSeen++
				owner[o.Pos] = t.Seq
			}
		}
		committed := false
		switch t.Outcome {
		case eoskit.TxnCommitted.String():
			c.Committed++
			committed = true
		case eoskit.TxnOutcomeUnknown.String():
			c.Unknown++
			if nSeen > 0 {
				c.UnknownVisible++
				committed = true
			}
		case eoskit.TxnFenced.String():
			c.Fenced++
		default:
			c.Aborted++
		}
		for _, o := range outs {
			p := o.Pos
			switch {
			case committed && !seen(o):
				c.LostWrites++
				why := "no record at its position"
				if r, ok := visible[p]; ok {
					why = fmt.Sprintf("the record there came from %s, not %s", r.Provenance, o.Provenance)
				}
				hm.add(HistoryAnomaly{Class: LostWrite, Txn: t.Seq, Outcome: t.Outcome, Output: &p,
					Detail: fmt.Sprintf("transaction %d (%s, %s) wrote %s but it is not visible: %s", t.Seq, t.Outcome, t.TransactionalID, p, why)})
			case !committed && seen(o):
				c.AbortedReads++
				hm.add(HistoryAnomaly{Class: AbortedRead, Txn: t.Seq, Outcome: t.Outcome, Output: &p,
					Detail: fmt.Sprintf("transaction %d (%s, %s) wrote %s and it is visible", t.Seq, t.Outcome, t.TransactionalID, p)})
			}
		}
		if committed {
			done = append(done, t)
		}
	}

	// Duplicates: an input named by several visible outputs.
	provs := make([]string, 0, len(byInput))
	for k := range byInput {
		provs = append(provs, k)
	}
	slices.Sort(provs)
	for _, k := range provs {
		outs := byInput[k]
		if len(outs) < 2 {
			continue
		}
		c.Duplicates += len(outs) - 1
		parts := make([]string, len(outs))
		for i, o := range outs {
			parts[i] = o.String()
			if seq, ok := owner[o]; ok {
				parts[i] += fmt.Sprintf(" (transaction %d)", seq)
			}
		}
		in, _ := ParsePos(k)
		hm.add(HistoryAnomaly{Class: DuplicateRead, Input: &in,
			Detail: fmt.Sprintf("input %s has %d visible outputs: %s", k, len(outs), strings.Join(parts, ", "))})
	}

	// Unseen and non-monotonic offsets, from the visible transactions.
	type gtp struct {
		group string
		tp
	}
	high := map[tp]int64{}
	prev := map[gtp]HistoryTxn{}
	for _, t := range done {
		for topic, ps := range t.Offsets {
			for part, off := range ps {
				p := tp{topic, part}
				high[p] = max(high[p], off)
				k := gtp{t.Group, p}
				if last, ok := prev[k]; ok && off < last.Offsets[topic][part] {
					c.NonMonotonic++
					hm.add(HistoryAnomaly{Class: NonMonotonic, Txn: t.Seq, Outcome: t.Outcome,
						Detail: fmt.Sprintf("transaction %d committed %s/%d at offset %d, below transaction %d's %d", t.Seq, topic, part, off, last.Seq, last.Offsets[topic][part])})
					continue
				}
				prev[k] = t
			}
		}
	}
	for _, in := range sortedRecords(s.Inputs) {
		if in.Offset >= high[in.tp()] {
			continue
		}
		if _, ok := byInput[in.Pos.String()]; ok {
			continue
		}
		c.Unseen++
		p := in.Pos
		hm.add(HistoryAnomaly{Class: Unseen, Input: &p,
			Detail: fmt.Sprintf("input %s is below the committed offset %d of its partition but no visible output names it", p, high[in.tp()])})
	}
	return hm.rep
}

type historyMatcher struct {
	limit  int
	listed map[string]int
	rep    HistoryReport
}

func (m *historyMatcher) add(a HistoryAnomaly) {
	if m.limit >= 0 && m.listed[a.Class] >= m.limit {
		m.rep.Truncated = true
		return
	}
	m.listed[a.Class]++
	m.rep.Anomalies = append(m.rep.Anomalies, a)
}
