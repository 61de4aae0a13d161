package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestPKIIssuesVerifiableCertificates(t *testing.T) {
	p, err := newPKI()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.caPEM) {
		t.Fatal("CA PEM does not parse")
	}
	// The broker PEM is a PKCS#8 key, then the certificate chain.
	block, rest := pem.Decode(p.brokerPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("broker PEM starts with %v, want PRIVATE KEY (PKCS#8, as Kafka wants)", block)
	}
	leaf, _ := pem.Decode(rest)
	cert, err := x509.ParseCertificate(leaf.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("broker certificate does not verify for 127.0.0.1: %v", err)
	}
	certPEM, keyPEM, err := p.issue("carol", false)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := x509.ParseCertificate(pair.Certificate[0])
	if client.Subject.CommonName != "carol" {
		t.Fatalf("client CN %q", client.Subject.CommonName)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate does not verify: %v", err)
	}
	if len(p.adminPassword) < 16 {
		t.Fatalf("admin password %q too short", p.adminPassword)
	}
}

func TestSecurityPropertiesListenersAndAuthorizer(t *testing.T) {
	p, err := newPKI()
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.secure, cfg.authorizer = true, true
	n := &node{id: 1, brokerPort: 1, controllerPort: 2, saslPort: 3, mtlsPort: 4}
	props := parseProps(nodeProperties(&cfg, []*node{n}, n, "/d", securityProperties(&cfg, p, n, "/f")))
	for k, want := range map[string]string{
		"listeners":                         "PLAINTEXT://127.0.0.1:1,SASL_SSL://127.0.0.1:3,SSL://127.0.0.1:4,CONTROLLER://127.0.0.1:2",
		"ssl.keystore.location":             "/f/broker.pem",
		"listener.name.ssl.ssl.client.auth": "required",
		"authorizer.class.name":             "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
	} {
		if props[k] != want {
			t.Errorf("%s = %q, want %q", k, props[k], want)
		}
	}
	if !strings.Contains(props["listener.name.sasl_ssl.plain.sasl.jaas.config"], p.adminPassword) {
		t.Error("PLAIN JAAS config lacks the admin user")
	}
	if _, err := StartCluster(t.Context(), WithAuthorizer()); err == nil || !strings.Contains(err.Error(), "WithSASLSSL") {
		t.Fatalf("WithAuthorizer alone: %v, want an error naming WithSASLSSL", err)
	}
}
