//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/txn/verify"
)

// TestEOSCLIOnBroker runs eosctl verify (also with --history) and eosctl
// copy end to end, in process, against a real one-broker cluster: exit
// codes and JSON output.
func TestEOSCLIOnBroker(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(1))
	b := c.BootstrapString()
	n := fmt.Sprintf("cli-eos-%d", time.Now().UnixNano())
	seedCopy(t, b, n+"-in", n+"-dup", 1)
	seedCopy(t, b, n+"-in2", n+"-clean", -1)
	verifyArgs := func(in, out string, more ...string) []string {
		return append([]string{"verify", "--brokers", b, "--timeout", "60s", "--from", in, "--to", out}, more...)
	}

	r := run(t, "", verifyArgs(n+"-in", n+"-dup", "--order", "--output", "json")...)
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON (%v): %q; stderr %q", err, r.stdout, r.stderr)
	}
	if r.code != exitFailed || rep.OK() || rep.Counts.Duplicates != 1 || rep.Duplicates[0].Input.Offset != 1 || rep.Counts.OutputRecords != 5 {
		t.Fatalf("duplicate: exit %d report %+v", r.code, rep)
	}
	if r := run(t, "", verifyArgs(n+"-in2", n+"-clean", "--order", "--identity")...); r.code != exitOK || !strings.HasPrefix(r.stdout, "exactly-once check PASSED: 4 input records, 4 output records") {
		t.Fatalf("clean: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", verifyArgs(n+"-in", n+"-missing")...); r.code != exitUsage || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("unknown topic: exit %d stderr %q", r.code, r.stderr)
	}

	checkHistoryCLI(t, b, n+"-in2", n+"-clean")

	copyAndVerify(t, b, n+"-src", n+"-dst", n+"-copiers")
}
