// Package conn is the connection plumbing every eoskit client and eosctl
// command shares beyond eoskit.Conn itself: the broker list's environment
// default, and the explanation of authentication, authorization and TLS
// failures (ExplainAuthError, Check) as one-line *eoskit.AccessError values
// that say what is wrong and what to do. Library messages never name
// eosctl flags; the CLI maps AccessError.Fix to its flags.
package conn

import "os"

// EnvBrokers is the environment variable eosctl reads for --brokers.
const EnvBrokers = "EOSKIT_BROKERS"

// DefaultBrokers is used when neither a flag nor EOSKIT_BROKERS names brokers.
const DefaultBrokers = "localhost:9092"

// BrokersFromEnv returns EOSKIT_BROKERS, else DefaultBrokers.
func BrokersFromEnv() string {
	if v := os.Getenv(EnvBrokers); v != "" {
		return v
	}
	return DefaultBrokers
}
