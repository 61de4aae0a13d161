package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eoskit/eoskit/admin"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/topics")

// golden compares got with testdata/topics/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "topics", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "topics", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes eosctl in-process with stdin.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runIn(t, strings.NewReader(stdin), args...)
}

func runIn(t *testing.T, stdin interface{ Read([]byte) (int, error) }, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, stdin, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// terminal is a stdin that claims to be a terminal.
type terminal struct{ *strings.Reader }

func (terminal) IsTerminal() bool { return true }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "topics.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fakeBrokers(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

const ordersYAML = `topics:
  - name: orders
    partitions: 3
    replicationFactor: 3
    minInsyncReplicas: 2
    configs:
      retention.ms: "604800000"
  - name: audit
    partitions: 1
    replicationFactor: 3
`

func TestTopicsUsageErrors(t *testing.T) {
	bad := writeFile(t, "topics:\n  - name: a\n    partitions: 1\n    replicas: 3\n")
	invalid := writeFile(t, "topics:\n  - name: a\n    partitions: 0\n    replicationFactor: 2\n    minInsyncReplicas: 3\n")
	cases := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"plan without -f", []string{"topics", "plan"}, []string{"-f is required"}},
		{"unknown field", []string{"topics", "plan", "-f", bad}, []string{"line 4", "replicas"}},
		{"invalid spec before any broker", []string{"topics", "plan", "-f", invalid, "--brokers", "127.0.0.1:1"}, []string{"line 2: topic a: partitions", "minInsyncReplicas"}},
		{"missing file", []string{"topics", "apply", "-f", "/nonexistent/topics.yaml"}, []string{"open topics file"}},
		{"bad output", []string{"topics", "describe", "--output", "xml"}, []string{"--output \"xml\""}},
		{"bad brokers", []string{"topics", "describe", "--brokers", "nohost"}, []string{"is not host:port"}},
		{"delete without --yes", []string{"topics", "delete", "orders"}, []string{"pass --yes"}},
		{"delete nothing", []string{"topics", "delete", "--yes"}, []string{"requires at least 1 arg"}},
		{"offline without file", []string{"topics", "lint", "--offline"}, []string{"pass -f"}},
		{"unknown flag", []string{"topics", "plan", "--nope"}, []string{"unknown flag"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, "", c.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", r.code, exitUsage, r.stderr)
			}
			for _, w := range c.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not contain %q", r.stderr, w)
				}
			}
		})
	}
}

func TestTopicsInvalidSpecJSON(t *testing.T) {
	invalid := writeFile(t, "topics:\n  - name: a\n    partitions: 0\n    replicationFactor: 2\n    minInsyncReplicas: 3\n")
	r := run(t, "", "topics", "plan", "-f", invalid, "--brokers", "127.0.0.1:1", "-o", "json")
	if r.code != exitUsage {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "invalid.json", []byte(r.stdout))
}

