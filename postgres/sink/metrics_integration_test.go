//go:build integration

package sink_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eoskit/eoskit/integration"
)

// family finds one series of a gathered metric family whose labels
// include match (k=v pairs); nil when there is none.
func family(mfs map[string]*dto.MetricFamily, name string, match ...string) *dto.Metric {
	for _, m := range mfs[name].GetMetric() {
		ok := true
		for _, kv := range match {
			k, want, _ := strings.Cut(kv, "=")
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == k && l.GetValue() == want
			}
			ok = ok && found
		}
		if ok {
			return m
		}
	}
	return nil
}

// gathered is a registry's families by name.
func gathered(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

var servingRe = regexp.MustCompile(`serving http://([^/\s]+)/metrics`)

// TestEosctlSinkMetrics: `eosctl sink postgres --metrics-addr` sinks N
// records; /metrics then counts N rows in committed batches (with their
// commit durations), the mirrored group lag falls to 0, /readyz is 200,
// and SIGTERM prints the same counters as JSON and exits 0.
func TestEosctlSinkMetrics(t *testing.T) {
	const n = 1200
	ctx := integration.Context(t, 4*time.Minute)
	bin := filepath.Join(t.TempDir(), "eosctl")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/eosctl").CombinedOutput(); err != nil {
		t.Fatalf("go build eosctl: %v\n%s", err, out)
	}
	topic, group, table := integration.UniqueName(t, "in"), integration.UniqueName(t, "g"), tableName(t)
	pool := newPool(t, ctx)
	createTopic(t, ctx, topic, 3)
	produce(t, ctx, topic, n)

	var stdout bytes.Buffer // read after Wait
	cmd := exec.Command(bin, "sink", "postgres", "--brokers", strings.Join(shared.Bootstrap(), ","),
		"--from", topic, "--group", group, "--dsn", pg.DSN(), "--table", table, "--max-batch-records", "100",
		"--metrics-addr", "127.0.0.1:0", "--log-format", "json", "--log-level", "info", "--output", "json", "--session-timeout", "6s")
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); done <- err }()
	var stderr []string // the scanner's until scanned is closed
	scanned := make(chan struct{})
	defer func() {
		_ = cmd.Process.Kill()
		<-scanned
		if t.Failed() {
			t.Logf("eosctl stderr:\n%s", strings.Join(stderr, "\n"))
		}
	}()
	addr := make(chan string, 1)
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			stderr = append(stderr, sc.Text())
			if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-ctx.Done():
		t.Fatal("eosctl never served /metrics")
	}
	if got, err := waitRows(ctx, pool, table, n); err != nil || got != n {
		t.Fatalf("table %s: %d rows (%v), want %d", table, got, err, n)
	}
	scrape := func() map[string]*dto.MetricFamily {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		return mfs
	}
	// The lag gauge reads the mirrored offsets, which follow the commits
	// asynchronously.
	var mfs map[string]*dto.MetricFamily
	lag := func() float64 {
		var v float64
		for _, m := range mfs["eoskit_lag_to_lso_records"].GetMetric() {
			v += m.GetGauge().GetValue()
		}
		return v
	}
	waitFor(t, ctx, "the mirrored lag to reach 0", func() bool {
		mfs = scrape()
		return len(mfs["eoskit_lag_to_lso_records"].GetMetric()) == 3 && lag() == 0
	})
	rows := family(mfs, "eoskit_txn_records").GetHistogram()
	committed := family(mfs, "eoskit_txn_committed_total").GetCounter().GetValue()
	total := family(mfs, "eoskit_txn_end_duration_seconds", "phase=total").GetHistogram()
	switch {
	case rows.GetSampleSum() != n:
		t.Errorf("eoskit_txn_records_sum %v, want %d (rows committed)", rows.GetSampleSum(), n)
	case committed < n/100 || float64(rows.GetSampleCount()) != committed || float64(total.GetSampleCount()) != committed:
		t.Errorf("%v batches committed, %d in eoskit_txn_records, %d commit durations; want at least %d and all equal", committed, rows.GetSampleCount(), total.GetSampleCount(), n/100)
	case total.GetSampleSum() <= 0:
		t.Errorf("batch commit durations sum to %v s", total.GetSampleSum())
	case family(mfs, "eoskit_records_in_total").GetCounter().GetValue() != n:
		t.Errorf("eoskit_records_in_total %v, want %d", family(mfs, "eoskit_records_in_total").GetCounter().GetValue(), n)
	case family(mfs, "eoskit_txn_aborted_total", "reason=rebalance").GetCounter().GetValue() != 0:
		t.Errorf("fence refusals counted in a run without a competitor")
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz %d %q, want 200", resp.StatusCode, body)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("eosctl after SIGTERM: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("eosctl did not stop after SIGTERM")
	}
	var st map[string]int64
	if err := json.Unmarshal([]byte(stdout.String()), &st); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	if st["records"] != n || float64(st["batches"]) != committed || st["fence_refusals"] != 0 {
		t.Errorf("stats %v, want %d records in %v batches, no refusal", st, n, committed)
	}
	t.Logf("eosctl sink postgres: %d rows in %v batches, commit p-avg %.1f ms", n, committed, 1000*total.GetSampleSum()/float64(total.GetSampleCount()))
}
