package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// AdminUser is the super user of a secured cluster (WithSASLSSL): it may
// authenticate with SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN.
const AdminUser = "admin"

// WithSASLSSL adds a SASL_SSL listener to every broker (SCRAM-SHA-256,
// SCRAM-SHA-512 and PLAIN, TLS with a CA generated for this cluster) and an
// SSL listener that requires client certificates (mTLS; the principal is the
// certificate's CN). The PLAINTEXT listener of Bootstrap stays for setup: it
// acts as a super user.
func WithSASLSSL() Option { return func(c *config) { c.secure = true } }

// WithAuthorizer enables Kafka's StandardAuthorizer: without an ACL nothing is
// allowed, except to AdminUser and to the PLAINTEXT setup listener.
func WithAuthorizer() Option { return func(c *config) { c.authorizer = true } }

// pki is a cluster's certificate authority and broker certificate.
type pki struct {
	caCert        *x509.Certificate
	caKey         *ecdsa.PrivateKey
	caPEM         []byte
	brokerPEM     []byte // PKCS#8 key followed by the certificate chain, as Kafka's PEM keystore wants
	adminPassword string
}

func newPKI() (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "eoskit test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &pki{caCert: caCert, caKey: caKey, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	certPEM, keyPEM, err := p.issue("kafka-broker", true)
	if err != nil {
		return nil, err
	}
	p.brokerPEM = append(append(keyPEM, certPEM...), p.caPEM...)
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	p.adminPassword = hex.EncodeToString(pw)
	return p, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

// issue returns a certificate signed by the CA for cn, and its PKCS#8 key.
func (p *pki) issue(cn string, server bool) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), nil
}

// ErrNotSecured reports a security method called on a cluster started without WithSASLSSL.
var ErrNotSecured = errors.New("cluster was started without WithSASLSSL")

// SASLBootstrap returns the SASL_SSL listeners' addresses.
func (c *Cluster) SASLBootstrap() []string {
	var out []string
	for _, n := range c.brokerNodes() {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", n.saslPort))
	}
	return out
}

// MTLSBootstrap returns the addresses of the SSL listeners that require a client certificate.
func (c *Cluster) MTLSBootstrap() []string {
	var out []string
	for _, n := range c.brokerNodes() {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", n.mtlsPort))
	}
	return out
}

// CAPEM returns the PEM certificate of the cluster's CA, which signed the
// brokers' and clients' certificates.
func (c *Cluster) CAPEM() ([]byte, error) {
	if c.pki == nil {
		return nil, ErrNotSecured
	}
	return c.pki.caPEM, nil
}

// AdminPassword returns AdminUser's password.
func (c *Cluster) AdminPassword() (string, error) {
	if c.pki == nil {
		return "", ErrNotSecured
	}
	return c.pki.adminPassword, nil
}

// ClientCert issues a client certificate whose CN (the Kafka principal
// User:CN on the mTLS listener) is name, with its PKCS#8 key.
func (c *Cluster) ClientCert(name string) (certPEM, keyPEM []byte, err error) {
	if c.pki == nil {
		return nil, nil, ErrNotSecured
	}
	return c.pki.issue(name, false)
}

// TLSConfig returns a TLS client config that trusts the cluster's CA.
func (c *Cluster) TLSConfig() (*tls.Config, error) {
	if c.pki == nil {
		return nil, ErrNotSecured
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.pki.caCert)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// CreateSCRAMUser creates or updates a SCRAM-SHA-256 and SCRAM-SHA-512
// credential for user, through the super-user setup listener.
func (c *Cluster) CreateSCRAMUser(ctx context.Context, user, password string) error {
	if c.pki == nil {
		return ErrNotSecured
	}
	cl, err := c.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	// One request may name a user only once: one request per mechanism.
	for _, mech := range []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512} {
		res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
			{User: user, Mechanism: mech, Iterations: 4096, Password: password},
		})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			return fmt.Errorf("integration: create SCRAM user %s (%s): %w", user, mech, err)
		}
	}
	return nil
}

// NewAdminSASLClient returns a client that connects to the SASL_SSL listeners as AdminUser
// with SCRAM-SHA-512.
func (c *Cluster) NewAdminSASLClient(opts ...kgo.Opt) (*kgo.Client, error) {
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	all := append([]kgo.Opt{
		kgo.SeedBrokers(c.SASLBootstrap()...),
		kgo.DialTLSConfig(tc),
		kgo.SASL(scram.Auth{User: AdminUser, Pass: c.pki.adminPassword}.AsSha512Mechanism()),
	}, opts...)
	return kgo.NewClient(all...)
}

// securityProperties are the broker properties of a secured node. dir is the
// node's file folder as the broker sees it.
func securityProperties(cfg *config, p *pki, n *node, dir string) map[string]string {
	props := map[string]string{
		"listeners": fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d,SSL://127.0.0.1:%d",
			n.brokerPort, n.saslPort, n.mtlsPort),
		"advertised.listeners": fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d,SSL://127.0.0.1:%d",
			n.brokerPort, n.saslPort, n.mtlsPort),
		"listener.security.protocol.map":                        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
		"sasl.enabled.mechanisms":                               "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
		"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"listener.name.sasl_ssl.plain.sasl.jaas.config": fmt.Sprintf(
			`org.apache.kafka.common.security.plain.PlainLoginModule required user_%s="%s";`, AdminUser, p.adminPassword),
		"ssl.keystore.type":                 "PEM",
		"ssl.keystore.location":             dir + "/broker.pem",
		"ssl.truststore.type":               "PEM",
		"ssl.truststore.location":           dir + "/ca.pem",
		"listener.name.ssl.ssl.client.auth": "required",
		"ssl.principal.mapping.rules":       "RULE:^CN=([^,]*).*$/$1/,DEFAULT",
	}
	if n.controllerPort != 0 && !cfg.dedicatedController {
		props["listeners"] += fmt.Sprintf(",CONTROLLER://127.0.0.1:%d", n.controllerPort)
	}
	if cfg.authorizer {
		props["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
		props["super.users"] = "User:ANONYMOUS;User:" + AdminUser
	}
	return props
}

// scramFormatArgs create AdminUser's SCRAM credentials when storage is formatted.
func scramFormatArgs(p *pki) string {
	return fmt.Sprintf("SCRAM-SHA-256=[name=%s,password=%s]\nSCRAM-SHA-512=[name=%s,password=%s]\n",
		AdminUser, p.adminPassword, AdminUser, p.adminPassword)
}
