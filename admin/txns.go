package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/internal/conn"
)

// Errors of the transaction operations (KIP-664).
var (
	// ErrNoOpenTransaction reports an abort of a partition (or a
	// transactional ID) that has no open transaction: nothing to abort.
	ErrNoOpenTransaction = errors.New("no open transaction")

	// ErrAmbiguousTransaction reports an abort that names a partition
	// holding more than one open transaction without saying which: pass
	// the producer ID, producer epoch and coordinator epoch (FindHanging
	// and DescribeProducers list them).
	ErrAmbiguousTransaction = errors.New("more than one open transaction on the partition")
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// Transaction is a transactional ID as its coordinator knows it. From
// ListTransactions only the ID, state, producer ID and coordinator are
// set; DescribeTransactions fills in the rest.
type Transaction struct {
	TransactionalID string           `json:"transactionalId"`
	State           string           `json:"state"` // Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead, PrepareEpochFence
	ProducerID      int64            `json:"producerId"`
	ProducerEpoch   int16            `json:"producerEpoch"`
	Coordinator     int32            `json:"coordinator"`
	Timeout         time.Duration    `json:"timeoutNs,omitempty"`
	Started         time.Time        `json:"startTime,omitzero"` // zero when no transaction is open
	Partitions      []TopicPartition `json:"partitions,omitempty"`
	Error           string           `json:"error,omitempty"`
	Err             error            `json:"-"` // the broker's error for this ID, if any
}

// Transactions are transactions keyed by transactional ID.
type Transactions map[string]Transaction

// Sorted returns the transactions ordered by transactional ID.
func (ts Transactions) Sorted() []Transaction {
	s := make([]Transaction, 0, len(ts))
	for _, t := range ts {
		s = append(s, t)
	}
	sort.Slice(s, func(i, j int) bool { return s[i].TransactionalID < s[j].TransactionalID })
	return s
}

// Error joins the per-transaction errors (nil if none).
func (ts Transactions) Error() error {
	var errs []error
	for _, t := range ts.Sorted() {
		if t.Err != nil {
			errs = append(errs, fmt.Errorf("transactional ID %q: %w", t.TransactionalID, t.Err))
		}
	}
	return errors.Join(errs...)
}

// TxnFilter selects transactions in ListTransactions. The zero value
// selects all.
type TxnFilter struct {
	States      []string // e.g. "Ongoing"; any of them
	IDPrefix    string   // transactional IDs starting with this
	ProducerIDs []int64  // any of them
}

// ListTransactions lists the transactional IDs the coordinators know
// (those this principal may DESCRIBE), filtered by f. The prefix filter is
// sent to the brokers (Kafka 4.1+) and applied again here, so older
// brokers give the same answer. A broker that does not answer is an
// error returned with the transactions of the others.
func (c *Client) ListTransactions(ctx context.Context, f TxnFilter) (Transactions, error) {
	pattern := ""
	if f.IDPrefix != "" {
		pattern = "^" + regexp.QuoteMeta(f.IDPrefix) + ".*"
	}
	ls, err := c.adm.ListTransactionsByTxPattern(ctx, f.ProducerIDs, f.States, pattern)
	out := make(Transactions, len(ls))
	for _, l := range ls {
		if !strings.HasPrefix(l.TxnID, f.IDPrefix) || len(f.States) > 0 && !containsFold(f.States, l.State) {
			continue
		}
		out[l.TxnID] = Transaction{TransactionalID: l.TxnID, State: l.State, ProducerID: l.ProducerID, ProducerEpoch: -1, Coordinator: l.Coordinator}
	}
	if err != nil {
		return out, fmt.Errorf("list transactions: %w", explain(err))
	}
	return out, nil
}

// DescribeTransactions describes transactional IDs (all listed ones when
// none is given): state, producer ID and epoch, timeout, start time, the
// partitions of the open transaction, and the coordinator. An unknown ID
// comes back with its error (Err), not as a failure of the call.
func (c *Client) DescribeTransactions(ctx context.Context, ids ...string) (Transactions, error) {
	ds, err := c.adm.DescribeTransactions(ctx, ids...)
	out := make(Transactions, len(ds))
	for _, d := range ds {
		t := Transaction{TransactionalID: d.TxnID, State: d.State, ProducerID: d.ProducerID, ProducerEpoch: d.ProducerEpoch,
			Coordinator: d.Coordinator, Timeout: time.Duration(d.TimeoutMillis) * time.Millisecond, Err: d.Err}
		if d.StartTimestamp > 0 {
			t.Started = time.UnixMilli(d.StartTimestamp).UTC()
		}
		for _, p := range d.Topics.Sorted() {
			for _, pn := range p.Partitions {
				t.Partitions = append(t.Partitions, TopicPartition{p.Topic, pn})
			}
		}
		if d.Err != nil {
			t.Error = d.Err.Error()
		}
		out[t.TransactionalID] = t
	}
	if err != nil {
		return out, fmt.Errorf("describe transactions: %w", explain(err))
	}
	return out, nil
}

// ActiveProducer is a producer with state on a partition (DescribeProducers).
type ActiveProducer struct {
	ProducerID       int64     `json:"producerId"`
	ProducerEpoch    int16     `json:"producerEpoch"`
	CoordinatorEpoch int32     `json:"coordinatorEpoch"`
	LastSequence     int32     `json:"lastSequence"`
	LastWrite        time.Time `json:"lastWrite,omitzero"`
	TxnStartOffset   int64     `json:"txnStartOffset"` // first offset of its open transaction; -1 when none is open
}

// PartitionProducers are the active producers of one partition.
type PartitionProducers struct {
	TopicPartition
	Leader    int32            `json:"leader"`
	Producers []ActiveProducer `json:"producers"`
	Error     string           `json:"error,omitempty"`
	Err       error            `json:"-"`
}

// DescribeProducers describes the producers with state on the partitions
// of topics (all topics when none is given), sorted by topic and
// partition.
func (c *Client) DescribeProducers(ctx context.Context, topics ...string) ([]PartitionProducers, error) {
	return c.describeProducers(ctx, topicsSet(topics))
}

func topicsSet(topics []string) kadm.TopicsSet {
	s := make(kadm.TopicsSet)
	for _, t := range topics {
		s.Add(t)
	}
	return s
}

func (c *Client) describeProducers(ctx context.Context, s kadm.TopicsSet) ([]PartitionProducers, error) {
	ds, err := c.adm.DescribeProducers(ctx, s)
	var out []PartitionProducers
	for _, p := range ds.SortedPartitions() {
		pp := PartitionProducers{TopicPartition: TopicPartition{p.Topic, p.Partition}, Leader: p.Leader, Err: p.Err, Producers: []ActiveProducer{}}
		if p.Err != nil {
			pp.Error = p.Err.Error()
		}
		for _, d := range p.ActiveProducers.Sorted() {
			ap := ActiveProducer{ProducerID: d.ProducerID, ProducerEpoch: d.ProducerEpoch, CoordinatorEpoch: d.CoordinatorEpoch,
				LastSequence: d.LastSequence, TxnStartOffset: d.CurrentTxnStartOffset}
			if d.LastTimestamp > 0 {
				ap.LastWrite = time.UnixMilli(d.LastTimestamp).UTC()
			}
			pp.Producers = append(pp.Producers, ap)
		}
		out = append(out, pp)
	}
	if err != nil {
		return out, fmt.Errorf("describe producers: %w", explain(err))
	}
	return out, nil
}

// Why a transaction is hanging.
const (
	HangingUnknownProducer = "unknown-to-coordinator" // no transactional ID holds the producer ID
	HangingCoordinatorDone = "coordinator-moved-on"   // the coordinator has no open transaction of this producer on the partition
	HangingTimedOut        = "older-than-timeout"     // open longer than its transaction timeout
	HangingMaxAge          = "older-than-max-age"     // open longer than HangingOptions.MaxAge
)

// OpenTxn is an open transaction on one partition: it holds the
// partition's last stable offset at StartOffset, so read_committed
// consumers stop there until it ends.
type OpenTxn struct {
	TopicPartition
	Leader           int32          `json:"leader"`
	ProducerID       int64          `json:"producerId"`
	ProducerEpoch    int16          `json:"producerEpoch"`
	CoordinatorEpoch int32          `json:"coordinatorEpoch"`
	StartOffset      int64          `json:"startOffset"`
	LastWrite        time.Time      `json:"lastWrite,omitzero"`
	TransactionalID  string         `json:"transactionalId,omitempty"` // "" when no coordinator knows the producer ID
	State            string         `json:"state,omitempty"`           // the coordinator's state of TransactionalID
	Timeout          time.Duration  `json:"timeoutNs,omitempty"`
	Age              time.Duration  `json:"ageNs"`             // since the coordinator's start time, else since the last write
	Reasons          []string       `json:"reasons,omitempty"` // why it is hanging (Hanging* constants); empty when it is not
	LSO              int64          `json:"lso"`
	HWM              int64          `json:"hwm"`
	Blocked          []BlockedGroup `json:"blockedGroups,omitempty"`
}

// Hanging reports whether any hanging criterion holds.
func (o OpenTxn) Hanging() bool { return len(o.Reasons) > 0 }

// BlockedGroup is a consumer group with a committed offset on a partition
// whose last stable offset an open transaction holds.
type BlockedGroup struct {
	Group     string `json:"group"`
	Committed int64  `json:"committed"`
	LagToLSO  int64  `json:"lagToLso"` // what read_committed consumers can still read
	LagToHWM  int64  `json:"lagToHwm"` // what the open transaction keeps from them (and beyond)
}

// HangingOptions scope FindHanging.
type HangingOptions struct {
	Topics []string      // only these topics; all when empty
	MaxAge time.Duration // also report open transactions older than this; 0: only those past their own timeout or unknown to the coordinator
	Now    time.Time     // the time ages are measured at; zero: time.Now()
}

// FindHanging returns the partitions whose open transaction (from
// DescribeProducers) is hanging: older than the transaction's timeout or
// MaxAge, or unknown to its coordinator (no transactional ID holds the
// producer ID, or the coordinator no longer has it open on the
// partition). Each comes with the partition's LSO and high watermark and
// the consumer groups it blocks. A candidate is described a second time
// and kept only if the same transaction is still open, so a transaction
// that merely ended between two requests is not reported.
func (c *Client) FindHanging(ctx context.Context, o HangingOptions) ([]OpenTxn, error) {
	open, err := c.OpenTransactions(ctx, o.Topics, o)
	if err != nil {
		return nil, err
	}
	var cands []OpenTxn
	for _, t := range open {
		if t.Hanging() {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		return []OpenTxn{}, nil
	}
	s := make(kadm.TopicsSet)
	for _, t := range cands {
		s.Add(t.Topic, t.Partition)
	}
	again, err := c.describeProducers(ctx, s)
	if err != nil {
		return nil, err
	}
	still := make(map[TopicPartition]map[int64]int64)
	for _, p := range again {
		for _, ap := range p.Producers {
			if ap.TxnStartOffset >= 0 {
				if still[p.TopicPartition] == nil {
					still[p.TopicPartition] = make(map[int64]int64)
				}
				still[p.TopicPartition][ap.ProducerID] = ap.TxnStartOffset
			}
		}
	}
	out := []OpenTxn{}
	for _, t := range cands {
		if off, ok := still[t.TopicPartition][t.ProducerID]; ok && off == t.StartOffset {
			out = append(out, t)
		}
	}
	if err := c.addBlocked(ctx, out); err != nil {
		return out, err
	}
	return out, nil
}

// OpenTransactions returns every open transaction on the partitions of
// topics (all when empty), with the coordinator's view of it and, in
// Reasons, the hanging criteria of o it meets. LSO and HWM are filled in;
// Blocked is not.
func (c *Client) OpenTransactions(ctx context.Context, topics []string, o HangingOptions) ([]OpenTxn, error) {
	pps, err := c.DescribeProducers(ctx, topics...)
	if err != nil {
		return nil, err
	}
	return c.openTxns(ctx, pps, o)
}

func (c *Client) openTxns(ctx context.Context, pps []PartitionProducers, o HangingOptions) ([]OpenTxn, error) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	var open []OpenTxn
	var pids []int64
	topics := map[string]bool{}
	for _, p := range pps {
		for _, ap := range p.Producers {
			if ap.TxnStartOffset < 0 {
				continue
			}
			open = append(open, OpenTxn{TopicPartition: p.TopicPartition, Leader: p.Leader, ProducerID: ap.ProducerID,
				ProducerEpoch: ap.ProducerEpoch, CoordinatorEpoch: ap.CoordinatorEpoch, StartOffset: ap.TxnStartOffset, LastWrite: ap.LastWrite})
			pids = append(pids, ap.ProducerID)
			topics[p.Topic] = true
		}
	}
	if len(open) == 0 {
		return []OpenTxn{}, nil
	}
	listed, err := c.ListTransactions(ctx, TxnFilter{ProducerIDs: pids})
	if err != nil {
		return nil, err
	}
	byPID := make(map[int64]string)
	var ids []string
	for _, l := range listed.Sorted() {
		byPID[l.ProducerID] = l.TransactionalID
		ids = append(ids, l.TransactionalID)
	}
	described := Transactions{}
	if len(ids) > 0 {
		if described, err = c.DescribeTransactions(ctx, ids...); err != nil {
			return nil, err
		}
	}
	lso, hwm, err := c.stableAndHigh(ctx, keys(topics))
	if err != nil {
		return nil, err
	}
	for i := range open {
		t := &open[i]
		t.LSO, t.HWM = lso[t.TopicPartition], hwm[t.TopicPartition]
		start := t.LastWrite
		id, known := byPID[t.ProducerID]
		d, described := described[id]
		switch {
		case !known || !described || d.Err != nil:
			t.Reasons = append(t.Reasons, HangingUnknownProducer)
		default:
			t.TransactionalID, t.State, t.Timeout = id, d.State, d.Timeout
			if !d.Started.IsZero() {
				start = d.Started
			}
			// Another producer ID, a newer epoch, no open transaction, or
			// an open one without this partition: nothing will ever end
			// this partition's transaction.
			if d.ProducerID != t.ProducerID || d.ProducerEpoch > t.ProducerEpoch || !isOpenState(d.State) ||
				d.State == "Ongoing" && !containsTP(d.Partitions, t.TopicPartition) {
				t.Reasons = append(t.Reasons, HangingCoordinatorDone)
			}
		}
		if !start.IsZero() {
			t.Age = max(now.Sub(start), 0).Truncate(time.Millisecond)
		}
		if t.Timeout > 0 && t.Age > t.Timeout {
			t.Reasons = append(t.Reasons, HangingTimedOut)
		}
		if o.MaxAge > 0 && t.Age > o.MaxAge {
			t.Reasons = append(t.Reasons, HangingMaxAge)
		}
	}
	return open, nil
}

func isOpenState(s string) bool {
	return s == "Ongoing" || s == "PrepareCommit" || s == "PrepareAbort" || s == "PrepareEpochFence"
}

func containsTP(tps []TopicPartition, tp TopicPartition) bool {
	for _, x := range tps {
		if x == tp {
			return true
		}
	}
	return false
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// stableAndHigh returns the last stable offset (read_committed ListOffsets)
// and the high watermark of every partition of topics.
func (c *Client) stableAndHigh(ctx context.Context, topics []string) (lso, hwm map[TopicPartition]int64, err error) {
	lso, hwm = map[TopicPartition]int64{}, map[TopicPartition]int64{}
	if len(topics) == 0 {
		return lso, hwm, nil
	}
	ls, err := c.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("list last stable offsets: %w", explain(err))
	}
	hs, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("list high watermarks: %w", explain(err))
	}
	ls.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			lso[TopicPartition{o.Topic, o.Partition}] = o.Offset
		}
	})
	hs.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			hwm[TopicPartition{o.Topic, o.Partition}] = o.Offset
		}
	})
	return lso, hwm, nil
}

