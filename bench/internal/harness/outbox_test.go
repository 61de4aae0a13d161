package harness

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutboxFigures: messages/s from the first write to the last delivery,
// and the commit -> delivery delays' nearest-rank p50/p99 in ms; a message
// never delivered is not counted, one delivered before its COMMIT returned
// counts as 0 ms.
func TestOutboxFigures(t *testing.T) {
	const ms = int64(1e6)
	start := int64(1_000_000_000_000)
	r := outboxResult{start: start, commitAt: make([]int64, 101), seenAt: make([]int64, 101)}
	for i := range 100 { // delays 1..100 ms; the last delivery 2 s after the start
		r.commitAt[i] = start + 1000*ms
		r.seenAt[i] = r.commitAt[i] + int64(i+1)*ms
	}
	r.seenAt[99] = start + 2000*ms // delay 1000 ms: the p100, not the p99
	r.commitAt[100] = start + 5*ms // never delivered
	records, perSec, p50, p99 := r.figures()
	if records != 100 || math.Abs(perSec-50) > 1e-9 || p50 != 50 || p99 != 99 {
		t.Errorf("figures = %d records, %v/s, p50 %v, p99 %v; want 100, 50/s, 50, 99", records, perSec, p50, p99)
	}

	early := outboxResult{start: start, commitAt: []int64{start + 10*ms}, seenAt: []int64{start + 8*ms}}
	if n, rate, p50, p99 := early.figures(); n != 1 || rate != 125 || p50 != 0 || p99 != 0 {
		t.Errorf("delivered before the COMMIT returned: %d, %v/s, p50 %v, p99 %v; want 1, 125/s, 0, 0", n, rate, p50, p99)
	}
	none := outboxResult{start: start, commitAt: []int64{start}, seenAt: []int64{0}}
	if n, rate, p50, p99 := none.figures(); n != 0 || !math.IsNaN(rate) || !math.IsNaN(p50) || !math.IsNaN(p99) {
		t.Errorf("nothing delivered: %d, %v, %v, %v; want 0 and NaN (unmeasured)", n, rate, p50, p99)
	}
}

// TestOutboxMeasurementFigures: the case's measurements become the report's
// throughput and end-to-end figures, with ratios to the exactly-once relay
// (the last side).
func TestOutboxMeasurementFigures(t *testing.T) {
	m := func(rate, p50, p99 float64) Measurement {
		x := unmeasured()
		x.Records, x.RecPerSec, x.E2EP50, x.E2EP99, x.CPU, x.RSS = 1000, rate, p50, p99, 1, 1<<20
		return x
	}
	ms := [][]Measurement{{m(3000, 20, 40)}, {m(500, 600, 900)}, {m(2000, 30, 60)}}
	got := map[string]float64{}
	for _, f := range figures([]string{"alo", "debezium", "eos"}, "", ms, []float64{0, 0, 0}) {
		for _, v := range f.Sides {
			got[f.Name+"/"+v.Side] = v.Value.Median
			if v.Ratio != nil {
				got[f.Name+"/"+v.Side+"/ratio"] = v.Ratio.Median
			}
		}
	}
	for k, want := range map[string]float64{
		"throughput/alo/ratio": 1.5, "throughput/debezium/ratio": 0.25, "throughput/eos": 2000,
		"end-to-end p50/debezium/ratio": 20, "end-to-end p99/eos": 60, "end-to-end p99/alo/ratio": 40.0 / 60,
	} {
		if g, ok := got[k]; !ok || math.Abs(g-want) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, want)
		}
	}
	if _, ok := got["commit p50/eos"]; ok {
		t.Errorf("a commit latency figure, but no outbox side measures one: %v", got)
	}
}

