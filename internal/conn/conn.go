// Package conn holds the connection settings every eoskit client and eosctl
// command shares: seed brokers, client ID, TLS and SASL. Packages turn a
// Config into franz-go options with Opts; nothing else builds connection
// options. ExplainAuthError and Check turn authentication, authorization and
// TLS failures into one-line *SecurityError values that say what to do
// (for a missing ACL: the eosctl acls apply command that grants it).
package conn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// EnvBrokers is the environment variable eosctl reads for --brokers.
const EnvBrokers = "EOSKIT_BROKERS"

// DefaultBrokers is used when neither a flag nor EOSKIT_BROKERS names brokers.
const DefaultBrokers = "localhost:9092"

// ErrNoBrokers reports an empty broker list.
var ErrNoBrokers = errors.New("no brokers given")

// Config is how to reach a cluster.
type Config struct {
	Brokers  []string // host:port seeds
	ClientID string   // default "eoskit"
	// TLS, when set, encrypts connections (LoadTLS builds one from files).
	TLS *tls.Config
	// SASL, when set, authenticates (SASLMechanism, OAuthBearer).
	SASL sasl.Mechanism
}

// ParseBrokers splits a comma-separated list, trimming blanks.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// BrokersFromEnv returns EOSKIT_BROKERS, else DefaultBrokers.
func BrokersFromEnv() string {
	if v := os.Getenv(EnvBrokers); v != "" {
		return v
	}
	return DefaultBrokers
}

// Validate reports a Config that cannot connect.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("conn: %w: pass seed brokers as host:port (flag --brokers or %s)", ErrNoBrokers, EnvBrokers)
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("conn: broker %q has no port: write host:port", b)
		}
	}
	return nil
}

// Opts returns the franz-go options for c.
func (c Config) Opts() []kgo.Opt {
	id := c.ClientID
	if id == "" {
		id = "eoskit"
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
