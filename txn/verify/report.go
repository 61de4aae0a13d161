package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report is the result of a verification: counts, and the first anomalies of
// each kind (up to Config.MaxListed each; Truncated says when more exist).
// It marshals to JSON with stable snake_case field names.
type Report struct {
	Input  []string `json:"input"`
	Output []string `json:"output"`
	// OrderChecked is true when per-partition order was part of the check
	// (Config.Order); order violations are counted either way.
	OrderChecked bool `json:"order_checked"`
	// OrderByKey is true when only same-key reorderings count (Config.OrderByKey).
	OrderByKey bool   `json:"order_by_key,omitempty"`
	Counts     Counts `json:"counts"`

	Duplicates      []Duplicate      `json:"duplicates,omitempty"`
	Missing         []Pos            `json:"missing,omitempty"`
	Unexplained     []Unexplained    `json:"unexplained,omitempty"`
	OrderViolations []OrderViolation `json:"order_violations,omitempty"`
	Mismatches      []Mismatch       `json:"mismatches,omitempty"`
	// Unsettled are the partitions whose last stable offset stayed below
	// the high watermark for Config.SettleTimeout: records after the open
	// transaction were not read, so the report cannot pass.
	Unsettled []Unsettled `json:"unsettled,omitempty"`
	// Limitations name what this verification could not check, e.g.
	// outputs matched by key and value rather than by provenance header.
	Limitations []string `json:"limitations,omitempty"`
	// Truncated is true when some list above holds fewer entries than its count.
	Truncated bool `json:"truncated,omitempty"`
}

// Counts are the totals of a Report.
type Counts struct {
	InputRecords  int `json:"input_records"`
	OutputRecords int `json:"output_records"`
	// Outputs matched to an input by the provenance header, and by key and value.
	ByHeader   int `json:"matched_by_header"`
	ByKeyValue int `json:"matched_by_key_value"`
	// Explained is the number of input records with at least one output.
	Explained int `json:"explained"`
	// Duplicates is the number of outputs beyond the first for an input;
	// DuplicatedInputs the number of inputs with more than one output.
	Duplicates       int `json:"duplicates"`
	DuplicatedInputs int `json:"duplicated_inputs"`
	Missing          int `json:"missing"`
	Unexplained      int `json:"unexplained"`
	// OrderViolations counts outputs that follow, in their output
	// partition, an output of a later record of the same input partition;
	// KeyOrderViolations those of them where both records have the same key.
	OrderViolations    int `json:"order_violations"`
	KeyOrderViolations int `json:"key_order_violations"`
	// Unsettled counts partitions not read to their high watermark (an
	// open transaction held the last stable offset below it).
	Unsettled int `json:"unsettled"`
	// Mismatched counts header-matched outputs whose key or value differs
	// from their input's (checked only with Config.Identity).
	Mismatched int `json:"mismatched"`
	// Later counts outputs whose provenance names an input offset at or past
	// the input end offset read at the start: input written after the
	// verifier started. They are not checked and are no anomaly.
	Later int `json:"later"`
}

// Duplicate is an input record explained by more than one output record.
type Duplicate struct {
	Input   Pos   `json:"input"`
	Outputs []Pos `json:"outputs"`
}

// Unexplained is an output record that no input record explains.
type Unexplained struct {
	Output     Pos    `json:"output"`
	Provenance string `json:"provenance,omitempty"`
	Reason     string `json:"reason"`
}

// OrderViolation is an output record that appears after the output of a
// later record of the same input partition, in the same output partition.
type OrderViolation struct {
	Output Pos `json:"output"`
	Input  Pos `json:"input"`
	// After is the input position of the output that came before Output
	// in the output partition but has a higher input offset.
	After   Pos    `json:"after"`
	Key     string `json:"key"`
	SameKey bool   `json:"same_key"`
}

// Unsettled is a partition whose last stable offset (LSO) stayed below its
// high watermark (HWM): an open transaction starting at the LSO hides every
// record after it from read_committed readers.
type Unsettled struct {
	Topic         string         `json:"topic"`
	Partition     int32          `json:"partition"`
	LSO           int64          `json:"lso"`
	HWM           int64          `json:"hwm"`
	OpenProducers []OpenProducer `json:"open_producers,omitempty"`
}

// OpenProducer is a producer with an open transaction on a partition, as
// DescribeProducers reports it.
type OpenProducer struct {
	ProducerID     int64 `json:"producer_id"`
	Epoch          int16 `json:"epoch"`
	TxnStartOffset int64 `json:"txn_start_offset"`
	LastTimestamp  int64 `json:"last_timestamp_ms"`
}

func (u Unsettled) String() string {
	s := fmt.Sprintf("%s/%d: last stable offset %d below high watermark %d", u.Topic, u.Partition, u.LSO, u.HWM)
	for _, p := range u.OpenProducers {
		s += fmt.Sprintf("; open transaction of producer %d (epoch %d) from offset %d", p.ProducerID, p.Epoch, p.TxnStartOffset)
	}
	return s
}

