package main

import (
	"errors"
	"strings"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
)

// flagHint names the eosctl flags that fix an access failure: the
// libraries say what is wrong (eoskit.AccessError.Fix), the CLI says which
// flag changes it. "" when err is no access failure.
func flagHint(err error) string {
	var ae *eoskit.AccessError
	if !errors.As(err, &ae) {
		return ""
	}
	switch ae.Fix {
	case eoskit.FixCredentials:
		return "check --sasl-user, the password ($" + envSASLPassword + " or --sasl-password-file) and --sasl-mechanism"
	case eoskit.FixMechanism:
		return "pick a mechanism the listener enables with --sasl-mechanism"
	case eoskit.FixCA:
		return "pass the cluster's CA with --tls-ca"
	case eoskit.FixServerName:
		return "set --tls-server-name to a name the certificate holds"
	case eoskit.FixClientCert:
		return "pass a client certificate with --tls-cert and --tls-key"
	case eoskit.FixNotTLS:
		return "use the listener's TLS port, or drop --tls"
	case eoskit.FixACL:
		return "grant it with eosctl acls apply (see eosctl acls apply --help)"
	}
	return ""
}

// grantCommand returns the `eosctl acls apply` command granting a's
// exactly-once ACLs, or "" when a lacks the principal, group,
// transactional ID or topics the command needs.
func grantCommand(a conn.Access) string {
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
	args = append(args, "--from "+strings.Join(a.Input, ","), "--to "+strings.Join(a.Output, ","), "--yes")
	return strings.Join(args, " ")
}
