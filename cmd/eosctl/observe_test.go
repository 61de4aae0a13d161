package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eoskit/eoskit"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestObserveServesMetricsHealthReady(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr}
	o := observeFlags{metricsAddr: "127.0.0.1:0", logFormat: "json", logLevel: "info"}
	ob, err := o.start(context.Background(), e, observeScope{conn: eoskit.Conn{Brokers: c.ListenAddrs()}, group: "g", txnID: "copy-0", topics: []string{"in"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.stop()
	if !strings.Contains(stderr.String(), "http://"+ob.addr+"/metrics") {
		t.Fatalf("stderr %q does not name the metrics address %s", stderr.String(), ob.addr)
	}
	base := "http://" + ob.addr
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "not ready") {
		t.Fatalf("/readyz before any event: %d %q, want 503", code, body)
	}
	for _, h := range ob.hooks {
		if x, ok := h.(eoskit.HookSessionStart); ok {
			x.OnSessionStart(eoskit.SessionStart{TransactionalID: "copy-0"})
		}
		if x, ok := h.(eoskit.HookAssigned); ok {
			x.OnAssigned(eoskit.Assignment{Group: "g", Partitions: map[string][]int32{"in": {0}}})
		}
		if x, ok := h.(eoskit.HookTxnEnd); ok {
			x.OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnCommitted, Records: 3})
		}
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz after assignment and session start: %d %q, want 200", code, body)
	}
	code, body := get(t, base+"/metrics")
	for _, want := range []string{
		`eoskit_txn_committed_total{group="g",txn_id="copy-0"} 1`,
		`eoskit_assigned_partitions{group="g",txn_id="copy-0"} 1`,
		`eoskit_lag_up{group="g"} 1`,
		`go_goroutines`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("/metrics (%d) lacks %q:\n%s", code, want, body)
		}
	}
	ob.hooks[1].(eoskit.HookTxnEnd).OnTxnEnd(eoskit.TxnEnd{Outcome: eoskit.TxnFenced})
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "fenced") {
		t.Fatalf("/readyz after fencing: %d %q, want 503 fenced", code, body)
	}
	ob.logger.Info("hello", eoskit.LogKeyTxnID, "copy-0")
	if !strings.Contains(stderr.String(), `"txn_id":"copy-0"`) {
		t.Fatalf("--log-format json: stderr %q", stderr.String())
	}
	ob.stop()
	ob.stop = func() {}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("/healthz still answers after stop")
	}
}

func TestObserveFlagErrors(t *testing.T) {
	e := &env{stdout: io.Discard, stderr: io.Discard}
	for _, o := range []observeFlags{
		{logFormat: "xml", logLevel: "info"},
		{logFormat: "text", logLevel: "loud"},
		{logFormat: "text", logLevel: "info", metricsAddr: "9464"},
		{logFormat: "text", logLevel: "info", metricsAddr: "127.0.0.1:0", linger: -time.Second},
	} {
		_, err := o.start(context.Background(), e, observeScope{conn: eoskit.Conn{Brokers: []string{"127.0.0.1:1"}}, group: "g"})
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage {
			t.Errorf("%+v: err %v, want a usage error", o, err)
		}
	}
	// Off by default: no server, no hooks, a silent-level logger.
	ob, err := (&observeFlags{logFormat: "text", logLevel: "warn"}).start(context.Background(), e, observeScope{})
	if err != nil || len(ob.hooks) != 0 || ob.addr != "" || ob.logger.Enabled(context.Background(), -4) {
		t.Fatalf("without --metrics-addr: %+v %v", ob, err)
	}
	cmd := &cobra.Command{}
	var o observeFlags
	o.register(cmd)
	for _, f := range []string{"metrics-addr", "metrics-linger", "log-format", "log-level"} {
		if cmd.Flags().Lookup(f) == nil {
			t.Errorf("flag --%s not registered", f)
		}
	}
}

// TestObserveLinger: with --metrics-linger, stop keeps serving (/readyz
// says stopped) before it shuts the server down.
func TestObserveLinger(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := &env{stdout: io.Discard, stderr: io.Discard}
	o := observeFlags{metricsAddr: "127.0.0.1:0", linger: 500 * time.Millisecond, logFormat: "text", logLevel: "warn"}
	ob, err := o.start(context.Background(), e, observeScope{conn: eoskit.Conn{Brokers: c.ListenAddrs()}, group: "g", txnID: "copy-0"})
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { ob.stop(); close(stopped) }()
	base := "http://" + ob.addr
	for {
		code, body := get(t, base+"/readyz")
		if code == 503 && strings.Contains(body, "stopped") {
			break
		}
		if code != 503 {
			t.Fatalf("/readyz while stopping: %d %q", code, body)
		}
	}
	if code, _ := get(t, base+"/metrics"); code != 200 {
		t.Fatalf("/metrics while lingering: %d", code)
	}
	<-stopped
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("/healthz still answers after the linger")
	}
}
