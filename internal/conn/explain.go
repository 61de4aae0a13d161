package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Access names who a client runs as and what it uses, so that an
// authorization failure can name the resource denied. Every field is
// optional.
type Access struct {
	Principal             string // User:name
	Group                 string
	TransactionalID       string
	TransactionalIDPrefix string
	Input                 []string
	Output                []string
}

var quotedTopic = regexp.MustCompile(`topic "([^"]+)"`)

// ExplainAuthError returns err as an *eoskit.AccessError when it is an
// authentication, authorization or TLS failure, and err unchanged
// otherwise (nil stays nil). a fills in the names the broker's error code
// does not carry.
func ExplainAuthError(err error, a Access) error {
	var se *eoskit.AccessError
	if err == nil || errors.As(err, &se) {
		return err
	}
	if e := explainTLS(err); e != nil {
		return e
	}
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		who := "the SASL user"
		if a.Principal != "" {
			who = a.Principal
		}
		return &eoskit.AccessError{Kind: eoskit.ErrAuthentication, Err: err, Fix: eoskit.FixCredentials,
			Msg: fmt.Sprintf("authentication failed: the brokers rejected %s: check the user name, the password and the SASL mechanism", who)}
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return &eoskit.AccessError{Kind: eoskit.ErrAuthentication, Err: err, Fix: eoskit.FixMechanism,
			Msg: "authentication failed: the listener does not accept this SASL mechanism: pick one it enables (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"}
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		id := a.TransactionalID
		if id == "" && a.TransactionalIDPrefix != "" {
			id = a.TransactionalIDPrefix + "*"
		}
		return denied(err, a, "WRITE", "TRANSACTIONAL_ID", id)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return denied(err, a, "READ", "GROUP", a.Group)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		topic := ""
		if m := quotedTopic.FindStringSubmatch(err.Error()); m != nil {
			topic = m[1]
		}
		op := "READ or WRITE"
		switch {
		case topic != "" && slices.Contains(a.Output, topic):
			op = "WRITE"
		case topic != "" && slices.Contains(a.Input, topic):
			op = "READ"
		case topic == "" && len(a.Output) > 0 && len(a.Input) == 0:
			op, topic = "WRITE", strings.Join(a.Output, ",")
		case topic == "" && len(a.Input) > 0 && len(a.Output) == 0:
			op, topic = "READ", strings.Join(a.Input, ",")
		}
		return denied(err, a, op, "TOPIC", topic)
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return denied(err, a, "IDEMPOTENT_WRITE (or an admin operation)", "CLUSTER", "kafka-cluster")
	}
	return err
}

// denied builds the authorization message.
func denied(err error, a Access, op, rtype, name string) error {
	who := a.Principal
	if who == "" {
		who = "this client's principal"
	}
	res := rtype
	if name != "" {
		res = fmt.Sprintf("%s %q", rtype, name)
	}
	msg := fmt.Sprintf("not authorized: %s may not %s %s: grant the ACL (admin.EOSACLs lists every ACL an exactly-once processor needs)", who, op, res)
	return &eoskit.AccessError{Kind: eoskit.ErrAuthorization, Operation: op, Resource: res, Msg: msg, Fix: eoskit.FixACL, Err: err}
}

// explainTLS returns a one-line *eoskit.AccessError for certificate and
// handshake failures, or nil.
func explainTLS(err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
	)
	msg, fix := "", ""
	switch {
	case errors.As(err, &unknown):
		issuer := "an unknown authority"
		if unknown.Cert != nil {
			issuer = fmt.Sprintf("%q, which is not trusted", unknown.Cert.Issuer.String())
		}
		msg, fix = fmt.Sprintf("TLS: the broker's certificate is signed by %s: trust the cluster's CA (tls.Config.RootCAs)", issuer), eoskit.FixCA
	case errors.As(err, &hostname):
		msg, fix = fmt.Sprintf("TLS: %v: connect by a name the certificate holds, or verify it for that name (tls.Config.ServerName)", hostname.Error()), eoskit.FixServerName
	case errors.As(err, &invalid):
		msg = fmt.Sprintf("TLS: the broker's certificate is invalid: %v", invalid.Error())
	case errors.As(err, &header):
		msg, fix = "TLS: the broker did not answer with TLS: this listener is not a TLS listener (use its TLS port, or connect without TLS)", eoskit.FixNotTLS
	case strings.Contains(err.Error(), "certificate required"):
		msg, fix = "TLS: the broker requires a client certificate (mTLS): present one signed by a CA the brokers trust", eoskit.FixClientCert
	case strings.Contains(err.Error(), "bad certificate"), strings.Contains(err.Error(), "unknown certificate authority"):
		msg, fix = "TLS: the broker rejected the client certificate: it must be signed by a CA the broker trusts", eoskit.FixClientCert
	default:
		return nil
	}
	return &eoskit.AccessError{Kind: eoskit.ErrTLS, Msg: msg, Fix: fix, Err: err}
}

// Check connects cl to one broker (kgo.Client.Ping) and returns the
// explained error when the connection fails for a security reason — wrong
// credentials, an untrusted or mismatched certificate, a missing client
// certificate — which no retry can fix. Other failures (a broker down, a
// timeout) return nil: clients retry those. Call it before work whose
// retries would otherwise hide a configuration mistake for minutes.
func Check(ctx context.Context, cl *kgo.Client, a Access) error {
	err := ExplainAuthError(cl.Ping(ctx), a)
	var se *eoskit.AccessError
	if errors.As(err, &se) {
		return err
	}
	return nil
}
