package conn

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eoskit/eoskit"
)

func TestExplainAuthError(t *testing.T) {
	a := Access{Principal: "User:app", Group: "g", TransactionalIDPrefix: "app-", Input: []string{"in"}, Output: []string{"out"}}
	for _, c := range []struct {
		err  error
		kind error
		fix  string
		want []string
	}{
		{fmt.Errorf("init: %w", kerr.TransactionalIDAuthorizationFailed), eoskit.ErrAuthorization, eoskit.FixACL,
			[]string{`User:app may not WRITE TRANSACTIONAL_ID "app-*"`, "admin.EOSACLs"}},
		{fmt.Errorf(`topic "out" partition 0: %w`, kerr.TopicAuthorizationFailed), eoskit.ErrAuthorization, eoskit.FixACL,
			[]string{`may not WRITE TOPIC "out"`}},
		{fmt.Errorf(`topic "in": %w`, kerr.TopicAuthorizationFailed), eoskit.ErrAuthorization, eoskit.FixACL, []string{`may not READ TOPIC "in"`}},
		{kerr.GroupAuthorizationFailed, eoskit.ErrAuthorization, eoskit.FixACL, []string{`may not READ GROUP "g"`}},
		{kerr.ClusterAuthorizationFailed, eoskit.ErrAuthorization, eoskit.FixACL, []string{"IDEMPOTENT_WRITE", "CLUSTER"}},
		{fmt.Errorf("ping: %w", kerr.SaslAuthenticationFailed), eoskit.ErrAuthentication, eoskit.FixCredentials, []string{"authentication failed", "User:app", "password"}},
		{x509.UnknownAuthorityError{Cert: &x509.Certificate{Issuer: pkix.Name{CommonName: "test CA"}}}, eoskit.ErrTLS, eoskit.FixCA,
			[]string{`signed by "CN=test CA"`, "RootCAs"}},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, eoskit.ErrTLS, eoskit.FixNotTLS, []string{"not a TLS listener"}},
		{errors.New("remote error: tls: certificate required"), eoskit.ErrTLS, eoskit.FixClientCert, []string{"client certificate"}},
	} {
		got := ExplainAuthError(c.err, a)
		var ae *eoskit.AccessError
		if !errors.Is(got, c.kind) || !errors.Is(got, c.err) || !errors.Is(got, eoskit.ErrAccessDenied) || !errors.As(got, &ae) {
			t.Errorf("%v: got %v, want a %v that still matches the original", c.err, got, c.kind)
			continue
		}
		if ae.Fix != c.fix {
			t.Errorf("%v: Fix %q, want %q", c.err, ae.Fix, c.fix)
		}
		if strings.Contains(got.Error(), "--") || strings.Contains(got.Error(), "eosctl") {
			t.Errorf("%v: library message names CLI flags: %s", c.err, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("%v:\n  %s\ndoes not say %q", c.err, got, w)
			}
		}
		if strings.Contains(got.Error(), "\n") {
			t.Errorf("%q is not one line", got)
		}
		if again := ExplainAuthError(got, a); again != got {
			t.Errorf("explained twice: %v", again)
		}
	}
	if ExplainAuthError(nil, a) != nil || ExplainAuthError(io.EOF, a) != io.EOF {
		t.Fatal("nil and unrelated errors must pass through unchanged")
	}
	// Without enough names, the message still names the denial.
	got := ExplainAuthError(kerr.TransactionalIDAuthorizationFailed, Access{TransactionalID: "x"})
	if !strings.Contains(got.Error(), `may not WRITE TRANSACTIONAL_ID "x"`) {
		t.Fatalf("partial access: %v", got)
	}
}
