package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/admin"
)

func newGroupsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "Inspect consumer groups: list, describe, lag to the LSO and the high watermark",
		Long: `Inspect consumer groups.

"lag" shows each partition's lag both to the last stable offset (LSO: what a
read_committed consumer can reach) and to the high watermark (HWM), and names
the open transaction holding a partition's LSO below its HWM: a consumer
whose lag to the LSO is 0 but whose lag to the HWM grows is blocked by it
(see eosctl txns hanging).

Exit codes: 0 success; 1 operation failed; 2 bad usage or unknown group.`,
	}
	cmd.AddCommand(newGroupsListCmd(e), newGroupsDescribeCmd(e), newGroupsLagCmd(e))
	return cmd
}

func newGroupsListCmd(e *env) *cobra.Command {
	var f topicsFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups with their type, state and coordinator",
		Args:  cobra.NoArgs,
		RunE: queryCmd(e, &f, func(ctx context.Context, adm *admin.Client, _ []string) ([]admin.Group, error) {
			gs, err := adm.ListGroups(ctx)
			return gs.Sorted(), err
		}, writeGroupList),
	}
	f.register(cmd)
	return cmd
}

func newGroupsDescribeCmd(e *env) *cobra.Command {
	var f topicsFlags
	cmd := &cobra.Command{
		Use:     "describe GROUP...",
		Short:   "Describe groups: state, protocol, members and their assigned partitions",
		Example: "  eosctl groups describe orders-enricher -o json",
		Args:    cobra.MinimumNArgs(1),
		RunE: queryCmd(e, &f, func(ctx context.Context, adm *admin.Client, names []string) ([]admin.Group, error) {
			gs, err := adm.DescribeGroups(ctx, names...)
			for _, g := range gs.Sorted() {
				if err == nil && g.Err != nil {
					err = fmt.Errorf("group %q: %w", g.Name, g.Err)
				}
			}
			return gs.Sorted(), err
		}, writeGroupDescribe),
	}
	f.register(cmd)
	return cmd
}

func newGroupsLagCmd(e *env) *cobra.Command {
	var f topicsFlags
	var (
		o        admin.HangingOptions
		watch    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "lag GROUP [--watch]",
		Short: "Show a group's lag to the LSO and the HWM per partition, flagging partitions an open transaction pins",
		Example: `  eosctl groups lag orders-enricher
  eosctl groups lag orders-enricher --watch --interval 2s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return usageErr(fmt.Errorf("--interval %v: use a positive duration", interval))
			}
			adm, done, err := f.client()
			if err != nil {
				return err
			}
			defer done()
			once := func() (admin.GroupLag, error) {
				ctx, cancel := f.cluster.withTimeout(cmd.Context())
				defer cancel()
				return adm.GroupLag(ctx, args[0], o)
			}
			if !watch {
				lag, err := once()
				if err != nil {
					return opsErr(err)
				}
				return writeGroupLag(e.stdout, f.json(), lag)
			}
			return watchLag(cmd.Context(), e, f.json(), interval, once)
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&o.MaxAge, "max-age", 0, "also call an open transaction hanging when older than this (as txns hanging --max-age)")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh every --interval until interrupted (in place on a terminal)")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "refresh interval with --watch")
	return cmd
}

// watchLag prints the lag every interval until ctx ends: in place on a
// terminal, one table (or JSON document) after another elsewhere. A failed
// refresh is shown and retried; Ctrl-C ends it with exit 0.
func watchLag(ctx context.Context, e *env, asJSON bool, interval time.Duration, once func() (admin.GroupLag, error)) error {
	tty := isTerminalWriter(e.stdout) && !asJSON
	for {
		lag, err := once()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, admin.ErrUnknownGroup) {
			return opsErr(err)
		}
		if tty {
			clearScreen(e.stdout)
		}
		if !asJSON {
			fmt.Fprintf(e.stdout, "%s  every %s (Ctrl-C to stop)\n\n", time.Now().UTC().Format(time.RFC3339), interval)
		}
		if err != nil {
			fmt.Fprintf(e.stdout, "refresh failed: %v\n", err)
		} else if werr := writeGroupLag(e.stdout, asJSON, lag); werr != nil {
			return werr
		}
		if !tty && !asJSON {
			fmt.Fprintln(e.stdout)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
