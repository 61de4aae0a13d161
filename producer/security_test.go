package producer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/producer"
)

// selfSigned returns a server config for 127.0.0.1 and a client config
// trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// TestWithTLSAndSASL: Conn.TLS and Conn.SASL reach the client; a wrong
// password fails (kfake drops the connection; the real-broker suite in
// integration/securitytest asserts SASL_AUTHENTICATION_FAILED).
func TestWithTLSAndSASL(t *testing.T) {
	server, client := selfSigned(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.TLS(server),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "eos", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	produce := func(pass string) error {
		p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs(), TLS: client,
			SASL: scram.Auth{User: "eos", Pass: pass}.AsSha512Mechanism()}, producer.WithRecordRetries(1))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = p.Close(ctxT(t)) }()
		return p.Produce(ctxT(t), &kgo.Record{Topic: "t", Value: []byte("v")})
	}
	if err := produce("secret"); err != nil {
		t.Fatalf("produce over TLS with SCRAM-SHA-512: %v", err)
	}
	if err := produce("wrong"); err == nil {
		t.Fatal("wrong password: produce succeeded")
	}
}

// TestHookSeesSecurityFailure (#12 item 9): when the first-use security
// check fails, every record of the call is reported to the produce hook
// with that error, never as acknowledged.
func TestHookSeesSecurityFailure(t *testing.T) {
	server, _ := selfSigned(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.TLS(server))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	untrusted := &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12} // the broker's CA is unknown
	h := &hookRec{}
	p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs(), TLS: untrusted},
		producer.WithRecordRetries(1),
		producer.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(ctxT(t)) }()
	recs := []*kgo.Record{{Topic: "t", Value: []byte("a")}, {Topic: "t", Value: []byte("b")}, {Topic: "t", Value: []byte("c")}}
	if err := p.Produce(ctxT(t), recs...); !errors.Is(err, eoskit.ErrAccessDenied) {
		t.Fatalf("untrusted CA: Produce returned %v, want ErrAccessDenied", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ok != 0 || h.fail != 3 {
		t.Fatalf("hook saw %d acknowledged and %d failed records, want 0 and 3", h.ok, h.fail)
	}
}
