package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/internal/conn"
)

// clusterFlags are the connection flags every command that talks to a
// cluster shares. Connection security (TLS, SASL) will be added here.
type clusterFlags struct {
	brokers string
	timeout time.Duration
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.brokers, "brokers", conn.BrokersFromEnv(),
		"comma-separated seed brokers host:port (default from $"+conn.EnvBrokers+")")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout for the whole operation")
}

// config returns the connection config, or a usage error.
func (f *clusterFlags) config() (conn.Config, error) {
	c := conn.Config{Brokers: conn.ParseBrokers(f.brokers), ClientID: "eosctl"}
	if err := c.Validate(); err != nil {
		return c, usageErr(err)
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
