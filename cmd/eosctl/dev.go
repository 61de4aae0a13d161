package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/integration"
)

func newDevCmd(e *env) *cobra.Command {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Development helpers: real Kafka clusters and PostgreSQL servers on this machine",
	}
	dev.AddCommand(newDevClusterCmd(e), newDevPostgresCmd(e))
	return dev
}

type devClusterFlags struct {
	nodes               int
	backend             string
	txnVersion          int
	image               string
	kafkaHome           string
	dedicatedController bool
	brokerConfigs       []string
	startTimeout        time.Duration
	networkFaults       bool
	controlAddr         string
	controlAddrSet      bool
}

func newDevClusterCmd(e *env) *cobra.Command {
	var f devClusterFlags
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Start a real Apache Kafka KRaft cluster in the foreground",
		Long: `Start a real Apache Kafka (KRaft) cluster of 1 or 3 nodes and keep it running.

Once every broker is registered and healthy, one line is printed on stdout:

    bootstrap=127.0.0.1:PORT[,127.0.0.1:PORT...]

then broker events are logged on stderr. Ctrl-C or SIGTERM stops the cluster and
removes its containers or folders.

With --network-faults every link (clients to each broker, broker to broker,
node to controller) goes through a proxy on 127.0.0.1, and a second line
names a control endpoint on --control-addr:

    control=http://127.0.0.1:PORT

    curl -s $CONTROL/links                                  # links, counters, faults
    curl -s -X POST $CONTROL/isolate/2                      # node 2 cut off from everything
    curl -s -X POST -d '{"groups":[[1],[2,3]]}' $CONTROL/partition
    curl -s -X POST $CONTROL/cut-clients/3                  # only clients lose broker 3
    curl -s -X POST $CONTROL/cut-answers/3                  # broker 3 applies requests, answers are lost
    curl -s -X POST "$CONTROL/latency?ms=100&jitter=20"     # every link, or &nodes=1,2
    curl -s -X POST "$CONTROL/bandwidth?kbps=64"            # kilobytes per second
    curl -s -X POST "$CONTROL/reset-after?bytes=4096"       # connections end after 4 KiB
    curl -s -X POST $CONTROL/heal                           # every fault removed

See 'go doc github.com/eoskit/eoskit/integration' for what each does.

Backends: "containers" (Docker, or podman's Docker API: see 'make podman') runs
each node in a container of the image from 'make kafka-image' or apache/kafka;
"processes" runs JVMs from the jars that 'make kafka' fetched. Without --backend
(or EOSKIT_BACKEND) eosctl picks containers when an engine answers.`,
		Example: `  eosctl dev cluster --nodes 3
  eosctl dev cluster --nodes 1 --backend processes --txn-version 1
  eosctl dev cluster --nodes 3 --network-faults --control-addr 127.0.0.1:7777`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.controlAddrSet = cmd.Flags().Changed("control-addr")
			opts, err := f.options(e)
			if err != nil {
				return usageErr(err)
			}
			control := ""
			if f.networkFaults {
				control = f.controlAddr
			}
			return runDevCluster(cmd.Context(), e, opts, control)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.nodes, "nodes", 1, "number of nodes: 1 or 3 (each broker and controller)")
	fl.StringVar(&f.backend, "backend", "", "containers or processes (default: $EOSKIT_BACKEND, else automatic)")
	fl.IntVar(&f.txnVersion, "txn-version", 2, "transaction.version to format the cluster with: 1 or 2")
	fl.StringVar(&f.image, "image", "", "container image (default: $EOSKIT_KAFKA_IMAGE, else the local eoskit image, else apache/kafka)")
	fl.StringVar(&f.kafkaHome, "kafka-home", "", "folder with the Kafka jars in libs/ (default: $EOSKIT_KAFKA_HOME, else the cache 'make kafka' fills)")
	fl.BoolVar(&f.dedicatedController, "dedicated-controller", false, "run the KRaft quorum on one extra controller-only node")
	fl.StringArrayVar(&f.brokerConfigs, "broker-config", nil, "broker property KEY=VALUE for every node (repeatable)")
	fl.DurationVar(&f.startTimeout, "start-timeout", 3*time.Minute, "how long to wait for a healthy cluster")
	fl.BoolVar(&f.networkFaults, "network-faults", false, "route every link through a fault-injecting proxy, controlled over HTTP on --control-addr")
	fl.StringVar(&f.controlAddr, "control-addr", "127.0.0.1:0", "loopback address of the network fault control endpoint (with --network-faults)")
	return cmd
}

