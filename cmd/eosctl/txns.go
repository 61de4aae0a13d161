package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/admin"
)

// opsErr maps admin errors to exit codes: nothing to abort, an ambiguous
// partition and unknown groups are input problems (exit 2), the rest exit 1.
func opsErr(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, admin.ErrNoOpenTransaction) || errors.Is(err, admin.ErrAmbiguousTransaction) || errors.Is(err, admin.ErrUnknownGroup) {
		return usageErr(err)
	}
	return withCode(exitFailed, err)
}

// queryCmd is the RunE of a command that asks the cluster once and prints
// the answer: connect with f's flags, ask, write what came back (also
// after a partial failure), then map ask's error to an exit code.
func queryCmd[T any](e *env, f *topicsFlags, ask func(ctx context.Context, adm *admin.Client, args []string) (T, error),
	write func(w io.Writer, asJSON bool, v T) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		adm, ctx, done, err := f.connect(cmd.Context())
		if err != nil {
			return err
		}
		defer done()
		v, err := ask(ctx, adm, args)
		if werr := write(e.stdout, f.json(), v); werr != nil {
			return werr
		}
		return opsErr(err)
	}
}

func newTxnsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "txns",
		Short: "Inspect transactions and end hanging ones: list, describe, producers, hanging, abort (KIP-664)",
		Long: `Inspect the transactions of a cluster and end hanging ones, as Kafka's
kafka-transactions.sh does (KIP-664).

An open transaction holds its partitions' last stable offset (LSO): every
read_committed consumer stops there until the transaction ends, while lag
tools that look at the high watermark show nothing wrong. "hanging" finds
transactions open longer than their timeout or --max-age, or unknown to their
coordinator, and the consumer groups they block; "abort" ends one.

Exit codes: 0 success; 1 operation failed; 2 bad usage, or nothing to abort
(nothing was changed).`,
	}
	cmd.AddCommand(newTxnsListCmd(e), newTxnsDescribeCmd(e), newTxnsProducersCmd(e), newTxnsHangingCmd(e), newTxnsAbortCmd(e))
	return cmd
}

func newTxnsListCmd(e *env) *cobra.Command {
	var f topicsFlags
	var filter admin.TxnFilter
	cmd := &cobra.Command{
		Use:     "list [--state S] [--txn-id-prefix P]",
		Short:   "List transactional IDs with their state and producer ID",
		Example: "  eosctl txns list --state Ongoing --txn-id-prefix orders-",
		Args:    cobra.NoArgs,
		RunE: queryCmd(e, &f, func(ctx context.Context, adm *admin.Client, _ []string) ([]admin.Transaction, error) {
			ts, err := adm.ListTransactions(ctx, filter)
			return ts.Sorted(), err
		}, writeTxnList),
	}
	f.register(cmd)
	cmd.Flags().StringSliceVar(&filter.States, "state", nil, "only these states (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort), comma-separated")
	cmd.Flags().StringVar(&filter.IDPrefix, "txn-id-prefix", "", "only transactional IDs starting with this")
	return cmd
}

func newTxnsDescribeCmd(e *env) *cobra.Command {
	var f topicsFlags
	cmd := &cobra.Command{
		Use:     "describe TXN-ID...",
		Short:   "Describe transactional IDs: state, producer ID and epoch, timeout, start time, partitions, coordinator",
		Example: "  eosctl txns describe orders-0 orders-1 -o json",
		Args:    cobra.MinimumNArgs(1),
		RunE: queryCmd(e, &f, func(ctx context.Context, adm *admin.Client, ids []string) ([]admin.Transaction, error) {
			ts, err := adm.DescribeTransactions(ctx, ids...)
			if err == nil {
				err = ts.Error()
			}
			return ts.Sorted(), err
		}, writeTxnDescribe),
	}
	f.register(cmd)
	return cmd
}

func newTxnsProducersCmd(e *env) *cobra.Command {
	var f topicsFlags
	var topics []string
	cmd := &cobra.Command{
		Use:     "producers --topic T",
		Short:   "Describe the producers with state on each partition (DescribeProducers): epoch, last write, open transaction",
		Example: "  eosctl txns producers --topic orders",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(topics) == 0 {
				return usageErr(errors.New("--topic is required"))
			}
			return queryCmd(e, &f, func(ctx context.Context, adm *admin.Client, _ []string) ([]admin.PartitionProducers, error) {
				return adm.DescribeProducers(ctx, topics...)
			}, writeProducers)(cmd, nil)
		},
	}
	f.register(cmd)
	cmd.Flags().StringSliceVar(&topics, "topic", nil, "topics, comma-separated (required)")
	return cmd
}

