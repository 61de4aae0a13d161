package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/eoskit/eoskit/postgres/outbox"
)

// Usage errors of `eosctl outbox` exit 2 before touching a broker or a
// database, print nothing on stdout, and say what to fix.
func TestOutboxUsageErrors(t *testing.T) {
	dsn := "postgres://u@127.0.0.1:1/d"
	relay := []string{"outbox", "relay", "--brokers", "127.0.0.1:1", "--dsn", dsn, "--slot", "s"}
	status := []string{"outbox", "status", "--brokers", "127.0.0.1:1", "--dsn", dsn, "--slot", "s"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"outbox", "relay", "--brokers", "127.0.0.1:1", "--dsn", ""}, "missing [--dsn --slot]: outbox relay needs --dsn and --slot"},
		{[]string{"outbox", "relay", "--brokers", "127.0.0.1:1", "--dsn", dsn}, "missing [--slot]"},
		{[]string{"outbox", "status", "--brokers", "127.0.0.1:1", "--dsn", dsn}, "missing [--slot]: outbox status needs --dsn and --slot"},
		{[]string{"outbox", "init", "--dsn", ""}, "missing [--dsn]: outbox init needs --dsn"},
		{append(relay, "-o", "yaml"), `--output "yaml": use table or json`},
		{append(status, "-o", "yaml"), `--output "yaml": use table or json`},
		{append(relay, "--log-format", "xml"), `--log-format "xml": use text or json`},
		{append(relay, "--log-level", "loud"), `--log-level "loud"`},
		{append(relay, "--metrics-addr", "nowhere"), `--metrics-addr "nowhere": use HOST:PORT`},
		{[]string{"outbox", "relay", "--brokers", "", "--dsn", dsn, "--slot", "s"}, "--brokers"},
		{append(relay, "--unknown-flag"), "unknown flag: --unknown-flag"},
		{append(relay, "extra-arg"), `unknown command "extra-arg"`},
	} {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), c.args, strings.NewReader(""), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args[1:], code, errb.String(), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: stdout %q, want nothing", c.args[1:], out.String())
		}
	}
}

// Problems in the options' values are the library's (*eoskit.OptionError),
// all reported at once, exit 2, before any connection.
func TestOutboxOptionErrors(t *testing.T) {
	args := []string{"outbox", "relay", "--brokers", "127.0.0.1:1", "--dsn", "postgres://u@127.0.0.1:1/d",
		"--slot", "bad-slot!", "--max-txn-messages", "-1"}
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, strings.NewReader(""), &out, &errb)
	if code != exitUsage {
		t.Fatalf("exit %d, want 2; stderr %q", code, errb.String())
	}
	for _, want := range []string{"bad-slot!", "-1"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr %q does not name %q", errb.String(), want)
		}
	}
}

// init --print-sql prints the DDL of the named table and publication and
// touches no database; init against a database that does not answer
// fails with exit 1.
func TestOutboxInit(t *testing.T) {
	var out, errb bytes.Buffer
	code := Execute(context.Background(), []string{"outbox", "init", "--print-sql", "--table", "orders_outbox", "--publication", "orders_pub"},
		strings.NewReader(""), &out, &errb)
	if code != exitOK {
		t.Fatalf("--print-sql: exit %d, stderr %q", code, errb.String())
	}
	for _, want := range []string{"CREATE TABLE", "orders_outbox", "CREATE PUBLICATION", "orders_pub", "jsonb"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--print-sql output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	code = Execute(context.Background(), []string{"outbox", "init", "--dsn", "postgres://u@127.0.0.1:1/d?connect_timeout=2", "--timeout", "5s"},
		strings.NewReader(""), &out, &errb)
	if code != exitFailed || !strings.Contains(errb.String(), "eosctl: ") {
		t.Errorf("init on a closed port: exit %d, stderr %q; want exit 1 and the error", code, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want nothing", out.String())
	}
}

// The status's JSON has the LSNs as PostgreSQL writes them, the stored
// position (null when none) and its age in seconds; the table shows the
// same figures.
func TestOutboxStatusOutput(t *testing.T) {
	lsn := func(s string) pglogrepl.LSN {
		l, err := pglogrepl.ParseLSN(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	st := outbox.Status{Slot: "orders", Active: true, ActivePID: 4242, WALStatus: "reserved",
		CurrentLSN: lsn("0/3000100"), RestartLSN: lsn("0/2000000"), ConfirmedFlushLSN: lsn("0/3000000"),
		RetainedWALBytes: 0x1000100, LagBytes: 0x100,
		Position: outbox.Position{LSN: lsn("0/2FFFF00"), Index: 3, Complete: true, At: at}, HasPosition: true, PositionAge: 90 * time.Second}
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: io.Discard}
	if err := printOutboxStatus(e, "json", st); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	want := map[string]any{"slot": "orders", "active": true, "active_pid": 4242.0, "wal_status": "reserved",
		"current_lsn": "0/3000100", "restart_lsn": "0/2000000", "confirmed_flush_lsn": "0/3000000",
		"retained_wal_bytes": float64(0x1000100), "lag_bytes": 256.0, "position_age_seconds": 90.0,
		"position": map[string]any{"lsn": "0/2FFFF00", "index": 3.0, "complete": true, "at": "2026-12-02T01:00:00Z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status JSON:\n got %v\nwant %v", got, want)
	}
	out.Reset()
	if err := printOutboxStatus(e, "table", st); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"yes (pid 4242)", "0/3000000", "0/2FFFF00#3", "16777472 bytes", "256 bytes", "1m30s"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("status table lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := printOutboxStatus(e, "json", outbox.Status{Slot: "new"}); err != nil {
		t.Fatal(err)
	}
	got = nil
	_ = json.Unmarshal(out.Bytes(), &got)
	if got["position"] != nil || got["position_age_seconds"] != nil {
		t.Errorf("no stored position: JSON %s, want position and its age null", out.String())
	}
}
