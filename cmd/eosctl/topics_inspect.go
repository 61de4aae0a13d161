package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/admin"
)

func newTopicsDescribeCmd(e *env) *cobra.Command {
	var (
		f   topicsFlags
		all bool
	)
	cmd := &cobra.Command{
		Use:   "describe [TOPIC...]",
		Short: "Show partitions (leader, replicas, ISR, under-replicated) and configs with their source",
		Long: `Describe the named topics, or every non-internal topic when none is named.
The table lists each partition's leader, replicas and in-sync replicas, marking
under-replicated and under-min-ISR partitions, then the configs that are not
broker defaults (--all-configs for all). JSON output has everything.`,
		RunE: func(cmd *cobra.Command, topics []string) error {
			adm, ctx, done, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			ds, derr := adm.Describe(ctx, topics...)
			if ds == nil {
				ds = []admin.TopicDescription{}
			}
			if f.json() {
				err = writeJSON(e.stdout, struct {
					Topics []admin.TopicDescription `json:"topics"`
				}{ds})
			} else {
				err = writeDescribeTable(e.stdout, ds, all)
			}
			if derr != nil {
				return withCode(exitFailed, derr)
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&all, "all-configs", false, "list broker-default configs too")
	return cmd
}

func newTopicsLintCmd(e *env) *cobra.Command {
	var (
		f       topicsFlags
		file    string
		offline bool
	)
	cmd := &cobra.Command{
		Use:   "lint [-f topics.yaml]",
		Short: "Check topics and the cluster for exactly-once safety",
		Long: `Report exactly-once safety findings: replication factor below 3,
min.insync.replicas below 2 or equal to the replication factor, unclean leader
election, and the cluster's transaction.state.log.replication.factor,
transaction.state.log.min.isr and offsets.topic.replication.factor.

With -f the file's topics are linted, otherwise every existing topic. The
cluster's settings are always checked unless --offline (which needs -f).
Exits 1 when a finding has severity error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.out.validate(); err != nil {
				return err
			}
			var specs []admin.TopicSpec
			if file != "" {
				var err error
				if specs, err = loadSpecs(e, file); err != nil {
					return err
				}
				if err := admin.ValidateAll(withDefaults(specs)); err != nil {
					return topicsErr(err)
				}
			}
			var fs []admin.Finding
			if offline {
				if file == "" {
					return usageErr(errors.New("--offline lints a file: pass -f topics.yaml"))
				}
				fs = admin.LintSpecs(specs)
			} else {
				adm, ctx, done, err := f.connect(cmd.Context())
				if err != nil {
					return err
				}
				defer done()
				if fs, err = adm.Lint(ctx, specs); err != nil {
					return withCode(exitFailed, fmt.Errorf("lint: %w", err))
				}
			}
			var err error
			if f.json() {
				err = writeJSON(e.stdout, countFindings(fs))
			} else {
				err = writeLintTable(e.stdout, fs)
			}
			if err == nil && admin.HasErrors(fs) {
				err = withCode(exitFailed, fmt.Errorf("lint: %d findings with severity error", countFindings(fs).Errors))
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "topics YAML file to lint, or - for stdin (default: the cluster's topics)")
	cmd.Flags().BoolVar(&offline, "offline", false, "lint the file only, without contacting the cluster")
	return cmd
}

func withDefaults(specs []admin.TopicSpec) []admin.TopicSpec {
	out := append([]admin.TopicSpec(nil), specs...)
	for i := range out {
		out[i].SetDefaults()
	}
	return out
}

func newTopicsDeleteCmd(e *env) *cobra.Command {
	var (
		f   topicsFlags
		yes bool
	)
	cmd := &cobra.Command{
		Use:   "delete TOPIC... --yes",
		Short: "Delete the named topics and all their records (requires --yes)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			if err := f.out.validate(); err != nil {
				return err
			}
			if !yes {
				return usageErr(fmt.Errorf("delete: deleting %v loses all their records: pass --yes to confirm", topics))
			}
			adm, ctx, done, err := f.connect(cmd.Context(), progressLogger(e))
			if err != nil {
				return err
			}
			defer done()
			derr := adm.Delete(ctx, topics, admin.ConfirmDelete())
			deleted := succeeded(topics, derr)
			if f.json() {
				err = writeJSON(e.stdout, struct {
					Deleted []string `json:"deleted"`
				}{deleted})
			} else {
				for _, t := range deleted {
					fmt.Fprintf(e.stdout, "deleted %s\n", t)
				}
			}
			if derr != nil {
				return topicsErr(derr)
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm the deletion")
	return cmd
}

// succeeded returns the topics without a *admin.TopicError in err.
func succeeded(topics []string, err error) []string {
	failed := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		var te *admin.TopicError
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if errors.As(err, &te) {
			failed[te.Topic] = true
		}
	}
	if err != nil {
		walk(err)
		if len(failed) == 0 { // not per topic: nothing was deleted
			return []string{}
		}
	}
	out := []string{}
	for _, t := range topics {
		if !failed[t] {
			out = append(out, t)
		}
	}
	return out
}
