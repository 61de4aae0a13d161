package verify

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
)

// Snapshot is what a verification reads: the committed input records, the
// committed output records, and the input end offsets the input was read to.
type Snapshot struct {
	Inputs  []Record
	Outputs []Record
	// InputEnds are the end offsets (topic → partition → offset) up to which
	// the input was read. Outputs whose provenance names an input offset at
	// or past its partition's end are counted as Later instead of
	// Unexplained. Nil means no output is Later.
	InputEnds map[string]map[int32]int64
}

// DefaultMaxListed is how many anomalies of each kind a Report lists when
// Config.MaxListed is 0.
const DefaultMaxListed = 20

// Match matches output records to input records and reports the anomalies.
// It needs no broker: Run reads a Snapshot and calls it.
//
// Each output with a provenance header is matched to the input at the
// position it names. Each output without one is then matched by key and
// value to an input with the same key and value that no output explains yet
// (a multiset match, in input order); when every such input is already
// explained the output is a duplicate of the first of them.
//
// Order is checked within each output partition, among the first outputs of
// inputs from the same input partition (duplicates are reported as such, not
// as reorderings): an output whose input offset is lower than that of the
// previous such output is a violation; it is a same-key violation when the
// previous output with the same key has a higher input offset.
//
// Match only uses cfg's Input, Output (as labels), Order, OrderByKey,
// Identity and MaxListed. Inputs and outputs may be given in any order.
func Match(cfg Config, s Snapshot) Report {
	in := sortedRecords(s.Inputs)
	out := sortedRecords(s.Outputs)
	m := matcher{
		cfg:    cfg,
		limit:  cfg.maxListed(),
		in:     in,
		out:    out,
		uses:   make([]int, len(in)),
		assign: make([]int, len(out)),
		rep: Report{
			Input:        labels(cfg.Input, in),
			Output:       labels(cfg.Output, out),
			OrderChecked: cfg.Order,
			OrderByKey:   cfg.Order && cfg.OrderByKey,
		},
	}
	m.rep.Counts.InputRecords = len(in)
	m.rep.Counts.OutputRecords = len(out)
	m.matchHeaders(s.InputEnds)
	m.matchKeyValues()
	m.duplicatesAndMissing()
	m.order()
	if n := m.rep.Counts.ByKeyValue; n > 0 {
		m.rep.Limitations = append(m.rep.Limitations, fmt.Sprintf(
			"%d %s matched by key and value (no %s header): a duplicate of one input cannot be told from the output of another input with the same key and value, and order and identity are not checked for them; stamp the header for a full check",
			n, pluralOutputs(n), ProvenanceHeader))
	}
	return m.rep
}

func pluralOutputs(n int) string {
	if n == 1 {
		return "output was"
	}
	return "outputs were"
}

type matcher struct {
	cfg    Config
	limit  int
	in     []Record
	out    []Record
	uses   []int // per input: number of outputs matched to it
	assign []int // per output: input index, or -1
	rep    Report
}

const unmatched = -1

type kv struct{ k, v string }

func keyValue(r Record) kv { return kv{string(r.Key), string(r.Value)} }

func (m *matcher) matchHeaders(ends map[string]map[int32]int64) {
	byPos := make(map[Pos]int, len(m.in))
	for i, r := range m.in {
		byPos[r.Pos] = i
	}
	for j, o := range m.out {
		m.assign[j] = unmatched
		if !o.HasProvenance {
			continue
		}
		src, err := ParsePos(o.Provenance)
		if err != nil {
			m.unexplained(o, err.Error())
			continue
		}
		i, ok := byPos[src]
		if !ok {
			if end, known := ends[src.Topic][src.Partition]; known && src.Offset >= end {
				m.rep.Counts.Later++
				continue
			}
			m.unexplained(o, "its provenance names no committed input record (aborted, deleted, or not in an input topic)")
			continue
		}
		m.assign[j] = i
		m.uses[i]++
		m.rep.Counts.ByHeader++
		if m.cfg.Identity {
			if !bytes.Equal(o.Key, m.in[i].Key) {
				m.mismatch(o, src, "key")
			} else if !bytes.Equal(o.Value, m.in[i].Value) {
				m.mismatch(o, src, "value")
			}
		}
	}
}

