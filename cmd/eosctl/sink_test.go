package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Usage errors of `eosctl sink postgres` exit 2 before touching a broker
// or a database, and say what to fix.
func TestSinkPostgresUsageErrors(t *testing.T) {
	base := []string{"sink", "postgres", "--brokers", "127.0.0.1:1", "--dsn", "postgres://u@127.0.0.1:1/d"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sink", "postgres", "--brokers", "127.0.0.1:1", "--from", "t"}, "missing [--group --dsn --table]"},
		{append(base, "--from", "t", "--group", "g", "--table", "bad name"), `table "bad name"`},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "--mode", "merge"), `--mode "merge": use append or upsert`},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "--start", "middle"), `--start "middle"`},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "-o", "yaml"), `--output "yaml"`},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "--max-batch-records", "0"), "WithMaxBatchRecords(0)"},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "--max-batch-bytes", "0"), "WithMaxBatchBytes(0)"},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "--log-format", "xml"), `--log-format "xml": use text or json`},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "--log-level", "loud"), `--log-level "loud"`},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "--metrics-addr", "9464"), `--metrics-addr "9464": use HOST:PORT`},
		{append(base, "--from", "t", "--group", "g", "--table", "t", "--metrics-addr", "127.0.0.1:0", "--metrics-linger", "-1s"), "--metrics-linger -1s"},
	} {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), c.args, strings.NewReader(""), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args[2:], code, errb.String(), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: stdout %q, want nothing", c.args[2:], out.String())
		}
	}
}
