//go:build integration

package securitytest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/consumer"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/internal/conn"
	"github.com/eoskit/eoskit/producer"
)

const records = 200

// TestEveryClientOverSecuredListeners: over SASL_SSL with SCRAM-SHA-512 and
// over mTLS, the admin client grants ACLs, the producer and the consumer
// work with exactly their ACLs, and an exactly-once copy with exactly the
// ACLs of the acls Plan runs and verifies.
func TestEveryClientOverSecuredListeners(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			in, out := rnd("in"), rnd("out")
			createTopics(t, 2, in, out)
			adm := adminAs(t, m.login(t, integration.AdminUser))

			// Producer and consumer as a feeder that may write and read the input.
			feeder := m.login(t, rnd("feeder"))
			fa := admin.EOSAccess{Principal: feeder.Principal, Group: rnd("fg"), TransactionalID: rnd("unused"),
				InputTopics: []string{in}, OutputTopics: []string{in}}
			grant(t, adm, fa)
			p, err := producer.New(feeder.conn())
			if err != nil {
				t.Fatal(err)
			}
			var rs []*kgo.Record
			for i := range records {
				rs = append(rs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
			}
			if err := p.Produce(integration.Context(t, time.Minute), rs...); err != nil {
				t.Fatalf("produce as %s: %v", feeder.Principal, err)
			}
			_ = p.Close(integration.Context(t, time.Minute))

			cons, err := consumer.New(feeder.conn(),
				consumer.WithGroup(fa.Group), consumer.WithTopics(in), consumer.StartAtEarliest())
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			ctx, cancel := context.WithCancel(integration.Context(t, 2*time.Minute))
			var n atomic.Int32
			err = cons.Run(ctx, func(context.Context, *kgo.Record) error {
				if n.Add(1) == records {
					cancel()
				}
				return nil
			})
			if err != nil || n.Load() != records {
				t.Fatalf("consume as %s: %v after %d records, want %d", feeder.Principal, err, n.Load(), records)
			}

			// The exactly-once copy as app, with exactly the planned ACLs.
			app := m.login(t, rnd("app"))
			a := admin.EOSAccess{Principal: app.Principal, Group: rnd("g"), TransactionalIDPrefix: rnd("tx") + "-",
				InputTopics: []string{in}, OutputTopics: []string{out}}
			if plan := grant(t, adm, a); plan.Summary().Create != 7 {
				t.Fatalf("plan for a fresh principal:\n%s", plan)
			}
			have, err := adm.DescribeACLs(integration.Context(t, time.Minute), app.Principal)
			if err != nil || len(have) != 7 {
				t.Fatalf("%s has %d ACLs (%v), want exactly the 7 planned: %v", app.Principal, len(have), err, have)
			}
			st, err := runCopy(t, app, a, a.TransactionalIDPrefix+"0", records)
			if err != nil || st.RecordsIn != records {
				t.Fatalf("copy as %s: %v; stats %+v", app.Principal, err, st)
			}
			verifyCopy(t, in, out, records)
		})
	}
}

// TestWrongPasswordFailsFast: conn.Check reports the explained
// authentication failure at once; the producer (default retries) and the
// consumer fail with it before any retry loop, and nothing is written.
func TestWrongPasswordFailsFast(t *testing.T) {
	topic := rnd("t")
	createTopics(t, 1, topic)
	c := modes[0].login(t, rnd("user"))
	wrong := scram.Auth{User: strings.TrimPrefix(c.Principal, "User:"), Pass: "wrong"}.AsSha512Mechanism()
	checkFails(t, creds{Principal: c.Principal, Brokers: c.Brokers, TLS: c.TLS, SASL: wrong}, eoskit.ErrAuthentication, "authentication failed: the brokers rejected "+c.Principal)
	p, err := producer.New(eoskit.Conn{Brokers: c.Brokers, TLS: c.TLS, SASL: wrong})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(integration.Context(t, time.Minute)) }()
	err = p.Produce(integration.Context(t, 2*time.Minute), kgo.StringRecord("x"), &kgo.Record{Topic: topic, Value: []byte("x")})
	explained := conn.ExplainAuthError(err, conn.Access{Principal: c.Principal})
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || !errors.Is(explained, eoskit.ErrAuthentication) ||
		!strings.Contains(explained.Error(), "authentication failed: the brokers rejected") {
		t.Fatalf("wrong password: %v\nexplained: %v", err, explained)
	}
	if n := endOffsets(t, topic); n != 0 {
		t.Fatalf("a client with a wrong password wrote: end offset %d", n)
	}
	cons, err := consumer.New(eoskit.Conn{Brokers: c.Brokers, TLS: c.TLS, SASL: wrong},
		consumer.WithGroup(rnd("g")), consumer.WithTopics(topic), consumer.StartAtEarliest())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	// The context outlives any retry loop: Run must return on its own.
	err = cons.Run(integration.Context(t, 2*time.Minute), func(context.Context, *kgo.Record) error { return nil })
	if !errors.Is(err, eoskit.ErrAuthentication) || !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("consumer with a wrong password: Run returned %v, want the explained authentication failure", err)
	}
}

