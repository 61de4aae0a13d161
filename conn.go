package eoskit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultClientID is the client ID brokers see when Conn.ClientID is empty.
const DefaultClientID = "eoskit"

// Conn is where and how to reach a Kafka cluster. It is a plain value:
// every eoskit constructor takes it first, and integration.Cluster hands
// one out for a test cluster. The zero value is invalid (no brokers).
type Conn struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// ClientID is the client ID brokers log and quota by. Default
	// DefaultClientID.
	ClientID string
	// TLS, when set, encrypts connections (LoadTLS builds one from PEM
	// files; add a client certificate for mTLS).
	TLS *tls.Config
	// SASL, when set, authenticates (SASLMechanism, OAuthBearer, or any
	// franz-go mechanism).
	SASL sasl.Mechanism
	// KgoOpts are extra franz-go options (tuning, kgo hooks such as
	// plugin/kprom). They are applied after eoskit's defaults; each package
	// refuses, with ErrInvalidOption naming the option, those that would
	// undo its guarantees (acks, idempotence, isolation level, offset
	// reset, transactional ID, group settings). Their Unsafe* options are
	// the named opt-outs.
	KgoOpts []kgo.Opt
}

// ErrNoBrokers reports a Conn without seed brokers.
var ErrNoBrokers = errors.New("no seed brokers")

// Validate reports a Conn that cannot connect. The error wraps
// ErrInvalidOption (and ErrNoBrokers when Brokers is empty).
func (c Conn) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("eoskit: %w: %w: set Conn.Brokers to host:port seeds", ErrInvalidOption, ErrNoBrokers)
	}
	for _, b := range c.Brokers {
		if i := strings.LastIndex(b, ":"); i <= 0 || i == len(b)-1 {
			return fmt.Errorf("eoskit: %w: broker %q is not host:port", ErrInvalidOption, b)
		}
	}
	return nil
}

// BaseOpts returns the franz-go options for the connection itself: seed
// brokers, client ID, TLS and SASL, without KgoOpts.
func (c Conn) BaseOpts() []kgo.Opt {
	id := c.ClientID
	if id == "" {
		id = DefaultClientID
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(id)}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS.Clone()))
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL))
	}
	return opts
}

// Opts returns BaseOpts followed by KgoOpts.
func (c Conn) Opts() []kgo.Opt {
	return append(c.BaseOpts(), c.KgoOpts...)
}

// NewClient returns a franz-go client for c, with opts applied last: for
// admin work and tests. The eoskit clients build their own.
func (c Conn) NewClient(opts ...kgo.Opt) (*kgo.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(c.Opts(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("eoskit: %w: %w", ErrInvalidOption, err)
	}
	return cl, nil
}

// ParseBrokers splits a comma-separated broker list, trimming blanks.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// TLSFiles names the PEM files of a TLS client configuration.
type TLSFiles struct {
	CAFile     string // trust these CAs instead of the system roots
	CertFile   string // client certificate (mTLS); needs KeyFile
	KeyFile    string
	ServerName string // verify the brokers' certificates for this name
	// InsecureSkipVerify accepts any broker certificate: for tests only.
	InsecureSkipVerify bool
}

// LoadTLS builds a TLS client config from PEM files. Errors wrap
// ErrInvalidOption.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // explicit opt-in
	if f.CAFile != "" {
		pemBytes, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("eoskit: read CA file: %w: %w", ErrInvalidOption, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("eoskit: CA file %s holds no PEM certificate: %w", f.CAFile, ErrInvalidOption)
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.CertFile != "" && f.KeyFile != "":
		pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("eoskit: load client certificate %s and key %s: %w: %w", f.CertFile, f.KeyFile, ErrInvalidOption, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case f.CertFile != "" || f.KeyFile != "":
		return nil, fmt.Errorf("eoskit: a client certificate needs both a certificate file and a key file: %w", ErrInvalidOption)
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

// SASLMechanism returns the franz-go mechanism for a user and password:
// mech is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Errors wrap
// ErrInvalidOption.
func SASLMechanism(mech, user, password string) (sasl.Mechanism, error) {
	if user == "" || password == "" {
		return nil, fmt.Errorf("eoskit: SASL %s needs a user and a password: %w", mech, ErrInvalidOption)
	}
	switch strings.ToUpper(mech) {
	case MechPlain:
		return plain.Auth{User: user, Pass: password}.AsMechanism(), nil
	case MechScramSHA256:
		return scram.Auth{User: user, Pass: password}.AsSha256Mechanism(), nil
	case MechScramSHA512:
		return scram.Auth{User: user, Pass: password}.AsSha512Mechanism(), nil
	case MechOAuthBearer:
		return nil, fmt.Errorf("eoskit: OAUTHBEARER takes a token callback (OAuthBearer), not a password: %w", ErrInvalidOption)
	}
	return nil, fmt.Errorf("eoskit: unknown SASL mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512: %w", mech, ErrInvalidOption)
}

// OAuthBearer returns an OAUTHBEARER mechanism that asks token for a token
// at every authentication (it may cache and refresh as it likes).
func OAuthBearer(token func(ctx context.Context) (string, error)) sasl.Mechanism {
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		t, err := token(ctx)
		return oauth.Auth{Token: t}, err
	})
}

// PasswordFromFile reads a password from a file, dropping one trailing
// newline.
func PasswordFromFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("eoskit: read password file: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}
