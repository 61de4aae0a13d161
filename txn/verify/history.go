package verify

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// ErrBadHistory reports a history file that cannot be read: a line that is
// not a HistoryTxn in JSON, or an unknown outcome.
var ErrBadHistory = errors.New("bad history")

// HistoryTxn is one transaction as the processor saw it end: one line of a
// history file (JSON lines).
type HistoryTxn struct {
	// Seq numbers the transactions of a History in the order they ended.
	Seq             int    `json:"seq"`
	TransactionalID string `json:"transactional_id,omitempty"`
	Group           string `json:"group,omitempty"`
	ProducerID      int64  `json:"producer_id"`
	Epoch           int16  `json:"epoch"`
	// Outcome is eoskit.TxnOutcome's String: committed, aborted, unknown
	// or fenced.
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	Began   time.Time `json:"began"`
	// Offsets are the input next offsets (topic → partition → offset) the
	// transaction committed or tried to commit.
	Offsets map[string]map[int32]int64 `json:"offsets,omitempty"`
	// Outputs are the records the brokers acknowledged in the transaction.
	Outputs []HistoryOutput `json:"outputs,omitempty"`
}

// HistoryOutput is one acknowledged output record: its position and its
// provenance header (the input it came from), if it had one.
type HistoryOutput struct {
	Pos
	Provenance string `json:"provenance,omitempty"`
}

// History records the transactions of txn processors through their hooks
// (eoskit.HookTxnEnd and eoskit.HookProduce) and writes them as JSON lines,
// for CheckHistory. Pass a History to one processor's txn.WithHooks; for
// several processors, pass each its own h.Recorder(), which log into h.
// The zero value is not usable: call NewHistory. Safe for concurrent use.
type History struct {
	mu   sync.Mutex
	txns []HistoryTxn
	own  *Recorder
}

// NewHistory returns an empty History.
func NewHistory() *History {
	h := &History{}
	h.own = h.Recorder()
	return h
}

// Recorder returns a hook for one processor that records into h: it
// collects the processor's acknowledged outputs and files them under the
// transaction that ends next.
func (h *History) Recorder() *Recorder {
	return &Recorder{h: h, pending: map[int64][]HistoryOutput{}, last: map[int64]int{}}
}

// OnProduce implements eoskit.HookProduce (for one processor; see Recorder).
func (h *History) OnProduce(p eoskit.Produced) { h.own.OnProduce(p) }

// OnTxnEnd implements eoskit.HookTxnEnd (for one processor; see Recorder).
func (h *History) OnTxnEnd(e eoskit.TxnEnd) { h.own.OnTxnEnd(e) }

// OnSessionStart implements eoskit.HookSessionStart (for one processor;
// see Recorder).
func (h *History) OnSessionStart(e eoskit.SessionStart) { h.own.OnSessionStart(e) }

// Add appends t to the history (its Seq is set to its place).
func (h *History) Add(t HistoryTxn) { h.add(t) }

func (h *History) add(t HistoryTxn) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	t.Seq = len(h.txns) + 1
	h.txns = append(h.txns, t)
	return t.Seq
}

// attach appends outs to the outputs of the transaction numbered seq.
func (h *History) attach(seq int, outs []HistoryOutput) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq >= 1 && seq <= len(h.txns) && h.txns[seq-1].Seq == seq {
		h.txns[seq-1].Outputs = append(h.txns[seq-1].Outputs, outs...)
	}
}

// Txns returns a copy of the transactions recorded so far.
func (h *History) Txns() []HistoryTxn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.txns)
}

// Count returns how many transactions ended with each outcome
// (committed, aborted, unknown, fenced).
func (h *History) Count() map[string]int {
	out := map[string]int{}
	for _, t := range h.Txns() {
		out[t.Outcome]++
	}
	return out
}

// WriteTo writes the history as JSON lines, one transaction a line.
func (h *History) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	enc := json.NewEncoder(cw)
	for _, t := range h.Txns() {
		if err := enc.Encode(t); err != nil {
			return cw.n, fmt.Errorf("verify: write history: %w", err)
		}
	}
	return cw.n, nil
}