func (m *matcher) matchKeyValues() {
	var idx map[kv][]int // built on first need
	cursor := map[kv]int{}
	for j, o := range m.out {
		if o.HasProvenance {
			continue
		}
		if idx == nil {
			idx = make(map[kv][]int, len(m.in))
			for i, r := range m.in {
				k := keyValue(r)
				idx[k] = append(idx[k], i)
			}
		}
		k := keyValue(o)
		cands := idx[k]
		if len(cands) == 0 {
			m.unexplained(o, "no input record has its key and value, and it has no provenance header")
			continue
		}
		c := cursor[k]
		for c < len(cands) && m.uses[cands[c]] > 0 {
			c++
		}
		cursor[k] = c
		i := cands[0] // every candidate is explained already: a duplicate
		if c < len(cands) {
			i = cands[c]
		}
		m.assign[j] = i
		m.uses[i]++
		m.rep.Counts.ByKeyValue++
	}
}

func (m *matcher) duplicatesAndMissing() {
	c := &m.rep.Counts
	var dupOuts map[int][]Pos
	for j, i := range m.assign {
		if i >= 0 && m.uses[i] > 1 {
			if dupOuts == nil {
				dupOuts = map[int][]Pos{}
			}
			dupOuts[i] = append(dupOuts[i], m.out[j].Pos)
		}
	}
	for i, n := range m.uses {
		switch {
		case n == 0:
			c.Missing++
			if m.list(len(m.rep.Missing)) {
				m.rep.Missing = append(m.rep.Missing, m.in[i].Pos)
			}
		case n > 1:
			c.Duplicates += n - 1
			c.DuplicatedInputs++
			if m.list(len(m.rep.Duplicates)) {
				m.rep.Duplicates = append(m.rep.Duplicates, Duplicate{Input: m.in[i].Pos, Outputs: dupOuts[i]})
			}
		}
		if n > 0 {
			c.Explained++
		}
	}
}

func (m *matcher) order() {
	type lane struct{ out, in tp } // an output partition and an input partition
	type keyLane struct {
		lane
		key string
	}
	prev := map[lane]Pos{}
	prevKey := map[keyLane]Pos{}
	seen := make([]bool, len(m.in))
	for j, i := range m.assign {
		if i < 0 || seen[i] {
			continue
		}
		seen[i] = true
		o, src := m.out[j], m.in[i]
		l := lane{o.tp(), src.tp()}
		kl := keyLane{l, string(src.Key)}
		p, hasP := prev[l]
		pk, hasPK := prevKey[kl]
		prev[l], prevKey[kl] = src.Pos, src.Pos
		partViolation := hasP && src.Offset < p.Offset
		keyViolation := hasPK && src.Offset < pk.Offset
		if partViolation {
			m.rep.Counts.OrderViolations++
		}
		if keyViolation {
			m.rep.Counts.KeyOrderViolations++
		}
		if !partViolation && !keyViolation || m.rep.OrderByKey && !keyViolation {
			continue
		}
		after := p
		if !partViolation {
			after = pk
		}
		if m.list(len(m.rep.OrderViolations)) {
			m.rep.OrderViolations = append(m.rep.OrderViolations, OrderViolation{
				Output: o.Pos, Input: src.Pos, After: after, Key: string(src.Key), SameKey: keyViolation,
			})
		}
	}
}

func (m *matcher) unexplained(o Record, reason string) {
	m.rep.Counts.Unexplained++
	if m.list(len(m.rep.Unexplained)) {
		m.rep.Unexplained = append(m.rep.Unexplained, Unexplained{Output: o.Pos, Provenance: o.Provenance, Reason: reason})
	}
}

func (m *matcher) mismatch(o Record, src Pos, field string) {
	m.rep.Counts.Mismatched++
	if m.list(len(m.rep.Mismatches)) {
		m.rep.Mismatches = append(m.rep.Mismatches, Mismatch{Output: o.Pos, Input: src, Field: field})
	}
}

// list reports whether a list holding n entries may take one more, and marks
// the report truncated when it may not.
func (m *matcher) list(n int) bool {
	if m.limit < 0 || n < m.limit {
		return true
	}
	m.rep.Truncated = true
	return false
}

func sortedRecords(rs []Record) []Record {
	out := slices.Clone(rs)
	sort.SliceStable(out, func(a, b int) bool { return out[a].Pos.less(out[b].Pos) })
	return out
}

// labels returns topics, or the sorted topics of rs when topics is empty.
func labels(topics []string, rs []Record) []string {
	if len(topics) > 0 {
		return slices.Clone(topics)
	}
	set := map[string]bool{}
	for _, r := range rs {
		set[r.Topic] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
