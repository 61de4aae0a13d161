package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ErrInvalidSecurity reports TLS or SASL settings that cannot work.
var ErrInvalidSecurity = errors.New("invalid connection security settings")

// TLSFiles names the PEM files of a TLS client configuration.
type TLSFiles struct {
	CAFile     string // trust these CAs instead of the system roots
	CertFile   string // client certificate (mTLS); needs KeyFile
	KeyFile    string
	ServerName string // verify the brokers' certificates for this name
	// InsecureSkipVerify accepts any broker certificate: for tests only.
	InsecureSkipVerify bool
}

// LoadTLS builds a TLS client config from PEM files.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // explicit opt-in, warned about by callers
	if f.CAFile != "" {
		pemBytes, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("conn: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("conn: CA file %s holds no PEM certificate: %w", f.CAFile, ErrInvalidSecurity)
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.CertFile != "" && f.KeyFile != "":
		pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("conn: load client certificate %s and key %s: %w", f.CertFile, f.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case f.CertFile != "" || f.KeyFile != "":
		return nil, fmt.Errorf("conn: a client certificate needs both a certificate file and a key file: %w", ErrInvalidSecurity)
	}
	return cfg, nil
}

// SASL mechanism names, as Kafka spells them.
const (
	MechPlain       = "PLAIN"
	MechScramSHA256 = "SCRAM-SHA-256"
	MechScramSHA512 = "SCRAM-SHA-512"
	MechOAuthBearer = "OAUTHBEARER"
)

// Credentials are a SASL user and password.
type Credentials struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	User      string
	Password  string
}

// SASLMechanism returns the franz-go mechanism for c.
func SASLMechanism(c Credentials) (sasl.Mechanism, error) {
	if c.User == "" || c.Password == "" {
		return nil, fmt.Errorf("conn: SASL %s needs a user and a password: %w", c.Mechanism, ErrInvalidSecurity)
	}
	switch strings.ToUpper(c.Mechanism) {
	case MechPlain:
		return plain.Auth{User: c.User, Pass: c.Password}.AsMechanism(), nil
	case MechScramSHA256:
		return scram.Auth{User: c.User, Pass: c.Password}.AsSha256Mechanism(), nil
	case MechScramSHA512:
		return scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism(), nil
	case MechOAuthBearer:
		return nil, fmt.Errorf("conn: OAUTHBEARER takes a token callback (OAuthBearer), not a password: %w", ErrInvalidSecurity)
	}
	return nil, fmt.Errorf("conn: unknown SASL mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512: %w", c.Mechanism, ErrInvalidSecurity)
}

// OAuthBearer returns an OAUTHBEARER mechanism that asks token for a token at
// every authentication (it may cache and refresh as it likes).
func OAuthBearer(token func(ctx context.Context) (string, error)) sasl.Mechanism {
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		t, err := token(ctx)
		return oauth.Auth{Token: t}, err
	})
}

// PasswordFromFile reads a password from a file, dropping one trailing newline.
func PasswordFromFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("conn: read password file: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}
