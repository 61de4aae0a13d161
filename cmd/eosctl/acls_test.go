package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// aclGolden compares got with testdata/acls/name, or rewrites it with -update.
func aclGolden(t *testing.T, name, got string) {
	t.Helper()
	golden(t, filepath.Join("..", "acls", name), []byte(got))
}

// fakeSecured returns kfake brokers enforcing ACLs and the flags to connect
// as its super user.
func fakeSecured(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "root", "root-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("root-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--brokers", strings.Join(c.ListenAddrs(), ","), "--sasl-user", "root",
		"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-password-file", pw, "--timeout", "20s"}
}

var appACLFlags = []string{"--principal", "User:app", "--group", "g", "--txn-id-prefix", "app-",
	"--from", "in", "--to", "out", "--dead-letter", "dlq"}

func TestACLsPlanApplyDescribeOnKfake(t *testing.T) {
	conn := fakeSecured(t)
	cli := func(args ...string) result {
		t.Helper()
		return run(t, "", append(args, conn...)...)
	}
	cmd := func(sub string, extra ...string) []string {
		return append(append([]string{"acls", sub}, appACLFlags...), extra...)
	}

	r := cli(cmd("plan", "--detailed-exitcode")...)
	if r.code != exitPending {
		t.Fatalf("plan: exit %d, stderr %q", r.code, r.stderr)
	}
	aclGolden(t, "plan-create.txt", r.stdout)

	if r := cli(cmd("apply")...); r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("apply without --yes on a non-terminal: exit %d stderr %q", r.code, r.stderr)
	}
	if r := cli("acls", "describe", "--principal", "User:app"); r.code != exitOK || r.stdout != "User:app has no ACLs.\n" {
		t.Fatalf("the refused apply created ACLs: exit %d %q", r.code, r.stdout)
	}

	r = cli(cmd("apply", "--yes", "-o", "json")...)
	var applied aclPlanJSON
	if err := json.Unmarshal([]byte(r.stdout), &applied); err != nil || r.code != exitOK {
		t.Fatalf("apply: exit %d %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if !applied.Applied || applied.ChangesPending || applied.Summary.Create != 9 || len(applied.ACLs) != 9 {
		t.Fatalf("apply JSON: %+v", applied)
	}

	r = cli(cmd("plan", "--detailed-exitcode")...)
	if r.code != exitOK {
		t.Fatalf("re-plan: exit %d, stderr %q", r.code, r.stderr)
	}
	aclGolden(t, "plan-noop.txt", r.stdout)
	if r := cli(cmd("apply", "--yes")...); r.code != exitOK || !strings.Contains(r.stdout, "0 to create, 9 already granted") {
		t.Fatalf("apply twice: exit %d %q", r.code, r.stdout)
	}

	r = cli("acls", "describe", "--principal", "User:app")
	if r.code != exitOK {
		t.Fatalf("describe: exit %d %q", r.code, r.stderr)
	}
	aclGolden(t, "describe.txt", r.stdout)
	r = cli("acls", "describe", "--principal", "User:app", "-o", "json")
	var desc aclsJSON
	if err := json.Unmarshal([]byte(r.stdout), &desc); err != nil || len(desc.ACLs) != 9 || desc.Principal != "User:app" {
		t.Fatalf("describe JSON: %v %+v", err, desc)
	}
}

func TestACLsUsageErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no principal", []string{"acls", "plan", "--group", "g", "--txn-id", "x", "--from", "a", "--to", "b"}, "User:name"},
		{"both txn flags", append(append([]string{"acls", "plan"}, appACLFlags...), "--txn-id", "x"), "not both"},
		{"no output", []string{"acls", "apply", "--principal", "User:a", "--group", "g", "--txn-id", "x", "--from", "a", "--yes"}, "no output topics"},
		{"bad output format", append(append([]string{"acls", "plan"}, appACLFlags...), "-o", "yaml"), "--output"},
		{"describe without principal", []string{"acls", "describe"}, "User:name"},
	} {
		// Invalid requests fail before any connection: no broker listens on port 1.
		r := run(t, "", append(c.args, "--brokers", "127.0.0.1:1")...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d stderr %q, want exit 2 naming %q", c.name, r.code, r.stderr, c.want)
		}
	}
}

// TestACLsDeniedToNonAdmin: a principal that may not manage ACLs gets a
// message saying so.
func TestACLsDeniedToNonAdmin(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "root", "x"), kfake.User("SCRAM-SHA-512", "app", "app-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	t.Setenv(envSASLPassword, "app-secret")
	r := run(t, "", append([]string{"acls", "plan", "--brokers", strings.Join(c.ListenAddrs(), ","), "--sasl-user", "app",
		"--sasl-mechanism", "SCRAM-SHA-512", "--timeout", "20s"}, appACLFlags...)...)
	if r.code != exitFailed || !strings.Contains(r.stderr, "User:app may not manage ACLs") {
		t.Fatalf("plan as a non-admin: exit %d stderr %q", r.code, r.stderr)
	}
}
