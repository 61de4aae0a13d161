package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/dlq"
)

func newDLQCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect dead-letter topics and redrive them exactly once",
		Long: `Inspect the dead-letter topics exactly-once processors write (records with
eoskit-dlq-error, eoskit-dlq-topic, eoskit-dlq-partition and
eoskit-dlq-offset headers) and, once the bug is fixed, redrive them exactly
once.

Exit codes: 0 success; 1 failed or interrupted (run replay again to resume);
2 bad usage or unknown topic.`,
	}
	cmd.AddCommand(newDLQInspectCmd(e), newDLQReplayCmd(e))
	return cmd
}

func newDLQInspectCmd(e *env) *cobra.Command {
	var f topicsFlags
	var (
		topic string
		all   bool
		o     dlq.InspectOptions
	)
	cmd := &cobra.Command{
		Use:   "inspect --topic DLQ [--show N] [--all]",
		Short: "Count a dead-letter topic's records by error, source partition and replay count; --show N decodes records",
		Long: `Count a dead-letter topic's records by error, by source topic and partition,
and by replay count; --show N prints the first N records with their
eoskit-dlq-* headers decoded. By default only what is still to replay is
read: from the replay group's position (the one dlq replay uses for this
topic, or --group) when it has one, else from the start; --all reads from the
start.`,
		Example: "  eosctl dlq inspect --topic orders-dlq --show 5",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if topic == "" {
				return usageErr(errors.New("--topic is required: name the dead-letter topic"))
			}
			if o.Show < 0 {
				return usageErr(fmt.Errorf("--show %d: use 0 or more", o.Show))
			}
			if err := f.out.validate(); err != nil {
				return err
			}
			c, err := f.cluster.config()
			if err != nil {
				return err
			}
			if all {
				o.Group = ""
			} else if o.Group == "" {
				o.Group = dlq.GroupFor(topic)
			}
			ctx, cancel := f.cluster.withTimeout(cmd.Context())
			defer cancel()
			rep, err := dlq.Inspect(ctx, c, topic, o)
			if err != nil {
				return dlqErr(fmt.Errorf("inspect %s: %w", topic, err))
			}
			return writeInspect(e.stdout, f.json(), rep)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&topic, "topic", "", "the dead-letter topic (required)")
	fl.IntVar(&o.Show, "show", 0, "print the first N records, headers decoded")
	fl.BoolVar(&all, "all", false, "read from the start, not from the replay group's position")
	fl.StringVar(&o.Group, "group", "", "the replay group whose position to read from (default: the one dlq replay derives from the topic)")
	return cmd
}