func TestConnectorStatus(t *testing.T) {
	for _, c := range []struct {
		name, body string
		running    bool
		err        string
	}{
		{"running", `{"name":"c","connector":{"state":"RUNNING","worker_id":"127.0.0.1:1"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"127.0.0.1:1"}],"type":"source"}`, true, ""},
		{"no task yet", `{"connector":{"state":"RUNNING"},"tasks":[]}`, false, ""},
		{"task unassigned", `{"connector":{"state":"RUNNING"},"tasks":[{"id":0,"state":"UNASSIGNED"}]}`, false, ""},
		{"task failed", `{"connector":{"state":"RUNNING"},"tasks":[{"id":0,"state":"FAILED","trace":"org.apache.kafka.connect.errors.ConnectException: slot in use\n\tat x\n"}]}`, false, "task 0 FAILED: org.apache.kafka.connect.errors.ConnectException: slot in use"},
		{"connector failed", `{"connector":{"state":"FAILED","trace":"boom"},"tasks":[]}`, false, "connector FAILED: boom"},
	} {
		var st connectorStatus
		if err := json.Unmarshal([]byte(c.body), &st); err != nil {
			t.Fatal(err)
		}
		ok, err := st.running()
		if ok != c.running || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: running %v, %v; want %v, %q", c.name, ok, err, c.running, c.err)
		}
	}
}

func TestDebeziumConfig(t *testing.T) {
	w := connectWorkerProps([]string{"127.0.0.1:9092", "127.0.0.1:9093"}, "g-1", "/p", 8083)
	for k, v := range map[string]string{
		"bootstrap.servers": "127.0.0.1:9092,127.0.0.1:9093", "exactly.once.source.support": "enabled",
		"listeners": "http://127.0.0.1:8083", "plugin.path": "/p", "config.storage.topic": "g-1-configs",
	} {
		if w[k] != v {
			t.Errorf("worker %s = %q, want %q", k, w[k], v)
		}
	}
	props := properties(map[string]string{"b": "2", "a": "1"})
	if props != "a=1\nb=2\n" {
		t.Errorf("properties = %q", props)
	}
	c := debeziumConnectorConfig(debeziumRun{slot: "s_1", table: "public.eoskit_outbox", publication: "p", name: "eosbench-1-group-2"}, 5432)
	for k, v := range map[string]string{
		"database.port": "5432", "slot.name": "s_1", "publication.name": "p", "plugin.name": "pgoutput",
		"exactly.once.support": "required", "transforms.outbox.route.by.field": "topic",
		"transforms.outbox.route.topic.replacement": "${routedByValue}", "topic.prefix": "eosbench_1_group_2",
	} {
		if c[k] != v {
			t.Errorf("connector %s = %q, want %q", k, c[k], v)
		}
	}
}

// TestOutboxCase: the exactly-once relay is the baseline (last side); a
// missing Debezium leaves its side out and the case says why.
func TestOutboxCase(t *testing.T) {
	home := t.TempDir()
	t.Setenv("EOSKIT_DEBEZIUM_HOME", home)
	c := outboxCase(1_000_000)
	if len(c.Sides) != 2 || c.Sides[1].Label() != outboxLabelEOS || c.Sides[0].Label() != outboxLabelALO {
		t.Fatalf("sides without Debezium: %v", labels(c.Sides))
	}
	if !strings.Contains(c.Settings, outboxLabelDebezium+" left out") || !strings.Contains(c.Settings, "make debezium") {
		t.Errorf("settings do not say why Debezium is left out: %s", c.Settings)
	}
	jar := filepath.Join(home, "plugins", "debezium-connector-postgres", "debezium-connector-postgres-3.6.1.Final.jar")
	for _, f := range []string{jar, filepath.Join(home, "connect", "libs", "connect-runtime-4.3.0.jar")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c = outboxCase(1_000_000)
	if got := labels(c.Sides); strings.Join(got, "|") != outboxLabelALO+"|"+outboxLabelDebezium+"|"+outboxLabelEOS {
		t.Errorf("sides %v", got)
	}
	if c.Records != 5000 || c.Kind != KindProduce || c.Transactional || c.Reference != outboxLabelALO {
		t.Errorf("records %d, kind %s, transactional %v, reference %q; want 5000, produce, false, the at-least-once relay", c.Records, c.Kind, c.Transactional, c.Reference)
	}
	if sqlName("eosbench-123-group-4") != "eosbench_123_group_4" {
		t.Errorf("sqlName = %q", sqlName("eosbench-123-group-4"))
	}
}

func labels(ss []Side) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Label())
	}
	return out
}