// addBlocked fills in the groups with committed offsets on each open
// transaction's partition.
func (c *Client) addBlocked(ctx context.Context, open []OpenTxn) error {
	if len(open) == 0 {
		return nil
	}
	gs, err := c.adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("list groups: %w", explain(err))
	}
	fetched := c.adm.FetchManyOffsets(ctx, gs.Groups()...)
	for _, g := range gs.Sorted() {
		f, ok := fetched[g.Group]
		if !ok || f.Err != nil {
			continue
		}
		for i := range open {
			t := &open[i]
			if r, ok := f.Fetched.Lookup(t.Topic, t.Partition); ok && r.Err == nil && r.At >= 0 {
				t.Blocked = append(t.Blocked, BlockedGroup{Group: g.Group, Committed: r.At,
					LagToLSO: max(t.LSO-r.At, 0), LagToHWM: max(t.HWM-r.At, 0)})
			}
		}
	}
	return nil
}

// explain turns access failures into *eoskit.AccessError (matching
// eoskit.ErrAccessDenied); other errors are returned unchanged.
func explain(err error) error { return conn.ExplainAuthError(err, conn.Access{}) }

// AbortSpec names the open transaction to abort on one partition, as
// kafka-transactions.sh abort does. ProducerID, ProducerEpoch and
// CoordinatorEpoch may be left at -1 when the partition has exactly one
// open transaction, or when StartOffset names it: PlanAbort looks them up.
type AbortSpec struct {
	Topic            string
	Partition        int32
	StartOffset      int64 // the open transaction's first offset; -1: any
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
}