// TestUntrustedCAFailsFast: conn.Check reports the certificate problem in
// one line at once; the producer fails with the x509 error and writes
// nothing.
func TestUntrustedCAFailsFast(t *testing.T) {
	topic := rnd("t")
	createTopics(t, 1, topic)
	c := modes[0].login(t, rnd("user"))
	untrusted := &tls.Config{MinVersion: tls.VersionTLS12}
	checkFails(t, creds{Brokers: c.Brokers, TLS: untrusted, SASL: c.SASL}, eoskit.ErrTLS, `signed by "CN=eoskit test CA", which is not trusted`)
	p, err := producer.New(eoskit.Conn{Brokers: c.Brokers, TLS: untrusted, SASL: c.SASL})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(integration.Context(t, time.Minute)) }()
	err = p.Produce(integration.Context(t, 2*time.Minute), &kgo.Record{Topic: topic, Value: []byte("x")})
	var unknown x509.UnknownAuthorityError
	explained := conn.ExplainAuthError(err, conn.Access{})
	if !errors.As(err, &unknown) || !errors.Is(explained, eoskit.ErrTLS) ||
		!strings.Contains(explained.Error(), `signed by "CN=eoskit test CA", which is not trusted`) || strings.Contains(explained.Error(), "\n") {
		t.Fatalf("untrusted CA: %v\nexplained: %v", err, explained)
	}
	if n := endOffsets(t, topic); n != 0 {
		t.Fatalf("a client that does not trust the CA wrote: end offset %d", n)
	}
}

// TestMissingTransactionalIDACL: every planned ACL but the transactional
// ID's: the copy fails with the named denial and writes nothing.
func TestMissingTransactionalIDACL(t *testing.T) {
	adm, app, a := copySetup(t, 50)
	out := a.OutputTopics[0]
	p, err := adm.PlanACLs(integration.Context(t, time.Minute), a)
	if err != nil {
		t.Fatal(err)
	}
	var kept []admin.PlannedACL
	for _, x := range p.ACLs {
		if x.ResourceType != kmsg.ACLResourceTypeTransactionalId {
			kept = append(kept, x)
		}
	}
	p.ACLs = kept
	if err := adm.ApplyACLs(integration.Context(t, time.Minute), p); err != nil {
		t.Fatal(err)
	}
	waitPlan(t, adm, a, func(p admin.ACLPlan) bool { return p.Summary().Create == 2 })

	_, err = runCopy(t, app, a, a.TransactionalIDPrefix+"0", 50)
	assertTxnIDDenied(t, err, a, a.TransactionalIDPrefix+"0")
	if n := endOffsets(t, out); n != 0 {
		t.Fatalf("a copy without the transactional ID ACL wrote: end offset %d", n)
	}
}

// TestRevokedTransactionalIDWrite: the copy runs with the planned ACLs;
// after the transactional ID's WRITE is revoked, a restarted copy fails
// with the named denial and adds nothing to the output.
func TestRevokedTransactionalIDWrite(t *testing.T) {
	adm, app, a := copySetup(t, 100)
	in, out := a.InputTopics[0], a.OutputTopics[0]
	plan := grant(t, adm, a)
	if _, err := runCopy(t, app, a, a.TransactionalIDPrefix+"0", 100); err != nil {
		t.Fatal(err)
	}
	verifyCopy(t, in, out, 100)
	before := endOffsets(t, out)

	var revoke admin.ACL
	for _, x := range plan.ACLs {
		if x.ResourceType == kmsg.ACLResourceTypeTransactionalId && x.Operation == kmsg.ACLOperationWrite {
			revoke = x.ACL
		}
	}
	if err := adm.DeleteACLs(integration.Context(t, time.Minute), revoke); err != nil {
		t.Fatal(err)
	}
	waitPlan(t, adm, a, func(p admin.ACLPlan) bool { return p.Summary().Create == 1 })
	seed(t, in, 100, 50)
	_, err := runCopy(t, app, a, a.TransactionalIDPrefix+"0", 150)
	assertTxnIDDenied(t, err, a, a.TransactionalIDPrefix+"0")
	if after := endOffsets(t, out); after != before {
		t.Fatalf("the denied copy changed the output: end offset %d -> %d", before, after)
	}
}

func assertTxnIDDenied(t *testing.T, err error, a admin.EOSAccess, txnID string) {
	t.Helper()
	if !errors.Is(err, eoskit.ErrAccessDenied) || !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || !errors.Is(err, eoskit.ErrAuthorization) {
		t.Fatalf("copy without WRITE on the transactional ID: %v, want eoskit.ErrAccessDenied explaining TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err)
	}
	if want := fmt.Sprintf("may not WRITE TRANSACTIONAL_ID %q", txnID); !strings.Contains(err.Error(), want) {
		t.Errorf("the denial %q does not say %q", err, want)
	}
}

// checkFails asserts that conn.Check rejects c with kind and a message
// holding want, in one line, before any retry.
func checkFails(t *testing.T, c creds, kind error, want string) {
	t.Helper()
	cl, err := kgo.NewClient(c.conn().Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	err = conn.Check(integration.Context(t, time.Minute), cl, conn.Access{Principal: c.Principal})
	if !errors.Is(err, kind) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("conn.Check: %v, want %v saying %q in one line", err, kind, want)
	}
}

// copySetup creates an input topic holding n records and an output topic,
// and a SCRAM-SHA-512 application principal with no ACLs yet; it returns
// an admin client (super user over SASL_SSL) and the copy's access.
func copySetup(t *testing.T, n int) (*admin.Client, creds, admin.EOSAccess) {
	t.Helper()
	in, out := rnd("in"), rnd("out")
	createTopics(t, 1, in, out)
	seed(t, in, 0, n)
	adm := adminAs(t, modes[0].login(t, integration.AdminUser))
	app := modes[0].login(t, rnd("app"))
	return adm, app, admin.EOSAccess{Principal: app.Principal, Group: rnd("g"), TransactionalIDPrefix: rnd("tx") + "-",
		InputTopics: []string{in}, OutputTopics: []string{out}}
}
