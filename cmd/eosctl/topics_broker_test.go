//go:build integration

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/integration"
)

// TestTopicsCLIOnBroker runs eosctl topics end to end, in process, against a
// real one-broker cluster: exit codes and JSON output.
func TestTopicsCLIOnBroker(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(1))
	b := []string{"--brokers", c.BootstrapString(), "--timeout", "60s"}
	cli := func(stdin string, args ...string) result {
		t.Helper()
		return run(t, stdin, append(args, b...)...)
	}
	decode := func(r result, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			t.Fatalf("stdout is not JSON (%v): %q; stderr %q", err, r.stdout, r.stderr)
		}
	}
	f := writeFile(t, `topics:
  - name: cli-orders
    partitions: 3
    replicationFactor: 1
    minInsyncReplicas: 1
    configs:
      retention.ms: "3600000"
`)

	r := cli("", "topics", "plan", "-f", f, "--detailed-exitcode", "-o", "json")
	var plan struct {
		Topics         []admin.TopicPlan `json:"topics"`
		ChangesPending bool              `json:"changesPending"`
	}
	decode(r, &plan)
	if r.code != exitPending || !plan.ChangesPending || len(plan.Topics) != 1 || plan.Topics[0].Action != admin.ActionCreate {
		t.Fatalf("plan: exit %d %+v", r.code, plan)
	}

	if r := cli("", "topics", "apply", "-f", f); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("apply without --yes on a non-terminal: exit %d stderr %q", r.code, r.stderr)
	}
	if r := cli("", "topics", "describe", "cli-orders"); r.code != exitFailed {
		t.Fatalf("the refused apply created the topic: describe exit %d: %s", r.code, r.stdout)
	}

	r = cli("", "topics", "apply", "-f", f, "--yes", "-o", "json")
	var applied struct {
		Applied bool          `json:"applied"`
		Summary admin.Summary `json:"summary"`
	}
	decode(r, &applied)
	if r.code != exitOK || !applied.Applied || applied.Summary.Create != 1 {
		t.Fatalf("apply: exit %d %+v stderr %q", r.code, applied, r.stderr)
	}
	r = cli("", "topics", "plan", "-f", f, "--detailed-exitcode", "-o", "json")
	decode(r, &plan)
	if r.code != exitOK || plan.ChangesPending || plan.Topics[0].Action != admin.ActionNone {
		t.Fatalf("re-plan: exit %d %+v", r.code, plan)
	}

	r = cli("", "topics", "describe", "cli-orders", "-o", "json")
	var desc struct{ Topics []admin.TopicDescription }
	decode(r, &desc)
	if r.code != exitOK || len(desc.Topics) != 1 {
		t.Fatalf("describe: exit %d %s", r.code, r.stdout)
	}
	d := desc.Topics[0]
	if v, _ := d.Config("retention.ms"); v != "3600000" || len(d.Partitions) != 3 || d.ReplicationFactor != 1 || d.MinInsyncReplicas != 1 {
		t.Fatalf("described %+v", d)
	}

	// Invalid specs: exit 2, problems as JSON, cluster unchanged.
	for _, bad := range []struct{ yaml, want string }{
		{"topics:\n  - name: cli-orders\n    partitions: 2\n    replicationFactor: 1\n", "cannot remove partitions"},
		{"topics:\n  - name: cli-new\n    partitions: 1\n    replicationFactor: 3\n", "1 live brokers"},
		{"topics:\n  - name: cli-new\n    partitions: 1\n    replicationFactor: 1\n    configs:\n      retention.msx: \"1\"\n", "retention.msx"},
	} {
		r := cli("", "topics", "apply", "-f", writeFile(t, bad.yaml), "--yes", "-o", "json")
		var pj problemsJSON
		decode(r, &pj)
		if r.code != exitUsage || len(pj.Problems) != 1 || !strings.Contains(pj.Problems[0].Message, bad.want) {
			t.Errorf("invalid spec: exit %d %+v, want a problem naming %q", r.code, pj, bad.want)
		}
	}
	if r := cli("", "topics", "describe", "cli-new"); r.code != exitFailed {
		t.Fatalf("an invalid spec created a topic: exit %d", r.code)
	}

	// Lint: a one-broker cluster and an RF 1 topic are not exactly-once safe.
	r = cli("", "topics", "lint", "-o", "json")
	var lint lintJSON
	decode(r, &lint)
	checks := map[string]bool{}
	for _, f := range lint.Findings {
		checks[f.Topic+"/"+f.Check] = true
	}
	if r.code != exitFailed || !checks["cli-orders/"+admin.CheckReplicationFactor] || !checks["/"+admin.CheckTxnLogRF] {
		t.Fatalf("lint: exit %d findings %v", r.code, checks)
	}

	if r := cli("", "topics", "delete", "cli-orders"); r.code != exitUsage {
		t.Fatalf("delete without --yes: exit %d", r.code)
	}
	if r := cli("", "topics", "delete", "cli-orders", "--yes"); r.code != exitOK || r.stdout != "deleted cli-orders\n" {
		t.Fatalf("delete: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}
