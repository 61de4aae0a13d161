package prom_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/metrics/prom"
)

func newMetrics(t *testing.T) (*prometheus.Registry, *prom.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := prom.New(reg, prom.WithGroup("g"), prom.WithTransactionalID("app-g-0"))
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}

// family returns the gathered family name, failing if it is absent.
func family(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("metric %s not gathered", name)
	return nil
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestTxnEndCountsByOutcomeAndReason(t *testing.T) {
	reg, m := newMetrics(t)
	var h eoskit.Hook = m
	for i := 0; i < 3; i++ {
		h.(eoskit.HookTxnBegin).OnTxnBegin(eoskit.TxnBegin{TransactionalID: "app-g-0", Group: "g", At: time.Now()})
	}
	end := h.(eoskit.HookTxnEnd)
	end.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnCommitted, Records: 10, Outputs: 12, Flush: 3 * time.Millisecond, Commit: 20 * time.Millisecond, Duration: 23 * time.Millisecond})
	end.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnCommitted, Records: 500, Outputs: 500, Flush: 3 * time.Millisecond, Commit: 2 * time.Second, Duration: 2 * time.Second})
	end.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnAborted, Reason: eoskit.AbortRebalance, Records: 7})
	end.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnAborted, Reason: eoskit.AbortRebalance})
	end.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnAborted, Reason: eoskit.AbortHandlerError})
	end.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnOutcomeUnknown, Err: eoskit.ErrCommitOutcomeUnknown})
	end.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnFenced, Err: eoskit.ErrFenced})

	want := `
# HELP eoskit_txn_aborted_total Transactions aborted, by reason.
# TYPE eoskit_txn_aborted_total counter
eoskit_txn_aborted_total{group="g",reason="handler_error",txn_id="app-g-0"} 1
eoskit_txn_aborted_total{group="g",reason="other",txn_id="app-g-0"} 0
eoskit_txn_aborted_total{group="g",reason="produce_error",txn_id="app-g-0"} 0
eoskit_txn_aborted_total{group="g",reason="rebalance",txn_id="app-g-0"} 2
eoskit_txn_aborted_total{group="g",reason="requested",txn_id="app-g-0"} 0
eoskit_txn_aborted_total{group="g",reason="shutdown",txn_id="app-g-0"} 0
# HELP eoskit_txn_begun_total Transactions begun.
# TYPE eoskit_txn_begun_total counter
eoskit_txn_begun_total{group="g",txn_id="app-g-0"} 3
# HELP eoskit_txn_committed_total Transactions committed.
# TYPE eoskit_txn_committed_total counter
eoskit_txn_committed_total{group="g",txn_id="app-g-0"} 2
# HELP eoskit_txn_fenced_total Transactions ended because a newer instance took the transactional ID.
# TYPE eoskit_txn_fenced_total counter
eoskit_txn_fenced_total{group="g",txn_id="app-g-0"} 1
# HELP eoskit_txn_unknown_outcome_total Transactions whose commit was sent but whose answer was lost (maybe committed).
# TYPE eoskit_txn_unknown_outcome_total counter
eoskit_txn_unknown_outcome_total{group="g",txn_id="app-g-0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"eoskit_txn_aborted_total", "eoskit_txn_begun_total", "eoskit_txn_committed_total", "eoskit_txn_fenced_total", "eoskit_txn_unknown_outcome_total"); err != nil {
		t.Fatal(err)
	}

	// Records and outputs per committed transaction only: the aborted one's 7 are not in the sum.
	for name, sum := range map[string]float64{"eoskit_txn_records": 510, "eoskit_txn_outputs": 512} {
		hist := family(t, reg, name).GetMetric()[0].GetHistogram()
		if hist.GetSampleCount() != 2 || hist.GetSampleSum() != sum {
			t.Errorf("%s: count %d sum %v, want 2 and %v", name, hist.GetSampleCount(), hist.GetSampleSum(), sum)
		}
	}
	// The 2 committed and the unknown transaction tried a commit: they
	// observe flush, commit and total; the 3 aborted ones observe abort;
	// the fenced one nothing. The 2 s commit falls above the 1.024 s bucket.
	phases := map[string]*dto.Histogram{}
	for _, mm := range family(t, reg, "eoskit_txn_end_duration_seconds").GetMetric() {
		phases[labelsOf(mm)["phase"]] = mm.GetHistogram()
	}
	for p, want := range map[string]uint64{"flush": 3, "commit": 3, "total": 3, "abort": 3} {
		if phases[p].GetSampleCount() != want {
			t.Errorf("phase %s: %d observations, want %d", p, phases[p].GetSampleCount(), want)
		}
	}
	var le1 uint64
	for _, b := range phases["commit"].GetBucket() {
		if b.GetUpperBound() == 1.024 {
			le1 = b.GetCumulativeCount()
		}
	}
	if le1 != 2 {
		t.Errorf("commit phase: %d observations <= 1.024 s, want 2 (all but the 2 s commit)", le1)
	}
	if got := phases["commit"].GetSampleSum(); got < 2.02 || got > 2.021 {
		t.Errorf("commit phase sum %v s, want 2.020", got)
	}
}

func TestProcessingCounters(t *testing.T) {
	reg, m := newMetrics(t)
	rec := &kgo.Record{Topic: "in", Partition: 1}
	boom := errors.New("boom")
	for i := 0; i < 5; i++ {
		m.OnHandled(eoskit.Handled{Group: "g", Record: rec, Batch: 1, Attempt: 1, Duration: time.Millisecond})
	}
	m.OnHandled(eoskit.Handled{Group: "g", Record: rec, Batch: 1, Attempt: 1, Err: boom, Duration: time.Millisecond})
	m.OnHandled(eoskit.Handled{Group: "g", Record: rec, Batch: 1, Attempt: 2, Err: boom, Duration: time.Millisecond})
	m.OnHandled(eoskit.Handled{Group: "g", Record: rec, Batch: 1, Attempt: 3, Err: boom, Duration: time.Millisecond})
	m.OnHandled(eoskit.Handled{Group: "g", Record: rec, Batch: 4, Attempt: 1, Duration: 3 * time.Second}) // a batch handler call
	m.OnHandledRun(eoskit.HandledRun{Group: "g", Calls: 7, Last: rec})                                    // quiet calls reported as a run
	m.OnDeadLetter(eoskit.DeadLetter{Group: "g", Record: rec, To: "dlq", Err: boom})
	for i := 0; i < 9; i++ {
		m.OnProduce(eoskit.Produced{Record: &kgo.Record{Topic: "out"}})
	}
	m.OnProduce(eoskit.Produced{Record: &kgo.Record{Topic: "out"}, Err: boom})
	m.OnProducedRun(eoskit.ProducedRun{TransactionalID: "app-g-0", Records: 6}) // a transaction's acknowledged outputs
	m.OnCommit(eoskit.Committed{Group: "g"})
	m.OnCommit(eoskit.Committed{Group: "g", Err: boom})
	m.OnCommit(eoskit.Committed{Group: "g"})
	m.OnSessionRestart(eoskit.SessionRestart{Err: boom})

	for name, want := range map[string]float64{
		"eoskit_records_in_total":       17, // 5 + 1 failed first attempt + batch of 4 + a run of 7
		"eoskit_handler_retries_total":  2,
		"eoskit_handler_errors_total":   3,
		"eoskit_dead_lettered_total":    1,
		"eoskit_records_out_total":      15, // 9 one by one + a run of 6
		"eoskit_produce_errors_total":   1,
		"eoskit_session_restarts_total": 1,
	} {
		mf := family(t, reg, name)
		if got := mf.GetMetric()[0].GetCounter().GetValue(); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
		if l := labelsOf(mf.GetMetric()[0]); l["group"] != "g" || l["txn_id"] != "app-g-0" || len(l) != 2 {
			t.Errorf("%s labels %v, want only group=g txn_id=app-g-0", name, l)
		}
	}
	commits := map[string]float64{}
	for _, mm := range family(t, reg, "eoskit_offset_commits_total").GetMetric() {
		commits[labelsOf(mm)["result"]] = mm.GetCounter().GetValue()
	}
	if commits["ok"] != 2 || commits["error"] != 1 {
		t.Errorf("offset commits %v, want ok 2 error 1", commits)
	}
	hist := family(t, reg, "eoskit_handler_duration_seconds").GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 9 || hist.GetSampleSum() < 3.008 || hist.GetSampleSum() > 3.0081 {
		t.Errorf("handler duration: count %d sum %v, want 9 and 3.008", hist.GetSampleCount(), hist.GetSampleSum())
	}
}

func TestAssignedPartitionsFollowRebalances(t *testing.T) {
	reg, m := newMetrics(t)
	m.OnAssigned(eoskit.Assignment{Group: "g", Partitions: map[string][]int32{"a": {0, 1, 2}, "b": {0}}})
	if got := testutil.ToFloat64(gaugeOf(t, reg, "eoskit_assigned_partitions")); got != 4 {
		t.Fatalf("assigned partitions %v after assigning 4, want 4", got)
	}
	m.OnAssigned(eoskit.Assignment{Group: "g", Partitions: map[string][]int32{"a": {3}}}) // cooperative: incremental
	m.OnRevoked(eoskit.Assignment{Group: "g", Partitions: map[string][]int32{"a": {0, 1}}})
	m.OnRevoked(eoskit.Assignment{Group: "g", Partitions: map[string][]int32{"b": {0}}, Lost: true})
	if got := testutil.ToFloat64(gaugeOf(t, reg, "eoskit_assigned_partitions")); got != 2 {
		t.Fatalf("assigned partitions %v, want 2 (a/2, a/3)", got)
	}
	events := map[string]float64{}
	for _, mm := range family(t, reg, "eoskit_rebalances_total").GetMetric() {
		events[labelsOf(mm)["event"]] = mm.GetCounter().GetValue()
	}
	if events["assigned"] != 2 || events["revoked"] != 1 || events["lost"] != 1 {
		t.Errorf("rebalances %v, want assigned 2 revoked 1 lost 1", events)
	}
}

// gaugeOf returns a collector reporting the gathered gauge's value.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Gauge {
	t.Helper()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	g.Set(family(t, reg, name).GetMetric()[0].GetGauge().GetValue())
	return g
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := prom.New(prometheus.NewRegistry(),
		prom.WithConstLabels(prometheus.Labels{"group": "x", "txn_id": "y"}),
		prom.WithDurationBuckets([]float64{1, 0.5}),
		prom.WithCountBuckets(nil))
	var oe *eoskit.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("err = %v, want an *eoskit.OptionError", err)
	}
	if len(oe.Problems) != 4 {
		t.Fatalf("problems %q, want 4 (group, txn_id, duration buckets, count buckets)", oe.Problems)
	}
}

func TestSecondMetricsOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := prom.New(reg, prom.WithGroup("g"), prom.WithTransactionalID("a")); err != nil {
		t.Fatal(err)
	}
	// Another processor of the same process: other constant labels, same registry.
	if _, err := prom.New(reg, prom.WithGroup("g"), prom.WithTransactionalID("b")); err != nil {
		t.Fatalf("second Metrics with another txn_id: %v", err)
	}
	var are prometheus.AlreadyRegisteredError
	if _, err := prom.New(reg, prom.WithGroup("g"), prom.WithTransactionalID("a")); !errors.As(err, &are) {
		t.Fatalf("same labels twice: err = %v, want prometheus.AlreadyRegisteredError", err)
	}
	if n := len(family(t, reg, "eoskit_txn_committed_total").GetMetric()); n != 2 {
		t.Fatalf("%d eoskit_txn_committed_total series, want 2", n)
	}
}

// TestHandlerDurationBuckets: bucket bounds are inclusive (le), as in
// client_golang, and durations past the last bound count only in +Inf.
func TestHandlerDurationBuckets(t *testing.T) {
	reg, m := newMetrics(t)
	for _, d := range []time.Duration{time.Millisecond, time.Millisecond + 1, 2 * time.Millisecond, time.Minute} {
		m.OnHandled(eoskit.Handled{Attempt: 1, Duration: d})
	}
	h := family(t, reg, "eoskit_handler_duration_seconds").GetMetric()[0].GetHistogram()
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	if cum[0.001] != 1 || cum[0.002] != 3 || cum[16.384] != 3 || h.GetSampleCount() != 4 || len(cum) != len(prom.DefaultDurationBuckets) {
		t.Fatalf("buckets %v count %d, want le=0.001: 1, le=0.002: 3, le=16.384: 3, count 4, %d buckets", cum, h.GetSampleCount(), len(prom.DefaultDurationBuckets))
	}
	if want := 60.004000001; h.GetSampleSum() < want-1e-9 || h.GetSampleSum() > want+1e-9 {
		t.Fatalf("sum %v, want %v", h.GetSampleSum(), want)
	}
}

// TestSampledHandlerDuration: untimed handler calls (Handled.Untimed)
// count in records_in_total but not in the duration histogram, and the
// per-partition counter stripes add up exactly, concurrently.
func TestSampledHandlerDuration(t *testing.T) {
	reg, m := newMetrics(t)
	const workers, perWorker = 12, 1000
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			rec := &kgo.Record{Topic: "in", Partition: int32(w)}
			for i := range perWorker {
				if i%100 == 0 {
					m.OnHandled(eoskit.Handled{Record: rec, Batch: 1, Attempt: 1, Duration: time.Millisecond})
				} else {
					m.OnHandled(eoskit.Handled{Record: rec, Batch: 1, Attempt: 1, Untimed: true})
				}
				m.OnProduce(eoskit.Produced{Record: rec})
			}
		}()
	}
	for range workers {
		<-done
	}
	for name, want := range map[string]float64{"eoskit_records_in_total": workers * perWorker, "eoskit_records_out_total": workers * perWorker} {
		if got := family(t, reg, name).GetMetric()[0].GetCounter().GetValue(); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	hist := family(t, reg, "eoskit_handler_duration_seconds").GetMetric()[0].GetHistogram()
	if want := uint64(workers * perWorker / 100); hist.GetSampleCount() != want || hist.GetSampleSum() < 0.1199 || hist.GetSampleSum() > 0.1201 {
		t.Errorf("handler duration: count %d sum %v, want %d timed calls summing 0.12 s", hist.GetSampleCount(), hist.GetSampleSum(), want)
	}
}
