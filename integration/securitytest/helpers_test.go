//go:build integration

package securitytest_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/verify"
)

// shared is this suite's one-broker cluster: SASL_SSL, mTLS, ACLs enforced.
var shared *integration.Shared

func TestMain(m *testing.M) {
	shared = integration.StartShared(integration.WithNodes(1), integration.WithSASLSSL(), integration.WithAuthorizer())
	integration.AnnounceSuite("security", shared.Cluster)
	os.Exit(shared.Run(m))
}

func rnd(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// creds is how one principal connects: brokers, TLS and SASL.
type creds struct {
	Principal string
	Brokers   []string
	TLS       *tls.Config
	SASL      sasl.Mechanism
}

func (c creds) conn() eoskit.Conn { return eoskit.Conn{Brokers: c.Brokers, TLS: c.TLS, SASL: c.SASL} }

// mode connects a named principal over one kind of listener.
type mode struct {
	name  string
	login func(t *testing.T, user string) creds
}

var modes = []mode{
	{"scram-sha-512", func(t *testing.T, user string) creds {
		t.Helper()
		tc := must(shared.TLSConfig())
		pass := rnd("pw")
		if user == integration.AdminUser {
			pass = must(shared.AdminPassword())
		} else if err := shared.CreateSCRAMUser(integration.Context(t, time.Minute), user, pass); err != nil {
			t.Fatal(err)
		}
		return creds{Principal: "User:" + user, Brokers: shared.SASLBootstrap(), TLS: tc,
			SASL: scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()}
	}},
	{"mtls", func(t *testing.T, user string) creds {
		t.Helper()
		certPEM, keyPEM, err := shared.ClientCert(user)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		tc := must(shared.TLSConfig())
		tc.Certificates = []tls.Certificate{pair}
		return creds{Principal: "User:" + user, Brokers: shared.MTLSBootstrap(), TLS: tc}
	}},
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// superClient connects through the PLAINTEXT setup listener, a super user.
func superClient(t *testing.T) *kgo.Client {
	t.Helper()
	cl, err := shared.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopics(t *testing.T, partitions int32, topics ...string) {
	t.Helper()
	res, err := kadm.NewClient(superClient(t)).CreateTopics(integration.Context(t, time.Minute), partitions, 1, nil, topics...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// endOffsets sums the end offsets of topic, read as super user.
func endOffsets(t *testing.T, topic string) int64 {
	t.Helper()
	ends, err := kadm.NewClient(superClient(t)).ListEndOffsets(integration.Context(t, time.Minute), topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// seed writes n records to topic as super user.
func seed(t *testing.T, topic string, from, n int) {
	t.Helper()
	var rs []*kgo.Record
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := superClient(t).ProduceSync(integration.Context(t, time.Minute), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// adminAs returns an admin.Client connected with c.
func adminAs(t *testing.T, c creds) *admin.Client {
	t.Helper()
	adm, err := admin.New(c.conn())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	return adm
}

// waitPlan re-plans a until the broker's ACLs match done (ACLs propagate
// asynchronously).
func waitPlan(t *testing.T, adm *admin.Client, a admin.EOSAccess, done func(admin.ACLPlan) bool) {
	t.Helper()
	ctx := integration.Context(t, time.Minute)
	for {
		p, err := adm.PlanACLs(ctx, a)
		if err == nil && done(p) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ACLs of %s did not settle: %v\n%s", a.Principal, err, p)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// grant applies the exactly-once ACLs of a through the library and waits
// until the broker has them.
func grant(t *testing.T, adm *admin.Client, a admin.EOSAccess) admin.ACLPlan {
	t.Helper()
	p, err := adm.PlanACLs(integration.Context(t, time.Minute), a)
	if err != nil {
		t.Fatal(err)
	}
	if err := adm.ApplyACLs(integration.Context(t, time.Minute), p); err != nil {
		t.Fatal(err)
	}
	waitPlan(t, adm, a, func(p admin.ACLPlan) bool { return !p.HasChanges() })
	return p
}

// runCopy runs an exactly-once copy as c until it has committed want input
// records, or until Run stops by itself (a denied copy must: no retry loop).
func runCopy(t *testing.T, c creds, a admin.EOSAccess, txnID string, want int64) (txn.Stats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := txn.New(c.conn(), txn.Copy(a.OutputTopics[0]),
		txn.WithGroup(a.Group), txn.WithTopics(a.InputTopics...), txn.WithTransactionalID(txnID),
		txn.WithStartOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	for p.Stats().RecordsIn < want {
		select {
		case err := <-runErr:
			return p.Stats(), err
		case <-ctx.Done():
			t.Fatalf("copy %s neither committed %d records nor stopped: %+v", txnID, want, p.Stats())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	return p.Stats(), <-runErr
}

// verifyCopy checks, as super user, that out is an exactly-once image of in.
func verifyCopy(t *testing.T, in, out string, want int) {
	t.Helper()
	rep, err := verify.Run(integration.Context(t, 2*time.Minute), eoskit.Conn{Brokers: shared.Bootstrap()},
		verify.Config{Input: []string{in}, Output: []string{out}, Identity: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Counts.InputRecords != want || rep.Counts.OutputRecords != want {
		t.Fatalf("verify %s -> %s: %s", in, out, rep)
	}
}