func TestTopicsLintOffline(t *testing.T) {
	f := writeFile(t, `topics:
  - name: safe
    partitions: 1
  - name: weak
    partitions: 1
    replicationFactor: 2
    minInsyncReplicas: 2
  - name: unsafe
    partitions: 1
    replicationFactor: 1
    configs:
      unclean.leader.election.enable: "true"
`)
	r := run(t, "", "topics", "lint", "--offline", "-f", f)
	if r.code != exitFailed {
		t.Fatalf("exit %d, want 1 (errors found): %s", r.code, r.stderr)
	}
	golden(t, "lint.txt", []byte(r.stdout))
	r = run(t, "", "topics", "lint", "--offline", "-f", f, "-o", "json")
	golden(t, "lint.json", []byte(r.stdout))

	safe := writeFile(t, "topics:\n  - name: safe\n    partitions: 1\n")
	if r := run(t, "", "topics", "lint", "--offline", "-f", safe); r.code != exitOK || r.stdout != "0 errors, 0 warnings.\n" {
		t.Fatalf("safe lint: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestTopicsFlow runs plan, apply, describe and delete against kfake.
func TestTopicsFlow(t *testing.T) {
	brokers := fakeBrokers(t)
	f := writeFile(t, ordersYAML)
	b := []string{"--brokers", brokers}

	r := run(t, "", append([]string{"topics", "plan", "-f", f, "--detailed-exitcode"}, b...)...)
	if r.code != exitPending {
		t.Fatalf("plan exit %d, want 3: %s", r.code, r.stderr)
	}
	golden(t, "plan-create.txt", []byte(r.stdout))
	r = run(t, "", append([]string{"topics", "plan", "-f", f, "-o", "json"}, b...)...)
	if r.code != exitOK {
		t.Fatalf("plan without --detailed-exitcode: exit %d", r.code)
	}
	golden(t, "plan-create.json", []byte(r.stdout))

	// Specs on stdin.
	if r := run(t, ordersYAML, append([]string{"topics", "plan", "-f", "-", "--detailed-exitcode"}, b...)...); r.code != exitPending || r.stdout != mustRead(t, "plan-create.txt") {
		t.Fatalf("plan -f -: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// Specs on stdin cannot be confirmed on stdin.
	if r := runIn(t, terminal{strings.NewReader(ordersYAML)}, append([]string{"topics", "apply", "-f", "-"}, b...)...); r.code != exitUsage {
		t.Fatalf("apply -f - without --yes: exit %d stderr %q", r.code, r.stderr)
	}
	// Not a terminal and no --yes: refuse, change nothing.
	r = run(t, "", append([]string{"topics", "apply", "-f", f}, b...)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("apply without --yes: exit %d stderr %q", r.code, r.stderr)
	}
	// A terminal that answers no.
	r = runIn(t, terminal{strings.NewReader("no\n")}, append([]string{"topics", "apply", "-f", f}, b...)...)
	if r.code != exitFailed || !strings.Contains(r.stderr, "cancelled") {
		t.Fatalf("apply answered no: exit %d stderr %q", r.code, r.stderr)
	}
	if r := run(t, "", append([]string{"topics", "plan", "-f", f, "--detailed-exitcode"}, b...)...); r.code != exitPending {
		t.Fatalf("refused applies must change nothing: plan exit %d", r.code)
	}
	// A terminal that answers yes.
	r = runIn(t, terminal{strings.NewReader("yes\n")}, append([]string{"topics", "apply", "-f", f}, b...)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "Applied: 2 created, 0 updated, 0 unchanged.") {
		t.Fatalf("apply: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, "", append([]string{"topics", "plan", "-f", f, "--detailed-exitcode"}, b...)...)
	if r.code != exitOK {
		t.Fatalf("re-plan: exit %d, want 0: %s", r.code, r.stdout)
	}
	golden(t, "plan-noop.txt", []byte(r.stdout))

	// Change one config and add partitions, apply with --yes as JSON.
	changed := writeFile(t, strings.Replace(strings.Replace(ordersYAML, "604800000", "86400000", 1), "partitions: 3", "partitions: 4", 1))
	r = run(t, "", append([]string{"topics", "apply", "-f", changed, "--yes", "-o", "json"}, b...)...)
	if r.code != exitOK {
		t.Fatalf("apply change: exit %d: %s", r.code, r.stderr)
	}
	golden(t, "apply-update.json", []byte(r.stdout))

	r = run(t, "", append([]string{"topics", "describe", "orders", "-o", "json"}, b...)...)
	var d struct{ Topics []admin.TopicDescription }
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != exitOK || len(d.Topics) != 1 {
		t.Fatalf("describe: exit %d %v: %s", r.code, err, r.stdout)
	}
	if v, _ := d.Topics[0].Config("retention.ms"); v != "86400000" || len(d.Topics[0].Partitions) != 4 {
		t.Fatalf("described %+v", d.Topics[0])
	}
	if r := run(t, "", append([]string{"topics", "describe", "orders", "missing"}, b...)...); r.code != exitFailed || !strings.Contains(r.stdout, "orders") || !strings.Contains(r.stderr, "missing") {
		t.Fatalf("describe with a missing topic: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	r = run(t, "", append([]string{"topics", "delete", "orders", "audit", "--yes", "-o", "json"}, b...)...)
	if r.code != exitOK || r.stdout != "{\n  \"deleted\": [\n    \"orders\",\n    \"audit\"\n  ]\n}\n" {
		t.Fatalf("delete: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", append([]string{"topics", "delete", "orders", "--yes"}, b...)...); r.code != exitFailed {
		t.Fatalf("delete of a missing topic: exit %d", r.code)
	}
}

func TestDescribeTableGolden(t *testing.T) {
	ds := []admin.TopicDescription{{
		Topic: "orders", ID: "AAAAAAAAAAAAAAAAAAAAAA", ReplicationFactor: 3, MinInsyncReplicas: 2,
		Partitions: []admin.PartitionStatus{
			{Partition: 0, Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}},
			{Partition: 1, Leader: 2, Replicas: []int32{2, 3, 1}, ISR: []int32{2, 1}, UnderReplicated: true},
			{Partition: 2, Leader: 3, Replicas: []int32{3, 1, 2}, ISR: []int32{3}, UnderReplicated: true, UnderMinISR: true},
			{Partition: 3, Leader: -1, Replicas: []int32{2}, ISR: []int32{}, UnderReplicated: true, UnderMinISR: true, Error: "LEADER_NOT_AVAILABLE"},
		},
		Configs: []admin.ConfigValue{
			{Key: "cleanup.policy", Value: "delete", Source: "DEFAULT_CONFIG"},
			{Key: "min.insync.replicas", Value: "2", Source: "DYNAMIC_TOPIC_CONFIG"},
			{Key: "retention.ms", Value: "604800000", Source: "DYNAMIC_TOPIC_CONFIG"},
		},
	}}
	var b bytes.Buffer
	if err := writeDescribeTable(&b, ds, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "describe.txt", b.Bytes())
}
