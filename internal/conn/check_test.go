package conn

import (
	"context"
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

	"github.com/eoskit/eoskit"
)

// TestCheck: an untrusted certificate is a security error at once; a
// broker that does not answer is left to the client's retries.
func TestCheck(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"}, Issuer: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(eoskit.Conn{Brokers: c.ListenAddrs(), TLS: &tls.Config{MinVersion: tls.VersionTLS12}}.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := Check(ctx, cl, Access{}); !errors.Is(err, eoskit.ErrTLS) {
		t.Fatalf("untrusted certificate: %v, want eoskit.ErrTLS", err)
	}

	down, err := kgo.NewClient(eoskit.Conn{Brokers: []string{"127.0.0.1:1"}}.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if err := Check(short, down, Access{}); err != nil {
		t.Fatalf("unreachable broker: %v, want nil (retried by clients)", err)
	}
}