// AbortPartition returns the AbortSpec of the one open transaction on a
// partition, every id left to look up.
func AbortPartition(topic string, partition int32) AbortSpec {
	return AbortSpec{Topic: topic, Partition: partition, StartOffset: -1, ProducerID: -1, ProducerEpoch: -1, CoordinatorEpoch: -1}
}

// AbortPlan is what Abort will do: write abort markers for the producer on
// the partitions (TransactionalID empty), or fence TransactionalID through
// its coordinator, which aborts its open transaction.
type AbortPlan struct {
	TransactionalID  string           `json:"transactionalId,omitempty"`
	ProducerID       int64            `json:"producerId"`
	ProducerEpoch    int16            `json:"producerEpoch"`
	CoordinatorEpoch int32            `json:"coordinatorEpoch"`
	Partitions       []TopicPartition `json:"partitions"`
	Open             []OpenTxn        `json:"open"` // the open transactions this ends, as seen when planning
}

// PlanAbort checks s against the partition's open transactions and fills
// in the ids left at -1. Errors: ErrNoOpenTransaction (nothing to abort,
// or the given producer has no open transaction there),
// ErrAmbiguousTransaction (several are open and s does not say which).
func (c *Client) PlanAbort(ctx context.Context, s AbortSpec) (AbortPlan, error) {
	tp := TopicPartition{s.Topic, s.Partition}
	set := make(kadm.TopicsSet)
	set.Add(s.Topic, s.Partition)
	pps, err := c.describeProducers(ctx, set)
	if err != nil {
		return AbortPlan{}, err
	}
	var cands []ActiveProducer
	for _, p := range pps {
		if p.Err != nil && p.TopicPartition == tp {
			return AbortPlan{}, fmt.Errorf("describe producers of %s: %w", tp, p.Err)
		}
		for _, ap := range p.Producers {
			if p.TopicPartition == tp && ap.TxnStartOffset >= 0 && (s.ProducerID < 0 || ap.ProducerID == s.ProducerID) &&
				(s.StartOffset < 0 || ap.TxnStartOffset == s.StartOffset) {
				cands = append(cands, ap)
			}
		}
	}
	switch {
	case len(cands) == 0 && s.StartOffset >= 0:
		return AbortPlan{}, fmt.Errorf("partition %s: no open transaction starts at offset %d: %w (run eosctl txns producers to list them)", tp, s.StartOffset, ErrNoOpenTransaction)
	case len(cands) == 0 && s.ProducerID >= 0:
		return AbortPlan{}, fmt.Errorf("partition %s: producer ID %d: %w there (run eosctl txns producers to list them)", tp, s.ProducerID, ErrNoOpenTransaction)
	case len(cands) == 0:
		return AbortPlan{}, fmt.Errorf("partition %s: %w", tp, ErrNoOpenTransaction)
	case len(cands) > 1:
		var ids []string
		for _, ap := range cands {
			ids = append(ids, fmt.Sprintf("producer ID %d epoch %d coordinator epoch %d (from offset %d)", ap.ProducerID, ap.ProducerEpoch, ap.CoordinatorEpoch, ap.TxnStartOffset))
		}
		return AbortPlan{}, fmt.Errorf("partition %s: %w: %s: name the producer ID, producer epoch and coordinator epoch", tp, ErrAmbiguousTransaction, strings.Join(ids, "; "))
	}
	ap := cands[0]
	p := AbortPlan{ProducerID: ap.ProducerID, ProducerEpoch: ap.ProducerEpoch, CoordinatorEpoch: ap.CoordinatorEpoch, Partitions: []TopicPartition{tp}}
	if s.ProducerEpoch >= 0 {
		p.ProducerEpoch = s.ProducerEpoch
	}
	if s.CoordinatorEpoch >= 0 {
		p.CoordinatorEpoch = s.CoordinatorEpoch
	}
	one := pps[:0:0]
	for _, pp := range pps {
		if pp.TopicPartition == tp {
			pp.Producers = []ActiveProducer{ap}
			one = append(one, pp)
		}
	}
	if p.Open, err = c.openTxns(ctx, one, HangingOptions{}); err != nil {
		return p, err
	}
	return p, nil
}