// Mismatch is a header-matched output whose key or value differs from the
// input it names.
type Mismatch struct {
	Output Pos    `json:"output"`
	Input  Pos    `json:"input"`
	Field  string `json:"field"` // "key" or "value"
}

// Anomalies returns the number of anomalies that make the report fail:
// duplicates, missing and unexplained records, mismatches, unsettled
// partitions, and order violations when order was checked.
func (r Report) Anomalies() int {
	n := r.Counts.Duplicates + r.Counts.Missing + r.Counts.Unexplained + r.Counts.Mismatched + r.Counts.Unsettled
	if r.OrderChecked {
		n += r.orderAnomalies()
	}
	return n
}

func (r Report) orderAnomalies() int {
	if r.OrderByKey {
		return r.Counts.KeyOrderViolations
	}
	return r.Counts.OrderViolations
}

// OK reports whether the output is an exactly-once image of the input.
func (r Report) OK() bool { return r.Anomalies() == 0 }

// JSON returns the report as indented JSON.
func (r Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ") // plain structs: cannot fail
	return append(b, '\n')
}

// String returns the human summary of WriteText.
func (r Report) String() string {
	var sb strings.Builder
	r.WriteText(&sb)
	return sb.String()
}

// WriteText writes a human summary: a verdict line, a table of counts, then
// the listed anomalies.
func (r Report) WriteText(w io.Writer) {
	c := r.Counts
	if r.OK() {
		fmt.Fprintf(w, "exactly-once check PASSED: %d input records, %d output records\n", c.InputRecords, c.OutputRecords)
	} else {
		fmt.Fprintf(w, "exactly-once check FAILED: %d %s in %d input / %d output records\n", r.Anomalies(), plural(r.Anomalies(), "anomaly", "anomalies"), c.InputRecords, c.OutputRecords)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	n := strconv.Itoa
	row("input", strings.Join(r.Input, ",")+" ("+n(c.InputRecords)+" records)")
	row("output", strings.Join(r.Output, ",")+" ("+n(c.OutputRecords)+" records)")
	row("matched", n(c.ByHeader)+" by provenance header, "+n(c.ByKeyValue)+" by key and value")
	dups := n(c.Duplicates)
	if c.Duplicates > 0 {
		dups += " (of " + n(c.DuplicatedInputs) + " " + plural(c.DuplicatedInputs, "input", "inputs") + ")"
	}
	row("duplicates", dups+mark(c.Duplicates))
	row("missing", n(c.Missing)+mark(c.Missing))
	row("unexplained", n(c.Unexplained)+mark(c.Unexplained))
	ord := n(c.OrderViolations) + " (" + n(c.KeyOrderViolations) + " same key)"
	switch {
	case !r.OrderChecked:
		ord += ", not checked (Config.Order)"
	case r.OrderByKey:
		ord += ", checked per key" + mark(c.KeyOrderViolations)
	default:
		ord += ", checked per partition" + mark(c.OrderViolations)
	}
	row("order violations", ord)
	if c.Mismatched > 0 {
		row("mismatched", n(c.Mismatched)+mark(c.Mismatched))
	}
	if c.Unsettled > 0 {
		row("unsettled", n(c.Unsettled)+" "+plural(c.Unsettled, "partition", "partitions")+" not settled: an open transaction hides the records after it"+mark(c.Unsettled))
	}
	if c.Later > 0 {
		row("later", n(c.Later)+" outputs of input written after the check started (not checked)")
	}
	tw.Flush()
	for _, u := range r.Unsettled {
		fmt.Fprintf(w, "not settled: %s\n", u)
	}
	for _, l := range r.Limitations {
		fmt.Fprintf(w, "limitation: %s\n", l)
	}
	for _, d := range r.Duplicates {
		outs := make([]string, len(d.Outputs))
		for i, o := range d.Outputs {
			outs[i] = o.String()
		}
		fmt.Fprintf(w, "duplicate: input %s -> outputs %s\n", d.Input, strings.Join(outs, ", "))
	}
	for _, m := range r.Missing {
		fmt.Fprintf(w, "missing: input %s has no output\n", m)
	}
	for _, u := range r.Unexplained {
		fmt.Fprintf(w, "unexplained: output %s: %s\n", u.Output, u.Reason)
	}
	if r.OrderChecked {
		for _, o := range r.OrderViolations {
			if r.OrderByKey && !o.SameKey {
				continue
			}
			fmt.Fprintf(w, "order: output %s (input %s) comes after the output of input %s (key %q)\n", o.Output, o.Input, o.After, o.Key)
		}
	}
	for _, m := range r.Mismatches {
		fmt.Fprintf(w, "mismatch: output %s has a different %s than input %s\n", m.Output, m.Field, m.Input)
	}
	if r.Truncated {
		fmt.Fprintln(w, "(lists truncated: raise Config.MaxListed to see more)")
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func mark(n int) string {
	if n > 0 {
		return "  <-- anomaly"
	}
	return ""
}