func (f *devClusterFlags) options(e *env) ([]integration.Option, error) {
	if f.nodes != 1 && f.nodes != 3 {
		return nil, fmt.Errorf("--nodes %d: use 1 or 3", f.nodes)
	}
	if f.txnVersion != 1 && f.txnVersion != 2 {
		return nil, fmt.Errorf("--txn-version %d: use 1 or 2", f.txnVersion)
	}
	opts := []integration.Option{
		integration.WithNodes(f.nodes),
		integration.WithTransactionVersion(f.txnVersion),
		integration.WithStartTimeout(f.startTimeout),
		integration.WithLogger(slog.New(slog.NewTextHandler(e.stderr, nil))),
	}
	switch integration.Backend(f.backend) {
	case "":
	case integration.BackendContainers, integration.BackendProcesses:
		opts = append(opts, integration.WithBackend(integration.Backend(f.backend)))
	default:
		return nil, fmt.Errorf("--backend %q: use containers or processes", f.backend)
	}
	if f.image != "" {
		opts = append(opts, integration.WithImage(f.image))
	}
	if f.kafkaHome != "" {
		opts = append(opts, integration.WithKafkaHome(f.kafkaHome))
	}
	if f.dedicatedController {
		opts = append(opts, integration.WithDedicatedController())
	}
	if f.controlAddrSet && !f.networkFaults {
		return nil, fmt.Errorf("--control-addr needs --network-faults")
	}
	if f.networkFaults {
		if err := integration.CheckControlAddr(f.controlAddr); err != nil {
			return nil, fmt.Errorf("--control-addr: %w", err)
		}
		opts = append(opts, integration.WithNetworkFaults())
	}
	for _, kv := range f.brokerConfigs {
		k, v, ok := cutKV(kv)
		if !ok {
			return nil, fmt.Errorf("--broker-config %q: want KEY=VALUE", kv)
		}
		opts = append(opts, integration.WithBrokerConfig(k, v))
	}
	return opts, nil
}

func cutKV(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], i > 0
		}
	}
	return "", "", false
}

// runDevCluster runs a cluster until ctx ends; with a control address (and
// network faults) it serves the fault control endpoint there.
func runDevCluster(ctx context.Context, e *env, opts []integration.Option, control string) error {
	c, err := integration.StartCluster(ctx, opts...)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(e.stderr, "eosctl: stopping the cluster")
		if err := c.Close(); err != nil {
			fmt.Fprintf(e.stderr, "eosctl: close cluster: %v\n", err)
		}
	}()
	fmt.Fprintf(e.stdout, "bootstrap=%s\n", c.BootstrapString())
	if control != "" {
		url, err := c.Network().Serve(ctx, control)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "control=%s\n", url)
	}
	fmt.Fprintf(e.stderr, "eosctl: cluster of %d node(s) on backend %s is healthy; Ctrl-C stops it\n",
		len(c.NodeIDs()), c.Backend())
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	var lastHealthy = true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			hctx, cancel := context.WithTimeout(ctx, 8*time.Second)
			h, err := c.CheckHealth(hctx)
			cancel()
			healthy := err == nil && len(h.Unreachable) == 0 && len(h.UnderReplicated) == 0 && len(h.OfflinePartitions) == 0
			if healthy != lastHealthy {
				if healthy {
					fmt.Fprintln(e.stderr, "eosctl: cluster healthy again")
				} else {
					fmt.Fprintf(e.stderr, "eosctl: cluster unhealthy: %+v %v\n", h, err)
				}
				lastHealthy = healthy
			}
		}
	}
}
