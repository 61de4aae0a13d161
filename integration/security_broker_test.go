//go:build integration

package integration_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eoskit/eoskit/integration"
)

// TestSecuredCluster: SASL_SSL with SCRAM, mTLS, and the StandardAuthorizer
// enforcing ACLs, on a real broker.
func TestSecuredCluster(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(1), integration.WithSASLSSL(), integration.WithAuthorizer())
	ctx := integration.Context(t, 2*time.Minute)
	topic := integration.UniqueName(t, "")

	admin, err := c.NewAdminSASLClient(kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("admin over SASL_SSL creates a topic: %v", err)
	}
	if err := admin.ProduceSync(ctx, kgo.StringRecord("from admin")).FirstErr(); err != nil {
		t.Fatalf("admin over SASL_SSL produces: %v", err)
	}

	tc, err := c.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateSCRAMUser(ctx, "alice", "alice-secret"); err != nil {
		t.Fatal(err)
	}
	alice := func(pass string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.SASLBootstrap()...), kgo.DialTLSConfig(tc),
			kgo.SASL(scram.Auth{User: "alice", Pass: pass}.AsSha512Mechanism()),
			kgo.DefaultProduceTopic(topic), kgo.RecordDeliveryTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	// Wrong password: an authentication error, not a timeout.
	if err := alice("wrong").Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	// Right password, no ACL: denied.
	good := alice("alice-secret")
	if err := good.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without ACL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// With a WRITE ACL: allowed.
	acl := kadm.NewACLs().Allow("User:alice").Topics(topic).Operations(kadm.OpWrite, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	if _, err := kadm.NewClient(admin).CreateACLs(ctx, acl); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "alice may write", func() bool {
		return alice("alice-secret").ProduceSync(ctx, kgo.StringRecord("from alice")).FirstErr() == nil
	})

	// mTLS: a certificate from the cluster's CA authenticates User:bob.
	certPEM, keyPEM, err := c.ClientCert("bob")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	mtc := tc.Clone()
	mtc.Certificates = []tls.Certificate{pair}
	bob, err := kgo.NewClient(kgo.SeedBrokers(c.MTLSBootstrap()...), kgo.DialTLSConfig(mtc),
		kgo.DefaultProduceTopic(topic), kgo.RecordDeliveryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if err := bob.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("mTLS produce without ACL: %v, want TOPIC_AUTHORIZATION_FAILED (principal User:bob)", err)
	}
	// Without a client certificate the mTLS listener refuses the connection.
	anon, err := kgo.NewClient(kgo.SeedBrokers(c.MTLSBootstrap()...), kgo.DialTLSConfig(tc))
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if err := anon.Ping(integration.Context(t, 15*time.Second)); err == nil {
		t.Fatal("mTLS listener accepted a client without a certificate")
	}
	// A client that does not trust the cluster's CA fails the handshake.
	untrusted, err := kgo.NewClient(kgo.SeedBrokers(c.SASLBootstrap()...), kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	var uerr x509.UnknownAuthorityError
	if err := untrusted.Ping(integration.Context(t, 15*time.Second)); err == nil || !errors.As(err, &uerr) {
		t.Fatalf("untrusted CA: %v, want a certificate verification error", err)
	}
}