// PlanAbortTransactionalID plans to end the open transaction of a
// transactional ID the coordinator knows, by fencing the ID (an
// InitProducerID, as a restarted instance with that ID does): the
// coordinator aborts the transaction on every partition and bumps the
// epoch, so the producer that opened it can no longer write. Error:
// ErrNoOpenTransaction when the ID has no open transaction.
func (c *Client) PlanAbortTransactionalID(ctx context.Context, id string) (AbortPlan, error) {
	ds, err := c.DescribeTransactions(ctx, id)
	if err != nil {
		return AbortPlan{}, err
	}
	d, ok := ds[id]
	switch {
	case !ok:
		return AbortPlan{}, fmt.Errorf("transactional ID %q: not found: %w", id, ErrNoOpenTransaction)
	case d.Err != nil:
		return AbortPlan{}, fmt.Errorf("transactional ID %q: %w", id, d.Err)
	case !isOpenState(d.State):
		return AbortPlan{}, fmt.Errorf("transactional ID %q is %s: %w", id, d.State, ErrNoOpenTransaction)
	}
	p := AbortPlan{TransactionalID: id, ProducerID: d.ProducerID, ProducerEpoch: d.ProducerEpoch, CoordinatorEpoch: -1, Partitions: d.Partitions}
	s := make(kadm.TopicsSet)
	for _, tp := range d.Partitions {
		s.Add(tp.Topic, tp.Partition)
	}
	if len(s) > 0 {
		pps, err := c.describeProducers(ctx, s)
		if err != nil {
			return p, err
		}
		for i := range pps {
			var mine []ActiveProducer
			for _, ap := range pps[i].Producers {
				if ap.ProducerID == d.ProducerID && ap.TxnStartOffset >= 0 {
					mine = append(mine, ap)
				}
			}
			pps[i].Producers = mine
		}
		if p.Open, err = c.openTxns(ctx, pps, HangingOptions{}); err != nil {
			return p, err
		}
	}
	return p, nil
}

