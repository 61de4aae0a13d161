package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eoskit/eoskit/txn/verify"
)

// Result is what a demo run did and found.
type Result struct {
	// Simulated is true on the embedded kfake cluster.
	Simulated  bool     `json:"simulated"`
	Cluster    string   `json:"cluster"`
	Brokers    []string `json:"brokers"`
	Input      string   `json:"input"`
	Output     string   `json:"output"`
	Group      string   `json:"group"`
	Partitions int32    `json:"partitions"`
	Records    int      `json:"records"`
	// Kept is true when the topics were left on the real cluster.
	Kept bool `json:"kept,omitempty"`

	Processors []ProcessorSummary `json:"processors"`
	Crash      Crash              `json:"crash"`
	// Transactions committed and aborted by all processors (the one the
	// crash left open is aborted by the broker, and not counted here).
	Committed int64 `json:"transactions_committed"`
	Aborted   int64 `json:"transactions_aborted"`
	// CaughtUp is true when the group consumed the whole input in time.
	CaughtUp bool `json:"caught_up"`
	// Problems are processor failures (they also fail the demo).
	Problems []string      `json:"problems,omitempty"`
	Verify   verify.Report `json:"verify"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

// ProcessorSummary is one processor's part.
type ProcessorSummary struct {
	Name            string `json:"name"`
	TransactionalID string `json:"transactional_id"`
	State           string `json:"state"` // stopped, crashed, failed: ...
	RecordsIn       int64  `json:"records_in"`
	TxnsCommitted   int64  `json:"transactions_committed"`
	TxnsAborted     int64  `json:"transactions_aborted"`
	Rebalances      int64  `json:"rebalances"`
	SessionRestarts int64  `json:"session_restarts"`
}

// Crash describes the simulated processor crash.
type Crash struct {
	Processor       string `json:"processor"`
	TransactionalID string `json:"transactional_id"`
	// AtCopied is how many input records the processors had committed.
	AtCopied int64 `json:"at_copied"`
	// OpenTxnRecords is how many records the crashed processor had handled
	// in the transaction it left open (0: it died between transactions).
	OpenTxnRecords int64  `json:"open_txn_records"`
	Replacement    string `json:"replacement"`
}

// OK reports whether the demo showed exactly-once: the output caught up,
// no processor failed, and the verifier found no anomaly.
func (r Result) OK() bool { return r.CaughtUp && len(r.Problems) == 0 && r.Verify.OK() }

// JSON returns the result as indented JSON.
func (r Result) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ") // plain structs: cannot fail
	return append(b, '\n')
}

// WriteText writes the human summary.
func (r Result) WriteText(w io.Writer) {
	v := r.Verify.Counts
	verdict := "PASSED: every input record is in the output exactly once"
	if !r.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "eoskit demo: exactly-once copy with a processor crash. %s\n\n", verdict)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("cluster", "%s", r.Cluster)
	row("records", "%d produced to %s (%d partitions), copied to %s", r.Records, r.Input, r.Partitions, r.Output)
	row("processors", "%s", r.processorsLine())
	if r.Crash.Processor != "" {
		row("crash", "%s", r.crashLine())
		row("why it holds", "the crashed transaction's outputs were aborted (invisible to read_committed) and its input offsets never committed, so the partitions' next owner processed those records again, once")
	}
	row("transactions", "%d committed, %d aborted", r.Committed, r.Aborted)
	row("verification", "%d input, %d output records: duplicates %d, missing %d, unexplained %d, order violations %d",
		v.InputRecords, v.OutputRecords, v.Duplicates, v.Missing, v.Unexplained, v.OrderViolations)
	row("time", "%.1fs", r.Elapsed.Seconds())
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  processor\ttransactional id\trecords in\tcommitted\taborted\trebalances\tstate")
	for _, p := range r.Processors {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%s\n", p.Name, p.TransactionalID, p.RecordsIn, p.TxnsCommitted, p.TxnsAborted, p.Rebalances, p.State)
	}
	tw.Flush()

	for _, p := range r.Problems {
		fmt.Fprintf(w, "\nproblem: %s", p)
	}
	if !r.CaughtUp {
		fmt.Fprintln(w, "\nproblem: the processors did not consume the whole input in time")
	}
	if !r.Verify.OK() {
		fmt.Fprintf(w, "\n%s", r.Verify)
	}
	fmt.Fprintln(w)
	if r.Simulated {
		fmt.Fprint(w, `The cluster above was franz-go's kfake: an in-process SIMULATION of Kafka.
It shows the mechanics, not Apache Kafka's guarantees (those are proven by
eoskit's real-broker suites). Run the same demo on real brokers:

  eosctl dev cluster --nodes 3            # prints bootstrap=HOST:PORT,...
  eosctl demo --brokers HOST:PORT,...     # in another terminal
`)
	} else if r.Kept {
		fmt.Fprintf(w, "The topics were kept; check them again with: eosctl verify --brokers %s --input %s --output %s --order\n",
			strings.Join(r.Brokers, ","), r.Input, r.Output)
	}
}

func (r Result) processorsLine() string {
	var names []string
	for _, p := range r.Processors {
		names = append(names, p.Name)
	}
	return fmt.Sprintf("%d txn processors (%s) in consumer group %s", len(r.Processors), strings.Join(names, ", "), r.Group)
}

func (r Result) crashLine() string {
	c := r.Crash
	s := fmt.Sprintf("%s crashed when %d/%d records were copied", c.Processor, c.AtCopied, r.Records)
	if c.OpenTxnRecords > 0 {
		s += fmt.Sprintf(", in a transaction it never ended (%d input records handled in it)", c.OpenTxnRecords)
	}
	if c.Replacement != "" {
		s += fmt.Sprintf("; %s restarted with the same transactional ID, fenced it and aborted that transaction", c.Replacement)
	}
	return s
}
