//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/verify"
)

// TestACLsCLIOnSecuredBroker: eosctl acls, connected as the super user over
// SASL_SSL, grants an application exactly the exactly-once ACLs; the
// application's exactly-once copy then runs and verifies. A revoked ACL
// shows in plan and apply restores it; a wrong password is an
// authentication error.
func TestACLsCLIOnSecuredBroker(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(1), integration.WithSASLSSL(), integration.WithAuthorizer())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := write("ca.pem", must(c.CAPEM()))
	adminPW := write("admin-pw", []byte(must(c.AdminPassword())+"\n"))
	conn := []string{"--brokers", strings.Join(c.SASLBootstrap(), ","), "--tls-ca", ca,
		"--sasl-user", integration.AdminUser, "--sasl-password-file", adminPW, "--timeout", "60s"}

	super, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	if _, err := kadm.NewClient(super).CreateTopics(ctx, 2, 1, nil, "cli-in", "cli-out"); err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for i := range 100 {
		rs = append(rs, &kgo.Record{Topic: "cli-in", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := super.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateSCRAMUser(ctx, "cli-app", "cli-app-secret"); err != nil {
		t.Fatal(err)
	}

	access := []string{"--principal", "User:cli-app", "--group", "cli-g", "--txn-id-prefix", "cli-tx-", "--from", "cli-in", "--to", "cli-out"}
	acls := func(sub string, extra ...string) result {
		t.Helper()
		args := append([]string{"acls", sub}, extra...)
		if sub != "describe" {
			args = append(args, access...)
		}
		return run(t, "", append(args, conn...)...)
	}
	if r := acls("plan", "--detailed-exitcode"); r.code != exitPending || !strings.Contains(r.stdout, "7 to create, 0 already granted") {
		t.Fatalf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := acls("apply", "--yes", "-o", "json")
	var applied aclPlanJSON
	if err := json.Unmarshal([]byte(r.stdout), &applied); err != nil || r.code != exitOK || applied.Summary.Create != 7 {
		t.Fatalf("apply: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	settled := func(wantCode int) {
		t.Helper()
		for acls("plan", "--detailed-exitcode").code != wantCode {
			if ctx.Err() != nil {
				t.Fatalf("ACLs did not settle to plan exit %d", wantCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	settled(exitOK)
	r = acls("describe", "--principal", "User:cli-app", "-o", "json")
	var desc aclsJSON
	if err := json.Unmarshal([]byte(r.stdout), &desc); err != nil || len(desc.ACLs) != 7 {
		t.Fatalf("describe: exit %d %v %s", r.code, err, r.stdout)
	}

	// The application, with exactly these ACLs, copies exactly once.
	tc, err := c.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	appConn := eoskit.Conn{Brokers: c.SASLBootstrap(), TLS: tc, SASL: scram.Auth{User: "cli-app", Pass: "cli-app-secret"}.AsSha512Mechanism()}
	p, err := txn.New(appConn, txn.Copy("cli-out"),
		txn.WithGroup("cli-g"), txn.WithTopics("cli-in"), txn.WithTransactionalID("cli-tx-0"), txn.WithStartOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	for p.Stats().RecordsIn < 100 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil || p.Stats().RecordsIn != 100 {
		t.Fatalf("copy as User:cli-app: %v, stats %+v", err, p.Stats())
	}
	rep, err := verify.Run(ctx, eoskit.Conn{Brokers: c.Bootstrap()}, verify.Config{Input: []string{"cli-in"}, Output: []string{"cli-out"}, Identity: true})
	if err != nil || !rep.OK() || rep.Counts.OutputRecords != 100 {
		t.Fatalf("verify: %v\n%s", err, rep)
	}

	// Revoke the transactional ID's WRITE: plan shows it, apply restores it.
	del := kadm.NewACLs().Allow("User:cli-app").AllowHosts("*").TransactionalIDs("cli-tx-").
		ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite)
	if _, err := kadm.NewClient(super).DeleteACLs(ctx, del); err != nil {
		t.Fatal(err)
	}
	settled(exitPending)
	if r := acls("plan"); !strings.Contains(r.stdout, "+ create TRANSACTIONAL_ID cli-tx-*") || !strings.Contains(r.stdout, "1 to create, 6 already granted") {
		t.Fatalf("plan after the revocation:\n%s", r.stdout)
	}
	// eosctl copy as the application now stops at once (no retry loop)
	// naming the denial and the command that grants it.
	appPW := write("app-pw", []byte("cli-app-secret\n"))
	r = run(t, "", "copy", "--from", "cli-in", "--to", "cli-out", "--group", "cli-g", "--txn-id", "cli-tx-1",
		"--brokers", strings.Join(c.SASLBootstrap(), ","), "--tls-ca", ca, "--sasl-user", "cli-app", "--sasl-password-file", appPW)
	if r.code != exitFailed || !strings.Contains(r.stderr, `may not WRITE TRANSACTIONAL_ID "cli-tx-1"`) ||
		!strings.Contains(r.stderr, "eosctl acls apply --principal User:cli-app --group cli-g --txn-id cli-tx-1 --from cli-in --to cli-out --yes") {
		t.Fatalf("copy without the transactional ID's WRITE: exit %d\nstderr %s", r.code, r.stderr)
	}
	if r := acls("apply", "--yes"); r.code != exitOK {
		t.Fatalf("re-apply: exit %d %s", r.code, r.stderr)
	}
	settled(exitOK)

	// A wrong password is an authentication error, not a timeout.
	wrong := append([]string{}, conn...)
	wrong[len(wrong)-3] = write("wrong-pw", []byte("wrong\n"))
	r = run(t, "", append([]string{"acls", "describe", "--principal", "User:cli-app"}, wrong...)...)
	if r.code != exitFailed || !strings.Contains(r.stderr, "authentication failed: the brokers rejected User:admin") {
		t.Fatalf("wrong password: exit %d stderr %q", r.code, r.stderr)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
