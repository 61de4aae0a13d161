package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
)

func TestFlagHints(t *testing.T) {
	for fix, flag := range map[string]string{
		eoskit.FixCredentials: "--sasl-password-file", eoskit.FixMechanism: "--sasl-mechanism", eoskit.FixCA: "--tls-ca",
		eoskit.FixServerName: "--tls-server-name", eoskit.FixClientCert: "--tls-cert", eoskit.FixNotTLS: "--tls",
		eoskit.FixACL: "eosctl acls apply",
	} {
		if h := flagHint(&eoskit.AccessError{Fix: fix, Msg: "x"}); !strings.Contains(h, flag) {
			t.Errorf("Fix %q: hint %q does not name %s", fix, h, flag)
		}
	}
	if flagHint(errors.New("plain")) != "" {
		t.Error("a non-access error got a hint")
	}
	var out bytes.Buffer
	printErr(&out, conn.ExplainAuthError(kerr.SaslAuthenticationFailed, conn.Access{Principal: "User:u"}))
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "--sasl-user") {
		t.Fatalf("printed %q: want the library's line, then the flags", out.String())
	}
}

func TestGrantCommand(t *testing.T) {
	a := conn.Access{Principal: "User:app", Group: "g", TransactionalIDPrefix: "app-", Input: []string{"in"}, Output: []string{"out", "dlq"}}
	want := "eosctl acls apply --principal User:app --group g --txn-id-prefix app- --from in --to out,dlq --yes"
	if got := grantCommand(a); got != want {
		t.Fatalf("grantCommand = %q, want %q", got, want)
	}
	if got := grantCommand(conn.Access{TransactionalID: "x"}); got != "" {
		t.Fatalf("partial access gave %q", got)
	}
}
