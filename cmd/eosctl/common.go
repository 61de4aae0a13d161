package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
)

// clusterFlags are the connection flags every command that talks to a
// cluster shares: brokers, timeout, TLS and SASL. Each has an EOSKIT_*
// environment default; the SASL password comes only from the environment
// ($EOSKIT_SASL_PASSWORD) or a file, never from a flag, and is never printed.
type clusterFlags struct {
	brokers string
	timeout time.Duration

	tls           bool
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	tlsInsecure   bool

	saslMechanism    string
	saslUser         string
	saslPasswordFile string

	cmd *cobra.Command // for its error stream, known only once the tree is built
}

// Environment variables behind the security flags.
const (
	envTLS              = "EOSKIT_TLS"
	envTLSCA            = "EOSKIT_TLS_CA"
	envTLSCert          = "EOSKIT_TLS_CERT"
	envTLSKey           = "EOSKIT_TLS_KEY"
	envTLSServerName    = "EOSKIT_TLS_SERVER_NAME"
	envSASLMechanism    = "EOSKIT_SASL_MECHANISM"
	envSASLUser         = "EOSKIT_SASL_USER"
	envSASLPassword     = "EOSKIT_SASL_PASSWORD"
	envSASLPasswordFile = "EOSKIT_SASL_PASSWORD_FILE"
)

func (f *clusterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.brokers, "brokers", conn.BrokersFromEnv(),
		"comma-separated seed brokers host:port (default from $"+conn.EnvBrokers+")")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout for the whole operation")
	fl.BoolVar(&f.tls, "tls", os.Getenv(envTLS) == "true", "connect with TLS (implied by the other --tls-* flags; $"+envTLS+"=true)")
	fl.StringVar(&f.tlsCA, "tls-ca", os.Getenv(envTLSCA), "PEM file of the CAs to trust instead of the system roots ($"+envTLSCA+")")
	fl.StringVar(&f.tlsCert, "tls-cert", os.Getenv(envTLSCert), "PEM client certificate for mTLS ($"+envTLSCert+")")
	fl.StringVar(&f.tlsKey, "tls-key", os.Getenv(envTLSKey), "PEM client key for mTLS ($"+envTLSKey+")")
	fl.StringVar(&f.tlsServerName, "tls-server-name", os.Getenv(envTLSServerName), "name to verify the brokers' certificates for ($"+envTLSServerName+")")
	fl.BoolVar(&f.tlsInsecure, "tls-insecure-skip-verify", false, "accept any broker certificate (tests only; prints a warning)")
	fl.StringVar(&f.saslMechanism, "sasl-mechanism", os.Getenv(envSASLMechanism), "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 ($"+envSASLMechanism+")")
	fl.StringVar(&f.saslUser, "sasl-user", os.Getenv(envSASLUser), "SASL user ($"+envSASLUser+"); the password comes from $"+envSASLPassword+" or --sasl-password-file")
	fl.StringVar(&f.saslPasswordFile, "sasl-password-file", os.Getenv(envSASLPasswordFile), "file holding the SASL password ($"+envSASLPasswordFile+")")
	f.cmd = cmd
}

// config returns the connection config, or a usage error.
func (f *clusterFlags) config() (eoskit.Conn, error) {
	c := eoskit.Conn{Brokers: eoskit.ParseBrokers(f.brokers), ClientID: "eosctl"}
	if err := c.Validate(); err != nil {
		return c, usageErr(fmt.Errorf("--brokers (or $%s): %w", conn.EnvBrokers, err))
	}
	if f.tls || f.tlsCA != "" || f.tlsCert != "" || f.tlsKey != "" || f.tlsServerName != "" || f.tlsInsecure {
		tc, err := eoskit.LoadTLS(eoskit.TLSFiles{CAFile: f.tlsCA, CertFile: f.tlsCert, KeyFile: f.tlsKey,
			ServerName: f.tlsServerName, InsecureSkipVerify: f.tlsInsecure})
		if err != nil {
			return c, usageErr(err)
		}
		if f.tlsInsecure && f.cmd != nil {
			fmt.Fprintln(f.cmd.ErrOrStderr(), "eosctl: WARNING: --tls-insecure-skip-verify accepts any broker certificate; use it only in tests")
		}
		c.TLS = tc
	}
	if f.saslMechanism != "" || f.saslUser != "" {
		pw := os.Getenv(envSASLPassword)
		if f.saslPasswordFile != "" {
			var err error
			if pw, err = eoskit.PasswordFromFile(f.saslPasswordFile); err != nil {
				return c, usageErr(err)
			}
		}
		mech := f.saslMechanism
		if mech == "" {
			mech = eoskit.MechScramSHA512
		}
		m, err := eoskit.SASLMechanism(mech, f.saslUser, pw)
		if err != nil {
			return c, usageErr(fmt.Errorf("%w (set $%s or --sasl-password-file)", err, envSASLPassword))
		}
		c.SASL = m
	}
	return c, nil
}

// withTimeout bounds ctx by --timeout.
func (f *clusterFlags) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.timeout)
}

// outputFlag is --output table|json.
type outputFlag struct{ format string }

func (o *outputFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "table", "output format: table or json")
}

func (o *outputFlag) validate() error {
	switch o.format {
	case "table", "json":
		return nil
	}
	return usageErr(fmt.Errorf("--output %q: use table or json", o.format))
}