func newTxnsHangingCmd(e *env) *cobra.Command {
	var f topicsFlags
	var o admin.HangingOptions
	cmd := &cobra.Command{
		Use:   "hanging [--topic T] [--max-age D]",
		Short: "Find open transactions that pin a partition's LSO: past their timeout or --max-age, or unknown to their coordinator",
		Long: `Find the partitions whose open transaction (DescribeProducers) is hanging:
unknown to its coordinator (no transactional ID holds the producer ID, or the
coordinator has no open transaction of it there), open longer than its
transaction timeout, or open longer than --max-age. Each comes with the
partition's LSO and high watermark and the consumer groups it blocks, with
their lag behind it. A candidate is checked twice, so a transaction that just
ended is not reported. End one with "eosctl txns abort".`,
		Example: "  eosctl txns hanging --topic orders --max-age 5m",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.MaxAge < 0 {
				return usageErr(fmt.Errorf("--max-age %v: use a positive duration", o.MaxAge))
			}
			adm, ctx, done, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			h, err := adm.FindHanging(ctx, o)
			if err != nil {
				return opsErr(fmt.Errorf("find hanging transactions: %w", err))
			}
			return writeHanging(e.stdout, f.json(), h)
		},
	}
	f.register(cmd)
	cmd.Flags().StringSliceVar(&o.Topics, "topic", nil, "only these topics, comma-separated (default: all)")
	cmd.Flags().DurationVar(&o.MaxAge, "max-age", 0, "also report open transactions older than this (default: only those past their own timeout or unknown to the coordinator)")
	return cmd
}

func newTxnsAbortCmd(e *env) *cobra.Command {
	var f topicsFlags
	var (
		spec  admin.AbortSpec
		txnID string
		yes   bool
	)
	cmd := &cobra.Command{
		Use:   "abort (--topic T --partition P [--producer-id N --producer-epoch N --coordinator-epoch N] | --txn-id ID) [--yes]",
		Short: "Abort an open transaction, then show the partition's LSO moving",
		Long: `Abort an open transaction.

With --topic and --partition, abort markers are written to the partition's
leader for the producer holding it (KIP-664, as kafka-transactions.sh abort
does): use it for a hanging transaction. The producer ID, producer epoch and
coordinator epoch may be left out when the partition has exactly one open
transaction, or when --start-offset names it: they are looked up.

With --txn-id, the transactional ID is fenced through its coordinator (an
InitProducerID, as a restarted instance with that ID does): the coordinator
aborts its open transaction on every partition, and the producer that opened
it can no longer write.

abort shows its plan first and asks on a terminal unless --yes (without a
terminal and without --yes it refuses, exit 2). It then waits until each
partition's LSO has moved past the transaction and shows it before and after.`,
		Example: `  eosctl txns abort --topic orders --partition 3
  eosctl txns abort --topic orders --partition 3 --producer-id 4001 --producer-epoch 0 --coordinator-epoch 2 --yes
  eosctl txns abort --txn-id orders-7 --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			byPartition := fl.Changed("topic") || fl.Changed("partition")
			switch {
			case txnID != "" && byPartition:
				return usageErr(errors.New("give either --txn-id or --topic and --partition, not both"))
			case txnID == "" && (spec.Topic == "" || !fl.Changed("partition")):
				return usageErr(errors.New("name the transaction: --topic and --partition (see eosctl txns hanging), or --txn-id"))
			case txnID != "" && (fl.Changed("start-offset") || fl.Changed("producer-id") || fl.Changed("producer-epoch") || fl.Changed("coordinator-epoch")):
				return usageErr(errors.New("--start-offset, --producer-id, --producer-epoch and --coordinator-epoch go with --topic and --partition, not --txn-id"))
			}
			adm, done, err := f.client()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := f.cluster.withTimeout(cmd.Context())
			var p admin.AbortPlan
			if txnID != "" {
				p, err = adm.PlanAbortTransactionalID(ctx, txnID)
			} else {
				p, err = adm.PlanAbort(ctx, spec)
			}
			cancel()
			if err != nil {
				return opsErr(fmt.Errorf("plan abort: %w", err))
			}
			if !f.json() {
				writeAbortPlan(e.stdout, p)
			}
			if err := confirmAbort(e, yes); err != nil {
				return err
			}
			ctx, cancel = f.cluster.withTimeout(cmd.Context())
			defer cancel()
			res, err := adm.Abort(ctx, p)
			if werr := writeAbortResult(e.stdout, f.json(), res); werr != nil {
				return werr
			}
			return opsErr(err)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&spec.Topic, "topic", "", "topic of the partition whose open transaction to abort")
	fl.Int32Var(&spec.Partition, "partition", -1, "the partition")
	fl.Int64Var(&spec.StartOffset, "start-offset", -1, "first offset of the open transaction (instead of the producer ids, as txns hanging shows it)")
	fl.Int64Var(&spec.ProducerID, "producer-id", -1, "producer ID of the open transaction (default: looked up)")
	fl.Int16Var(&spec.ProducerEpoch, "producer-epoch", -1, "its producer epoch (default: looked up)")
	fl.Int32Var(&spec.CoordinatorEpoch, "coordinator-epoch", -1, "its coordinator epoch (default: looked up)")
	fl.StringVar(&txnID, "txn-id", "", "fence this transactional ID through its coordinator instead")
	fl.BoolVarP(&yes, "yes", "y", false, "abort without asking")
	return cmd
}

// confirmAbort asks on a terminal, refuses elsewhere, unless yes.
func confirmAbort(e *env, yes bool) error {
	if yes {
		return nil
	}
	if !isTerminal(e.stdin) {
		return usageErr(errors.New("abort: stdin is not a terminal, so nothing was changed: pass --yes to abort without confirmation"))
	}
	fmt.Fprint(e.stderr, "Abort this transaction? Only 'yes' is accepted: ")
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return withCode(exitFailed, errors.New("abort cancelled: nothing was changed"))
	}
	return nil
}

// fmtAge renders an age for tables: whole seconds from a second on.
func fmtAge(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}
