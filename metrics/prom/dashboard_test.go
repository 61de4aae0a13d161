package prom_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/metrics/prom"
)

const dashboard = "../../examples/grafana/eoskit.json"

// registered returns every series name the plugin exposes (histograms
// with their _bucket, _sum and _count) and each one's label names, after
// one event of every kind, a lag poll and a client through KgoOpts.
func registered(t *testing.T) map[string]map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	m, err := prom.New(reg, prom.WithGroup("g"), prom.WithTransactionalID("x"))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("in")}, m.KgoOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "in", Partition: 0, At: 0, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	lag, err := prom.NewLagCollector(admin.NewWithClient(cl), "g")
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(lag)
	m.OnTxnBegin(eoskit.TxnBegin{})
	m.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnCommitted})
	m.OnHandled(eoskit.Handled{Attempt: 1})
	m.OnProduce(eoskit.Produced{})
	m.OnDeadLetter(eoskit.DeadLetter{})
	m.OnAssigned(eoskit.Assignment{})
	m.OnSessionRestart(eoskit.SessionRestart{})

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, mf := range mfs {
		labels := map[string]bool{}
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		names := []string{mf.GetName()}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			names = append(names, mf.GetName()+"_bucket", mf.GetName()+"_sum", mf.GetName()+"_count")
			labels["le"] = true
		}
		for _, n := range names {
			out[n] = labels
		}
	}
	return out
}

// queries returns every PromQL string of the dashboard: panel targets and
// template variable queries.
func queries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, v := range x {
				if s, ok := v.(string); ok && (k == "expr" || k == "definition") {
					out = append(out, s)
				}
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(doc)
	return out
}

var (
	metricRe = regexp.MustCompile(`\beoskit_[a-z0-9_]+`)
	byRe     = regexp.MustCompile(`by \(([^)]*)\)`)
)

// TestDashboardQueriesRegisteredMetrics: every metric the Grafana
// dashboard queries is one the plugin registers, every label it groups by
// is on one of the expression's metrics, and it covers the panels the
// issue asks for.
func TestDashboardQueriesRegisteredMetrics(t *testing.T) {
	reg := registered(t)
	qs := queries(t)
	if len(qs) < 15 {
		t.Fatalf("%d queries in %s, want the fleet dashboard's (15 or more)", len(qs), dashboard)
	}
	used := map[string]bool{}
	for _, q := range qs {
		names := metricRe.FindAllString(q, -1)
		if len(names) == 0 {
			t.Errorf("query %q uses no eoskit metric", q)
		}
		for _, n := range names {
			used[n] = true
			if reg[n] == nil {
				t.Errorf("query %q: %s is not a metric the plugin registers", q, n)
			}
		}
		for _, by := range byRe.FindAllStringSubmatch(q, -1) {
			for _, l := range strings.Split(by[1], ",") {
				l = strings.TrimSpace(l)
				found := false
				for _, n := range names {
					found = found || reg[n][l]
				}
				if !found {
					t.Errorf("query %q groups by %q, a label none of %v has", q, l, names)
				}
			}
		}
	}
	for _, must := range []string{
		"eoskit_txn_end_duration_seconds_bucket", // commit latency
		"eoskit_txn_aborted_total",               // aborts by reason
		"eoskit_txn_fenced_total",
		"eoskit_lag_to_lso_records",
		"eoskit_lag_to_hwm_records",
		"eoskit_open_txn_age_seconds", // stuck transactions
		"eoskit_dead_lettered_total",  // DLQ rate
	} {
		if !used[must] {
			t.Errorf("the dashboard does not query %s", must)
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d queries over %d metrics: %v", len(qs), len(names), names)
}
