package otel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/otel"
)

// collect returns every data point of the reader: sums by instrument and
// attribute "reason", "event" or "phase" (or "" when it has none),
// histogram counts likewise.
func collect(t *testing.T, r *sdkmetric.ManualReader) (sums, counts map[string]map[string]float64, group map[string]string) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	sums, counts, group = map[string]map[string]float64{}, map[string]map[string]float64{}, map[string]string{}
	key := func(s attribute.Set) string {
		for _, k := range []attribute.Key{"reason", "event", "phase", "result"} {
			if v, ok := s.Value(k); ok {
				return v.AsString()
			}
		}
		return ""
	}
	note := func(name string, s attribute.Set) {
		if v, ok := s.Value("group"); ok {
			group[name] = v.AsString()
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sums[m.Name], counts[m.Name] = map[string]float64{}, map[string]float64{}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sums[m.Name][key(p.Attributes)] += float64(p.Value)
					note(m.Name, p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					counts[m.Name][key(p.Attributes)] += float64(p.Count)
					sums[m.Name][key(p.Attributes)] += p.Sum
					note(m.Name, p.Attributes)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					counts[m.Name][key(p.Attributes)] += float64(p.Count)
					sums[m.Name][key(p.Attributes)] += float64(p.Sum)
					note(m.Name, p.Attributes)
				}
			}
		}
	}
	return sums, counts, group
}

func TestMeterRecordsTheSameFigures(t *testing.T) {
	r := sdkmetric.NewManualReader()
	m, err := otel.NewMeter(otel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))),
		otel.WithMeterAttributes(attribute.String("group", "g"), attribute.String("txn_id", "g-0")))
	if err != nil {
		t.Fatal(err)
	}
	m.OnTxnBegin(eoskit.TxnBegin{})
	m.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnCommitted, Records: 10, Outputs: 11, Flush: time.Millisecond, Commit: 3 * time.Millisecond, Duration: 4 * time.Millisecond})
	m.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnAborted, Reason: eoskit.AbortRebalance, Duration: time.Second})
	m.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnFenced})
	m.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnOutcomeUnknown})
	for i := 0; i < 4; i++ {
		m.OnHandled(eoskit.Handled{Attempt: 1, Duration: time.Millisecond})
		m.OnProduce(eoskit.Produced{})
	}
	m.OnHandled(eoskit.Handled{Attempt: 2, Err: errors.New("boom")})
	m.OnHandledRun(eoskit.HandledRun{Calls: 3})
	m.OnProduce(eoskit.Produced{Err: errors.New("boom")})
	m.OnProducedRun(eoskit.ProducedRun{Records: 5})
	m.OnDeadLetter(eoskit.DeadLetter{})
	m.OnCommit(eoskit.Committed{})
	m.OnSessionRestart(eoskit.SessionRestart{})
	m.OnAssigned(eoskit.Assignment{Partitions: map[string][]int32{"in": {0, 1, 2}}})
	m.OnAssigned(eoskit.Assignment{Partitions: map[string][]int32{"in": {2, 3}}}) // 2 again: counted once
	m.OnRevoked(eoskit.Assignment{Partitions: map[string][]int32{"in": {0}}, Lost: true})

	sums, counts, group := collect(t, r)
	for _, c := range []struct {
		name, key string
		want      float64
	}{
		{"eoskit.txn.begun", "", 1}, {"eoskit.txn.committed", "", 1}, {"eoskit.txn.aborted", "rebalance", 1},
		{"eoskit.txn.fenced", "", 1}, {"eoskit.txn.unknown_outcome", "", 1},
		{"eoskit.records_in", "", 7}, {"eoskit.handler_retries", "", 1}, {"eoskit.handler_errors", "", 1},
		{"eoskit.records_out", "", 9}, // 4 one by one + a run of 5 {"eoskit.produce_errors", "", 1}, {"eoskit.dead_lettered", "", 1},
		{"eoskit.offset_commits", "ok", 1}, {"eoskit.session_restarts", "", 1},
		{"eoskit.rebalances", "assigned", 2}, {"eoskit.rebalances", "lost", 1},
		{"eoskit.assigned_partitions", "", 3},
		{"eoskit.txn.records", "", 10}, {"eoskit.txn.outputs", "", 11},
	} {
		if got := sums[c.name][c.key]; got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.key, got, c.want)
		}
		if group[c.name] != "g" {
			t.Errorf("%s: attribute group %q, want g", c.name, group[c.name])
		}
	}
	for phase, want := range map[string]float64{"flush": 2, "commit": 2, "total": 2, "abort": 1} {
		if got := counts["eoskit.txn.end.duration"][phase]; got != want {
			t.Errorf("eoskit.txn.end.duration{phase=%s}: %v observations, want %v", phase, got, want)
		}
	}
	if got := counts["eoskit.handler.duration"][""]; got != 5 {
		t.Errorf("eoskit.handler.duration: %v observations, want 5", got)
	}
}