func newDLQReplayCmd(e *env) *cobra.Command {
	var f topicsFlags
	var (
		q          quietFlag
		topic, to  string
		toSource   bool
		filterErr  string
		since      string
		maxReplays int
		group, id  string
		txnRecords int
	)
	cmd := &cobra.Command{
		Use:   "replay --topic DLQ [--to-source | --to TOPIC] [--filter-error RE] [--since T] [--max-replays N]",
		Short: "Redrive a dead-letter topic exactly once, to each record's origin or --to",
		Long: `Redrive a dead-letter topic exactly once: a transactional processor reads it
and writes each record back to its origin (the eoskit-dlq-topic header;
--to-source, the default) or to --to, without the eoskit-dlq-* headers and
with the eoskit-replay-count header raised, committing the dead-letter
offsets in the same transaction. Killing it and starting it again resumes
where it committed and never writes a record twice: the consumer group and
the transactional ID are derived from the topic's name (--group, --txn-id to
choose them).

Records --filter-error or --since leave out, and records already replayed
--max-replays times, are kept: written again, unchanged, at the end of the
dead-letter topic in the same transaction, so a later replay still finds
them. The replay goes through what is in the topic when it starts, then
prints a summary; the records it kept for --max-replays are listed.

A progress bar (records done of total, rate, ETA) is shown on stderr when it
is a terminal, unless --quiet. --timeout bounds the whole replay only when
given.`,
		Example: `  eosctl dlq replay --topic orders-dlq --to-source
  eosctl dlq replay --topic orders-dlq --to orders-retry --filter-error 'timeout' --since 2h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if topic == "" {
				return usageErr(errors.New("--topic is required: name the dead-letter topic"))
			}
			if toSource && to != "" {
				return usageErr(errors.New("give --to-source or --to TOPIC, not both"))
			}
			opts := []dlq.Opt{dlq.WithMaxReplays(maxReplays), dlq.WithLogger(slog.New(slog.DiscardHandler))}
			if to != "" {
				opts = append(opts, dlq.WithTarget(to))
			}
			if filterErr != "" {
				re, err := regexp.Compile(filterErr)
				if err != nil {
					return usageErr(fmt.Errorf("--filter-error: %w", err))
				}
				opts = append(opts, dlq.WithErrorFilter(re))
			}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return usageErr(err)
				}
				opts = append(opts, dlq.WithSince(t))
			}
			if txnRecords <= 0 {
				return usageErr(fmt.Errorf("--txn-records %d: use a positive count", txnRecords))
			}
			opts = append(opts, dlq.WithProcessorOpts(txn.WithMaxTxnRecords(txnRecords)))
			if group != "" {
				opts = append(opts, dlq.WithGroup(group))
			}
			if id != "" {
				opts = append(opts, dlq.WithTransactionalID(id))
			}
			if err := f.out.validate(); err != nil {
				return err
			}
			c, err := f.cluster.config()
			if err != nil {
				return err
			}
			var bar *progress
			opts = append(opts, dlq.WithProgress(func(done, total int64) {
				if bar == nil {
					bar = newProgress(e, q, total, "replaying "+topic, "records")
				}
				bar.Set(done)
			}))
			r, err := dlq.New(c, topic, opts...)
			if err != nil {
				return usageErr(err)
			}
			ctx := cmd.Context()
			if cmd.Flags().Changed("timeout") {
				var cancel context.CancelFunc
				ctx, cancel = f.cluster.withTimeout(ctx)
				defer cancel()
			}
			sum, err := r.Run(ctx)
			bar.Done()
			if werr := writeReplaySummary(e.stdout, f.json(), sum); werr != nil {
				return werr
			}
			return dlqErr(err)
		},
	}
	f.register(cmd)
	q.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&topic, "topic", "", "the dead-letter topic (required)")
	fl.BoolVar(&toSource, "to-source", false, "write each record back to its origin, the eoskit-dlq-topic header (the default)")
	fl.StringVar(&to, "to", "", "write every record to this topic instead")
	fl.StringVar(&filterErr, "filter-error", "", "replay only records whose eoskit-dlq-error matches this regular expression")
	fl.StringVar(&since, "since", "", "replay only records dead-lettered since this time: RFC 3339 (2026-12-01T20:00:00Z) or a duration ago (2h)")
	fl.IntVar(&maxReplays, "max-replays", dlq.DefaultMaxReplays, "keep records already replayed this many times (0: no limit)")
	fl.StringVar(&group, "group", "", "consumer group of the replay (default eoskit-dlq-replay-TOPIC)")
	fl.IntVar(&txnRecords, "txn-records", txn.DefaultMaxTxnRecords, "records per transaction at most")
	fl.StringVar(&id, "txn-id", "", "transactional ID of the replay (default eoskit-dlq-replay-TOPIC-0)")
	return cmd
}

// parseSince reads an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: use an RFC 3339 time (2026-12-01T20:00:00Z) or a duration ago (2h)", s)
}

// dlqErr maps dlq errors to exit codes.
func dlqErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dlq.ErrUnknownTopic), errors.Is(err, eoskit.ErrInvalidOption):
		return usageErr(err)
	}
	return withCode(exitFailed, err)
}