// WriteFile writes the history to the file path (created or truncated).
func (h *History) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("verify: history file: %w", err)
	}
	if _, err := h.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("verify: history file: %w", err)
	}
	return nil
}

// ReadHistory reads a history written by WriteTo. Errors wrap ErrBadHistory
// and name the line.
func ReadHistory(r io.Reader) (*History, error) {
	h := NewHistory()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var t HistoryTxn
		if err := json.Unmarshal([]byte(line), &t); err != nil {
			return nil, fmt.Errorf("verify: %w: line %d: %w (want one JSON object a line, as History.WriteTo writes)", ErrBadHistory, n, err)
		}
		switch t.Outcome {
		case eoskit.TxnCommitted.String(), eoskit.TxnAborted.String(), eoskit.TxnOutcomeUnknown.String(), eoskit.TxnFenced.String():
		default:
			return nil, fmt.Errorf("verify: %w: line %d: outcome %q (want committed, aborted, unknown or fenced)", ErrBadHistory, n, t.Outcome)
		}
		seq := t.Seq
		h.Add(t)
		if seq != 0 { // keep the recorded order numbers
			h.txns[len(h.txns)-1].Seq = seq
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("verify: read history: %w", err)
	}
	return h, nil
}

// ReadHistoryFile reads the history file path.
func ReadHistoryFile(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify: history file: %w", err)
	}
	defer f.Close()
	return ReadHistory(f)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Recorder is one processor's hook into a History (History.Recorder). A
// processor's outputs are acknowledged before its transaction ends (it
// flushes first), so the outputs acknowledged since the last end of the
// same producer ID belong to the transaction that ends next, except those
// still pending when a new session starts (OnSessionStart).
type Recorder struct {
	h       *History
	mu      sync.Mutex
	pending map[int64][]HistoryOutput // by producer ID
	last    map[int64]int             // Seq of the last transaction recorded, by producer ID
}

// OnProduce implements eoskit.HookProduce: it keeps acknowledged outputs.
func (r *Recorder) OnProduce(p eoskit.Produced) {
	if p.Err != nil || p.Record == nil {
		return
	}
	o := HistoryOutput{Pos: Pos{Topic: p.Record.Topic, Partition: p.Record.Partition, Offset: p.Record.Offset}}
	o.Provenance = provenanceOf(p.Record)
	r.mu.Lock()
	r.pending[p.Record.ProducerID] = append(r.pending[p.Record.ProducerID], o)
	r.mu.Unlock()
}

// OnTxnEnd implements eoskit.HookTxnEnd: it records the transaction with
// the outputs acknowledged since its producer's previous end.
func (r *Recorder) OnTxnEnd(e eoskit.TxnEnd) {
	r.mu.Lock()
	outs := r.pending[e.ProducerID]
	delete(r.pending, e.ProducerID)
	r.mu.Unlock()
	t := HistoryTxn{
		TransactionalID: e.TransactionalID, Group: e.Group, ProducerID: e.ProducerID, Epoch: e.Epoch,
		Outcome: e.Outcome.String(), Began: e.Began, Offsets: copyOffsets(e.Offsets), Outputs: outs,
	}
	if e.Outcome == eoskit.TxnAborted {
		t.Reason = e.Reason.String()
	}
	seq := r.h.add(t)
	r.mu.Lock()
	r.last[e.ProducerID] = seq
	r.mu.Unlock()
}

// OnSessionStart implements eoskit.HookSessionStart. Outputs acknowledged
// after their transaction was reported ended belong to that transaction,
// not to the next one of the same producer ID (which a rebuilt session
// keeps, KIP-360): a transaction whose flush timed out ends before its
// session's client is closed, and the client can still get its records
// acknowledged while it closes. A session starts after the previous one
// closed, so whatever is pending then is filed under the last transaction
// of its producer ID (or, if none ended, under a transaction of unknown
// outcome).
func (r *Recorder) OnSessionStart(e eoskit.SessionStart) {
	r.mu.Lock()
	late := r.pending
	r.pending = map[int64][]HistoryOutput{}
	seqs := make(map[int64]int, len(late))
	for pid := range late {
		if seq, ok := r.last[pid]; ok {
			seqs[pid] = seq
		}
	}
	r.mu.Unlock()
	for pid, outs := range late {
		if seq, ok := seqs[pid]; ok {
			r.h.attach(seq, outs)
			continue
		}
		seq := r.h.add(HistoryTxn{TransactionalID: e.TransactionalID, Group: e.Group, ProducerID: pid, Epoch: -1,
			Outcome: eoskit.TxnOutcomeUnknown.String(), Outputs: outs})
		r.mu.Lock()
		r.last[pid] = seq
		r.mu.Unlock()
	}
}