// AbortResult is what Abort did, per partition, with the last stable
// offset before and after.
type AbortResult struct {
	Plan       AbortPlan          `json:"plan"`
	Partitions []AbortedPartition `json:"partitions"`
}

// AbortedPartition is one partition of an AbortResult.
type AbortedPartition struct {
	TopicPartition
	LSOBefore int64  `json:"lsoBefore"`
	LSOAfter  int64  `json:"lsoAfter"`
	HWM       int64  `json:"hwm"`
	Error     string `json:"error,omitempty"`
	Err       error  `json:"-"`
}

// Abort executes p: it writes abort markers for the producer to each
// partition's leader (KIP-664's abort, as kafka-transactions.sh does), or,
// for a plan of a transactional ID, fences the ID through its
// coordinator. It then waits (up to ctx) until each partition's last
// stable offset has moved past the aborted transaction, and reports it
// before and after. Per-partition failures are in the result and joined
// in the error.
func (c *Client) Abort(ctx context.Context, p AbortPlan) (AbortResult, error) {
	res := AbortResult{Plan: p}
	topics := map[string]bool{}
	for _, tp := range p.Partitions {
		topics[tp.Topic] = true
	}
	before, _, err := c.stableAndHigh(ctx, keys(topics))
	if err != nil {
		return res, err
	}
	errs := map[TopicPartition]error{}
	if p.TransactionalID != "" {
		if err := c.fence(ctx, p.TransactionalID); err != nil {
			return res, err
		}
	} else {
		s := make(kadm.TopicsSet)
		for _, tp := range p.Partitions {
			s.Add(tp.Topic, tp.Partition)
		}
		rs, err := c.adm.WriteTxnMarkers(ctx, kadm.TxnMarkers{ProducerID: p.ProducerID, ProducerEpoch: p.ProducerEpoch,
			CoordinatorEpoch: p.CoordinatorEpoch, Topics: s})
		if err != nil {
			return res, fmt.Errorf("write abort markers: %w", explain(err))
		}
		rs.EachPartition(func(r kadm.TxnMarkersPartitionResponse) {
			if r.Err != nil {
				errs[TopicPartition{r.Topic, r.Partition}] = explain(r.Err)
			}
		})
		c.log.Info("admin: wrote abort markers", "producer_id", p.ProducerID, "epoch", p.ProducerEpoch, "partitions", p.Partitions)
	}
	start := map[TopicPartition]int64{}
	for _, o := range p.Open {
		start[o.TopicPartition] = o.StartOffset
	}
	var after, hwm map[TopicPartition]int64
	for {
		if after, hwm, err = c.stableAndHigh(ctx, keys(topics)); err != nil {
			return res, err
		}
		moved := true
		for _, tp := range p.Partitions {
			// Still held at the aborted transaction's first offset (an
			// older transaction may hold it lower: that is not ours).
			if s, ok := start[tp]; ok && errs[tp] == nil && after[tp] == s {
				moved = false
			}
		}
		if moved {
			break
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("abort: the last stable offset did not move past the transaction: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	var all []error
	for _, tp := range p.Partitions {
		ap := AbortedPartition{TopicPartition: tp, LSOBefore: before[tp], LSOAfter: after[tp], HWM: hwm[tp], Err: errs[tp]}
		if ap.Err != nil {
			ap.Error = ap.Err.Error()
			all = append(all, fmt.Errorf("partition %s: %w", tp, ap.Err))
		}
		res.Partitions = append(res.Partitions, ap)
	}
	return res, errors.Join(all...)
}

// fence initialises a producer ID for id, which makes its coordinator
// abort the open transaction and bump the epoch.
func (c *Client) fence(ctx context.Context, id string) error {
	cl, err := kgo.NewClient(append(c.cl.Opts(), kgo.TransactionalID(id))...)
	if err != nil {
		return fmt.Errorf("fence transactional ID %q: %w", id, err)
	}
	defer cl.Close()
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("fence transactional ID %q (InitProducerID): %w", id, explain(err))
	}
	c.log.Info("admin: fenced transactional ID", "txn_id", id)
	return nil
}
