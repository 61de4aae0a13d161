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
)

func TestExplainAuthError(t *testing.T) {
	a := Access{Principal: "User:app", Group: "g", TransactionalIDPrefix: "app-", Input: []string{"in"}, Output: []string{"out"}}
	grant := "eosctl acls apply --principal User:app --group g --txn-id-prefix app- --input in --output-topics out --yes"
	for _, c := range []struct {
		err  error
		kind error
		want []string
	}{
		{fmt.Errorf("init: %w", kerr.TransactionalIDAuthorizationFailed), ErrAuthorization,
			[]string{`User:app may not WRITE TRANSACTIONAL_ID "app-*"`, grant}},
		{fmt.Errorf(`topic "out" partition 0: %w`, kerr.TopicAuthorizationFailed), ErrAuthorization,
			[]string{`may not WRITE TOPIC "out"`, grant}},
		{fmt.Errorf(`topic "in": %w`, kerr.TopicAuthorizationFailed), ErrAuthorization, []string{`may not READ TOPIC "in"`}},
		{kerr.GroupAuthorizationFailed, ErrAuthorization, []string{`may not READ GROUP "g"`}},
		{kerr.ClusterAuthorizationFailed, ErrAuthorization, []string{"IDEMPOTENT_WRITE", grant + " --idempotent-write"}},
		{fmt.Errorf("ping: %w", kerr.SaslAuthenticationFailed), ErrAuthentication, []string{"authentication failed", "User:app", "password"}},
		{x509.UnknownAuthorityError{Cert: &x509.Certificate{Issuer: pkix.Name{CommonName: "test CA"}}}, ErrTLS,
			[]string{`signed by "CN=test CA"`, "--tls-ca"}},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ErrTLS, []string{"not a TLS listener"}},
		{errors.New("remote error: tls: certificate required"), ErrTLS, []string{"--tls-cert"}},
	} {
		got := ExplainAuthError(c.err, a)
		if !errors.Is(got, c.kind) || !errors.Is(got, c.err) {
			t.Errorf("%v: got %v, want a %v that still matches the original", c.err, got, c.kind)
			continue
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
	if !strings.Contains(got.Error(), `may not WRITE TRANSACTIONAL_ID "x"`) || !strings.Contains(got.Error(), "eosctl acls apply") {
		t.Fatalf("partial access: %v", got)
	}
}
