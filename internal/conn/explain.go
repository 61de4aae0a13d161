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
)

// Sentinels a *SecurityError matches with errors.Is.
var (
	// ErrAuthentication: the brokers rejected the SASL credentials or
	// mechanism.
	ErrAuthentication = errors.New("authentication failed")
	// ErrAuthorization: an ACL is missing.
	ErrAuthorization = errors.New("not authorized")
	// ErrTLS: the TLS handshake failed (certificate not trusted, wrong
	// name, no client certificate, not a TLS listener).
	ErrTLS = errors.New("TLS handshake failed")
)

// Access names who a client runs as and what it uses, so that an
// authorization failure can name the resource denied and the command that
// grants it. Every field is optional.
type Access struct {
	Principal             string // User:name
	Group                 string
	TransactionalID       string
	TransactionalIDPrefix string
	Input                 []string
	Output                []string
}

// SecurityError explains an authentication, authorization or TLS failure in
// one line. It matches its Kind (ErrAuthentication, ErrAuthorization,
// ErrTLS) with errors.Is and unwraps to the original error, so
// errors.Is(err, kerr.TopicAuthorizationFailed) keeps working.
type SecurityError struct {
	Kind      error
	Operation string // authorization: READ, WRITE, IDEMPOTENT_WRITE...
	Resource  string // authorization: `TOPIC "orders"`, `TRANSACTIONAL_ID "app-0"`...
	Msg       string // what happened and what to do
	Err       error
}

func (e *SecurityError) Error() string { return e.Msg + " (" + e.Err.Error() + ")" }

// Unwrap returns the original error.
func (e *SecurityError) Unwrap() error { return e.Err }

// Is reports e's Kind.
func (e *SecurityError) Is(target error) bool { return target == e.Kind }

var quotedTopic = regexp.MustCompile(`topic "([^"]+)"`)

// ExplainAuthError returns err as a *SecurityError when it is an
// authentication, authorization or TLS failure, and err unchanged
// otherwise (nil stays nil). a fills in the names the broker's error code
// does not carry.
func ExplainAuthError(err error, a Access) error {
	var se *SecurityError
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
		return &SecurityError{Kind: ErrAuthentication, Err: err,
			Msg: fmt.Sprintf("authentication failed: the brokers rejected %s: check the user name, the password ($EOSKIT_SASL_PASSWORD or --sasl-password-file) and the mechanism (--sasl-mechanism)", who)}
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return &SecurityError{Kind: ErrAuthentication, Err: err,
			Msg: "authentication failed: the listener does not accept this SASL mechanism: pick one it enables with --sasl-mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"}
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

// denied builds the authorization message and the eosctl command that
// grants the exactly-once ACLs of a.
func denied(err error, a Access, op, rtype, name string) error {
	who := a.Principal
	if who == "" {
		who = "this client's principal"
	}
	res := rtype
	if name != "" {
		res = fmt.Sprintf("%s %q", rtype, name)
	}
	msg := fmt.Sprintf("not authorized: %s may not %s %s", who, op, res)
	if cmd := GrantCommand(a); cmd != "" {
		if rtype == "CLUSTER" {
			cmd += " --idempotent-write"
		}
		msg += "; grant the exactly-once ACLs with: " + cmd
	} else {
		msg += "; grant it with eosctl acls apply (see eosctl acls apply --help)"
	}
	return &SecurityError{Kind: ErrAuthorization, Operation: op, Resource: res, Msg: msg, Err: err}
}

// GrantCommand returns the `eosctl acls apply` command granting a's
// exactly-once ACLs, or "" when a lacks the principal, group, transactional
// ID or topics the command needs.
func GrantCommand(a Access) string {
	if a.Principal == "" || a.Group == "" || len(a.Input) == 0 || len(a.Output) == 0 ||
		(a.TransactionalID == "" && a.TransactionalIDPrefix == "") {
		return ""
	}
	args := []string{"eosctl acls apply", "--principal " + a.Principal, "--group " + a.Group}
	if a.TransactionalIDPrefix != "" {
		args = append(args, "--txn-id-prefix "+a.TransactionalIDPrefix)
	} else {
		args = append(args, "--txn-id "+a.TransactionalID)
	}
	args = append(args, "--input "+strings.Join(a.Input, ","), "--output-topics "+strings.Join(a.Output, ","), "--yes")
	return strings.Join(args, " ")
}

// explainTLS returns a one-line *SecurityError for certificate and
// handshake failures, or nil.
func explainTLS(err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
	)
	msg := ""
	switch {
	case errors.As(err, &unknown):
		issuer := "an unknown authority"
		if unknown.Cert != nil {
			issuer = fmt.Sprintf("%q, which is not trusted", unknown.Cert.Issuer.String())
		}
		msg = fmt.Sprintf("TLS: the broker's certificate is signed by %s: pass the cluster's CA with --tls-ca (library: tls.Config.RootCAs)", issuer)
	case errors.As(err, &hostname):
		msg = fmt.Sprintf("TLS: %v: connect by a name the certificate holds or set --tls-server-name", hostname.Error())
	case errors.As(err, &invalid):
		msg = fmt.Sprintf("TLS: the broker's certificate is invalid: %v", invalid.Error())
	case errors.As(err, &header):
		msg = "TLS: the broker did not answer with TLS: this listener is not a TLS listener (use its TLS port, or drop --tls)"
	case strings.Contains(err.Error(), "certificate required"):
		msg = "TLS: the broker requires a client certificate (mTLS): pass --tls-cert and --tls-key"
	case strings.Contains(err.Error(), "bad certificate"), strings.Contains(err.Error(), "unknown certificate authority"):
		msg = "TLS: the broker rejected the client certificate: it must be signed by a CA the broker trusts"
	default:
		return nil
	}
	return &SecurityError{Kind: ErrTLS, Msg: msg, Err: err}
}

// Check connects cl to one broker (kgo.Client.Ping) and returns the
// explained error when the connection fails for a security reason — wrong
// credentials, an untrusted or mismatched certificate, a missing client
// certificate — which no retry can fix. Other failures (a broker down, a
// timeout) return nil: clients retry those. Call it before work whose
// retries would otherwise hide a configuration mistake for minutes.
func Check(ctx context.Context, cl *kgo.Client, a Access) error {
	err := ExplainAuthError(cl.Ping(ctx), a)
	var se *SecurityError
	if errors.As(err, &se) {
		return err
	}
	return nil
}
