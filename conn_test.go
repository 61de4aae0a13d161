package eoskit_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eoskit/eoskit"
)

func TestParseBrokers(t *testing.T) {
	got := eoskit.ParseBrokers(" a:1, ,b:2 ")
	if len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("ParseBrokers = %q", got)
	}
}

func TestSASLMechanism(t *testing.T) {
	for _, mech := range []string{eoskit.MechPlain, eoskit.MechScramSHA256, "scram-sha-512"} {
		m, err := eoskit.SASLMechanism(mech, "u", "p")
		if err != nil || m == nil {
			t.Fatalf("%s: %v", mech, err)
		}
	}
	for _, c := range [][3]string{
		{"GSSAPI", "u", "p"},
		{eoskit.MechScramSHA512, "u", ""},
		{eoskit.MechOAuthBearer, "u", "p"},
	} {
		if _, err := eoskit.SASLMechanism(c[0], c[1], c[2]); !errors.Is(err, eoskit.ErrInvalidOption) {
			t.Fatalf("%+v: %v, want ErrInvalidOption", c, err)
		}
	}
}

func TestLoadTLSAndOpts(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	ca := filepath.Join(dir, "ca.pem")
	keyFile := filepath.Join(dir, "key.pem")
	_ = os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), 0o600)

	cfg, err := eoskit.LoadTLS(eoskit.TLSFiles{CAFile: ca, CertFile: ca, KeyFile: keyFile, ServerName: "kafka"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "kafka" {
		t.Fatalf("TLS config incomplete: roots %v certs %d name %q", cfg.RootCAs != nil, len(cfg.Certificates), cfg.ServerName)
	}
	if _, err := eoskit.LoadTLS(eoskit.TLSFiles{CertFile: ca}); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("certificate without key: %v", err)
	}
	if _, err := eoskit.LoadTLS(eoskit.TLSFiles{CAFile: keyFile}); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("CA file without certificate: %v", err)
	}
	if _, err := eoskit.LoadTLS(eoskit.TLSFiles{CAFile: filepath.Join(dir, "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing CA file: %v", err)
	}
	m, _ := eoskit.SASLMechanism(eoskit.MechPlain, "u", "p")
	plainOpts := eoskit.Conn{Brokers: []string{"a:1"}}.Opts()
	secured := eoskit.Conn{Brokers: []string{"a:1"}, TLS: cfg, SASL: m}.Opts()
	if len(secured) != len(plainOpts)+2 {
		t.Fatalf("secured config gives %d options, plain %d: want TLS and SASL added", len(secured), len(plainOpts))
	}
}

func TestPasswordFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	_ = os.WriteFile(p, []byte("s3cret\n"), 0o600)
	got, err := eoskit.PasswordFromFile(p)
	if err != nil || got != "s3cret" {
		t.Fatalf("PasswordFromFile = %q, %v", got, err)
	}
}
