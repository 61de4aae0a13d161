package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/term"

	"github.com/eoskit/eoskit/admin"
)

func newTopicsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Provision and check topics declaratively: plan, apply, describe, lint, delete",
		Long: `Provision the topics exactly-once pipelines depend on from a YAML file, and check
them for exactly-once safety (replication factor, min.insync.replicas, unclean
leader election, the transaction state log).

The file lists topics:

    topics:
      - name: orders
        partitions: 6
        replicationFactor: 3
        minInsyncReplicas: 2
        configs:
          retention.ms: "604800000"

Exit codes: 0 success; 1 operation failed (or lint found errors); 2 bad usage or
invalid spec (nothing was changed); 3 plan --detailed-exitcode with changes pending.`,
	}
	cmd.AddCommand(
		newTopicsPlanCmd(e),
		newTopicsApplyCmd(e),
		newTopicsDescribeCmd(e),
		newTopicsLintCmd(e),
		newTopicsDeleteCmd(e),
	)
	return cmd
}

// topicsFlags are the flags every topics subcommand shares.
type topicsFlags struct {
	cluster clusterFlags
	out     outputFlag
}

func (f *topicsFlags) register(cmd *cobra.Command) {
	f.cluster.register(cmd)
	f.out.register(cmd)
}

func (f *topicsFlags) json() bool { return f.out.format == "json" }

// connect validates the flags, bounds ctx by --timeout and returns an admin
// client; call done when finished.
func (f *topicsFlags) connect(ctx context.Context, opts ...admin.Opt) (adm *admin.Client, _ context.Context, done func(), _ error) {
	adm, closeClient, err := f.client(opts...)
	if err != nil {
		return nil, ctx, nil, err
	}
	ctx, cancel := f.cluster.withTimeout(ctx)
	return adm, ctx, func() { cancel(); closeClient() }, nil
}

// client validates the flags and returns an admin client without a
// deadline; call done when finished.
func (f *topicsFlags) client(opts ...admin.Opt) (adm *admin.Client, done func(), _ error) {
	if err := f.out.validate(); err != nil {
		return nil, nil, err
	}
	cfg, err := f.cluster.config()
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(cfg.Opts()...)
	if err != nil {
		return nil, nil, usageErr(fmt.Errorf("connection settings: %w", err))
	}
	return admin.NewWithClient(cl, opts...), cl.Close, nil
}

// progressLogger logs what apply and delete change to stderr, without
// timestamps.
func progressLogger(e *env) admin.Opt {
	h := slog.NewTextHandler(e.stderr, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return admin.WithLogger(slog.New(h))
}

// loadSpecs reads -f: a file, or stdin for "-".
func loadSpecs(e *env, path string) ([]admin.TopicSpec, error) {
	if path == "" {
		return nil, usageErr(errors.New("-f is required: name the topics YAML file (or - for stdin)"))
	}
	var (
		specs []admin.TopicSpec
		err   error
	)
	if path == "-" {
		specs, err = admin.Parse("stdin", e.stdin)
	} else {
		specs, err = admin.LoadFile(path)
	}
	if err != nil {
		return nil, usageErr(err) // unreadable or invalid input
	}
	return specs, nil
}

// topicsErr maps admin errors to exit codes: invalid specs and missing
// confirmations are exit 2, anything else exit 1.
func topicsErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, admin.ErrInvalidSpec) || errors.Is(err, admin.ErrNotConfirmed) {
		return usageErr(err)
	}
	return withCode(exitFailed, err)
}

// isTerminal reports whether r is an interactive terminal. Tests may pass a
// reader with an IsTerminal method.
func isTerminal(r io.Reader) bool {
	if t, ok := r.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
