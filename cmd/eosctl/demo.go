package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/demo"
)

func newDemoCmd(e *env) *cobra.Command {
	var (
		cfg     demo.Config
		brokers string
		format  string
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the zero-setup exactly-once demo: a live copy, a crash, a verification",
		Long: `Run eoskit's exactly-once demo.

A stream of records is produced to an input topic while several txn
processors copy it to an output topic, each committing its outputs and its
consumed offsets in one Kafka transaction. Mid-way, one processor crashes in
the middle of a transaction (its connections are cut: it never ends the
transaction nor leaves the group) and a replacement starts with the same
transactional ID, which fences it and aborts the open transaction. When the
group has consumed the whole input, the processors stop and the output is
verified with read_committed: no duplicate, nothing missing, order kept.

Without --brokers the demo runs on an embedded, in-process kfake cluster: a
simulation of Kafka, said so in the summary. With --brokers it runs on that
real cluster (start one with 'eosctl dev cluster --nodes 3'); its topics are
deleted afterwards unless --keep.

The summary goes to stdout, progress to stderr. Exit status: 0 verified, 1
anomalies found or the demo failed, 2 bad flags.`,
		Example: `  eosctl demo
  eosctl dev cluster --nodes 3    # in another terminal: prints bootstrap=...
  eosctl demo --brokers 127.0.0.1:PORT,127.0.0.1:PORT,127.0.0.1:PORT`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageErr(fmt.Errorf("--output %q: use table or json", format))
			}
			cfg.Brokers = eoskit.ParseBrokers(brokers)
			cfg.Progress = e.stderr
			if f, ok := e.stderr.(*os.File); ok {
				cfg.Terminal = isTerminal(f) // redraw the progress line in place
			}
			if verbose {
				cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
			}
			res, err := demo.Run(cmd.Context(), cfg)
			switch {
			case errors.Is(err, demo.ErrInvalidConfig):
				return usageErr(err)
			case err != nil:
				return withCode(exitFailed, err)
			}
			if format == "json" {
				e.stdout.Write(res.JSON())
			} else {
				res.WriteText(e.stdout)
			}
			if !res.OK() {
				return withCode(exitFailed, errors.New("demo: the output is NOT an exactly-once copy of the input (see above)"))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&brokers, "brokers", "", "seed brokers host:port of a real cluster (default: an embedded kfake simulation)")
	fl.IntVar(&cfg.Records, "records", demo.DefaultRecords, "input records to produce")
	fl.Int32Var(&cfg.Partitions, "partitions", demo.DefaultPartitions, "partitions of the input and output topics")
	fl.IntVar(&cfg.Processors, "processors", demo.DefaultProcessors, "txn processors copying the input (the second one crashes)")
	fl.DurationVar(&cfg.StreamFor, "stream-for", demo.DefaultStreamFor, "spread the input over about this long")
	fl.Float64Var(&cfg.CrashAt, "crash-at", demo.DefaultCrashAt, "crash a processor when this fraction of the input is copied")
	fl.DurationVar(&cfg.Timeout, "timeout", demo.DefaultTimeout, "how long to wait for the output to catch up")
	fl.BoolVar(&cfg.Keep, "keep", false, "keep the demo topics on a real cluster")
	fl.BoolVar(&verbose, "verbose", false, "log the processors' events to stderr")
	fl.StringVarP(&format, "output", "o", "table", "summary format: table or json")
	return cmd
}
