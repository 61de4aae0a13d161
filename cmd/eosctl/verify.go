package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/txn/verify"
)

func newVerifyCmd(e *env) *cobra.Command {
	var (
		cf  clusterFlags
		cfg verify.Config
		out outputFlag

		historyFile string
	)
	cmd := &cobra.Command{
		Use:   "verify --from IN --to OUT",
		Short: "Check that an output topic holds each input record exactly once",
		Long: `Check that the output topics are an exactly-once image of the input topics.

verify reads the input topics (committed records, up to their last stable
offsets at the start) and then the output topics (read_committed, so records
of aborted or open transactions never count), and reports:

  duplicates    input records explained by more than one output record
  missing       input records no output record explains
  unexplained   output records no committed input record explains
  order         with --order: within an output partition, outputs of one input
                partition out of input-offset order (--order-by-key: only
                between records with the same key)
  mismatches    with --identity: outputs whose key or value differ from their input

With --history FILE (the JSON lines a verify.History hook recorded), it also
checks each transaction as the processor saw it end: lost writes (seen
committed, outputs not visible), aborted reads (seen aborted, outputs
visible), duplicates, unseen inputs and non-monotonic offsets.

An output record is matched to its input by the eoskit-source provenance
header (topic/partition/offset) that eoskit's txn processors and 'eosctl
copy' stamp, else by key and value, so outputs of other tools can be checked.
It assumes one output per input (a copy or a map).

Exit status: 0 no anomaly, 1 anomalies found (or the cluster failed), 2 bad
flags or unknown topics. Verify a pipeline that has stopped or caught up (or
use --wait): unprocessed input shows as missing.`,
		Example: `  eosctl verify --from orders --to orders-copy --order
  eosctl verify --from in --to out,out-dlq --output json --brokers 127.0.0.1:9092`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			cc, err := cf.config()
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return usageErr(fmt.Errorf("%w (flags --from, --to, --order, --order-by-key, --wait, --settle-timeout)", err))
			}
			// --timeout bounds the reading; --wait comes on top.
			ctx, cancel := context.WithTimeout(cmd.Context(), cf.timeout+cfg.Wait+max(cfg.SettleTimeout, 0))
			defer cancel()
			var hrep verify.HistoryReport
			var rep verify.Report
			if historyFile != "" {
				h, herr := verify.ReadHistoryFile(historyFile)
				if herr != nil {
					return usageErr(fmt.Errorf("%w (flag --history)", herr))
				}
				hrep, err = verify.CheckHistory(ctx, cc, cfg, h)
				rep = hrep.Verify
			} else {
				rep, err = verify.Run(ctx, cc, cfg)
			}
			switch {
			case errors.Is(err, verify.ErrUnknownTopic):
				return usageErr(err)
			case errors.Is(err, verify.ErrCompactedOutput):
				return usageErr(fmt.Errorf("%w (pass --allow-compacted to verify it anyway)", err))
			case err != nil:
				return withCode(exitFailed, err)
			}
			if historyFile != "" {
				if out.format == "json" {
					e.stdout.Write(hrep.JSON())
				} else {
					hrep.WriteText(e.stdout)
				}
				if !hrep.OK() {
					return withCode(exitFailed, fmt.Errorf("verify: anomalies found (%d in the history, %d in the records)", hrep.HistoryAnomalies(), rep.Anomalies()))
				}
				return nil
			}
			if out.format == "json" {
				e.stdout.Write(rep.JSON())
			} else {
				rep.WriteText(e.stdout)
			}
			if !rep.OK() {
				return withCode(exitFailed, fmt.Errorf("verify: anomalies found (%d): the output is not an exactly-once copy of the input", rep.Anomalies()))
			}
			return nil
		},
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&cfg.Input, "from", nil, "input topics (comma-separated or repeated)")
	fl.StringSliceVar(&cfg.Output, "to", nil, "output topics (comma-separated or repeated; a dead-letter topic may be added)")
	fl.BoolVar(&cfg.Order, "order", false, "check order: per output partition, outputs of an input partition follow its offsets")
	fl.BoolVar(&cfg.OrderByKey, "order-by-key", false, "with --order, only count reorderings between records with the same key")
	fl.BoolVar(&cfg.Identity, "identity", false, "outputs are copies: check that key and value equal the input's")
	fl.DurationVar(&cfg.Wait, "wait", 0, "keep reading the output this long while inputs are missing (a pipeline catching up)")
	fl.IntVar(&cfg.MaxListed, "max-listed", verify.DefaultMaxListed, "list at most this many anomalies of each kind (-1: all)")
	fl.DurationVar(&cfg.SettleTimeout, "settle-timeout", verify.DefaultSettleTimeout, "wait this long for every partition's last stable offset to reach its high watermark (an open transaction holds unread records); unsettled fails")
	fl.BoolVar(&cfg.AllowCompacted, "allow-compacted", false, "verify compacted output topics too (compaction may hide duplicates)")
	fl.StringVar(&historyFile, "history", "", "also check this history file (JSON lines of verify.History: each transaction's outcome, input offsets, outputs) for lost writes, aborted reads, duplicates, unseen inputs and non-monotonic offsets")
	out.register(cmd)
	return cmd
}