func provenanceOf(r *kgo.Record) string {
	v := ""
	for _, h := range r.Headers {
		if h.Key == ProvenanceHeader {
			v = string(h.Value)
		}
	}
	return v
}

func copyOffsets(m map[string]map[int32]int64) map[string]map[int32]int64 {
	if m == nil {
		return nil
	}
	out := make(map[string]map[int32]int64, len(m))
	for t, ps := range m {
		out[t] = make(map[int32]int64, len(ps))
		for p, o := range ps {
			out[t][p] = o
		}
	}
	return out
}

// Anomaly classes of a HistoryReport, in Jepsen's terms.
const (
	LostWrite     = "lost-write"    // a transaction seen committed whose output is not visible
	AbortedRead   = "aborted-read"  // an output of a transaction seen aborted or fenced is visible
	DuplicateRead = "duplicate"     // an input explained by visible outputs of more than one record
	Unseen        = "unseen"        // an input below a committed offset that no visible output explains
	NonMonotonic  = "non-monotonic" // a committed input offset below an earlier committed one
)

// HistoryAnomaly is one anomaly the history checker found.
type HistoryAnomaly struct {
	Class string `json:"class"`
	// Txn is the Seq of the transaction concerned (0: none, e.g. unseen).
	Txn     int    `json:"txn,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Output  *Pos   `json:"output,omitempty"`
	Input   *Pos   `json:"input,omitempty"`
	Detail  string `json:"detail"`
}

// HistoryCounts are the totals of a HistoryReport.
type HistoryCounts struct {
	Committed int `json:"committed"`
	Aborted   int `json:"aborted"`
	Unknown   int `json:"unknown"`
	Fenced    int `json:"fenced"`
	// UnknownVisible counts unknown-outcome transactions whose outputs are
	// visible (they committed); the others did not.
	UnknownVisible int `json:"unknown_visible"`
	// Outputs are the acknowledged outputs the history names; Unchecked
	// those of them not checked (a topic not read, below the start offset
	// or at or past the end read).
	Outputs   int `json:"outputs"`
	Unchecked int `json:"unchecked"`

	LostWrites   int `json:"lost_writes"`
	AbortedReads int `json:"aborted_reads"`
	Duplicates   int `json:"duplicates"`
	Unseen       int `json:"unseen"`
	NonMonotonic int `json:"non_monotonic"`
}

// HistoryReport is the result of CheckHistory: the history's anomalies
// (up to Config.MaxListed of each class listed) and, in Verify, the plain
// verification of the same records.
type HistoryReport struct {
	Counts    HistoryCounts    `json:"counts"`
	Anomalies []HistoryAnomaly `json:"anomalies,omitempty"`
	Truncated bool             `json:"truncated,omitempty"`
	Verify    Report           `json:"verify"`
}

// HistoryAnomalies returns the number of history anomalies (all classes).
func (r HistoryReport) HistoryAnomalies() int {
	c := r.Counts
	return c.LostWrites + c.AbortedReads + c.Duplicates + c.Unseen + c.NonMonotonic
}

// OK is true when the history has no anomaly and Verify is OK.
func (r HistoryReport) OK() bool { return r.HistoryAnomalies() == 0 && r.Verify.OK() }

// JSON returns the report as indented JSON.
func (r HistoryReport) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ") // plain structs: cannot fail
	return append(b, '\n')
}

// String returns the human summary of WriteText.
func (r HistoryReport) String() string {
	var sb strings.Builder
	r.WriteText(&sb)
	return sb.String()
}

// WriteText writes the verification's summary, then the history's.
func (r HistoryReport) WriteText(w io.Writer) {
	r.Verify.WriteText(w)
	c := r.Counts
	verdict := "PASSED"
	if r.HistoryAnomalies() > 0 {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "history check %s: %d committed, %d aborted, %d unknown (%d visible), %d fenced transactions; %d outputs (%d not checked)\n",
		verdict, c.Committed, c.Aborted, c.Unknown, c.UnknownVisible, c.Fenced, c.Outputs, c.Unchecked)
	fmt.Fprintf(w, "  lost writes %d%s, aborted reads %d%s, duplicates %d%s, unseen %d%s, non-monotonic offsets %d%s\n",
		c.LostWrites, mark(c.LostWrites), c.AbortedReads, mark(c.AbortedReads), c.Duplicates, mark(c.Duplicates),
		c.Unseen, mark(c.Unseen), c.NonMonotonic, mark(c.NonMonotonic))
	for _, a := range r.Anomalies {
		fmt.Fprintf(w, "%s: %s\n", a.Class, a.Detail)
	}
	if r.Truncated {
		fmt.Fprintln(w, "(lists truncated: raise Config.MaxListed to see more)")
	}
}

// CheckHistory reads cfg's topics as Run does (waiting for them to settle,
// read_committed, inputs first) and checks h against what is visible, in
// Jepsen's terms (MatchHistory). The report's Verify holds Run's checks of
// the same records. A report with anomalies is not an error: check
// HistoryReport.OK. Errors are Run's (an invalid cfg or conn, missing
// topics, a compacted output, partitions that did not settle, read
// failures) and a nil h (eoskit.ErrInvalidOption).
func CheckHistory(ctx context.Context, conn eoskit.Conn, cfg Config, h *History) (HistoryReport, error) {
	ps := eoskit.NewProblems("verify")
	ps.Add(conn.Validate())
	ps.Add(cfg.Validate())
	if h == nil {
		ps.Addf("nil History: pass the History the processors recorded (NewHistory, ReadHistoryFile)")
	}
	if err := ps.Err(); err != nil {
		return HistoryReport{}, err
	}
	snap, err := readSnapshot(ctx, conn, cfg)
	if err != nil {
		return HistoryReport{}, err
	}
	return MatchHistory(cfg, snap, h.Txns()), nil
}

// readSnapshot reads cfg's inputs, then outputs, as Run does: once the
// partitions have settled, read_committed, to their last stable offsets.
func readSnapshot(ctx context.Context, conn eoskit.Conn, cfg Config) (HistorySnapshot, error) {
	cl, err := kgo.NewClient(conn.Opts()...)
	if err != nil {
		return HistorySnapshot{}, fmt.Errorf("verify: client: %w: %w", eoskit.ErrInvalidOption, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if !cfg.AllowCompacted {
		if err := refuseCompacted(ctx, adm, cfg.Output); err != nil {
			return HistorySnapshot{}, err
		}
	}
	inStarts, inEnds, outStarts, outEnds, unsettled, err := settle(ctx, adm, cfg)
	if err != nil {
		return HistorySnapshot{}, err
	}
	if len(unsettled) > 0 {
		msgs := make([]string, len(unsettled))
		for i, u := range unsettled {
			msgs[i] = u.String()
		}
		return HistorySnapshot{}, fmt.Errorf("verify: %w after %v: %s: end or abort the transaction (or wait for its timeout), then check again",
			eoskit.ErrNotSettled, cfg.settleTimeout(), strings.Join(msgs, "; "))
	}
	inR, err := newReader(conn.Opts(), inStarts)
	if err != nil {
		return HistorySnapshot{}, err
	}
	defer inR.close()
	outR, err := newReader(conn.Opts(), outStarts)
	if err != nil {
		return HistorySnapshot{}, err
	}
	defer outR.close()
	if err := inR.readTo(ctx, inEnds); err != nil {
		return HistorySnapshot{}, err
	}
	if err := outR.readTo(ctx, outEnds); err != nil {
		return HistorySnapshot{}, err
	}
	return HistorySnapshot{
		Snapshot:     Snapshot{Inputs: inR.records(inEnds), Outputs: outR.records(outEnds), InputEnds: endsByTopic(inEnds)},
		OutputStarts: endsByTopic(outStarts), OutputEnds: endsByTopic(outEnds),
	}, nil
}
