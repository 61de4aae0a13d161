package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/admin"
)

type planFlags struct {
	topicsFlags
	file     string
	prune    bool
	detailed bool // plan only
	yes      bool // apply only
}

func (f *planFlags) register(cmd *cobra.Command) {
	f.topicsFlags.register(cmd)
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "topics YAML file, or - for stdin (required)")
	cmd.Flags().BoolVar(&f.prune, "prune-configs", false, "also remove topic config overrides the file does not mention")
}

func newTopicsPlanCmd(e *env) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan -f topics.yaml",
		Short: "Show what apply would change, validating everything first; changes nothing",
		Example: `  eosctl topics plan -f topics.yaml
  eosctl topics plan -f topics.yaml --detailed-exitcode --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, done, err := f.client()
			if err != nil {
				return err
			}
			defer done()
			p, err := runPlan(cmd.Context(), e, &f, adm)
			if err != nil {
				return err
			}
			if err := writePlan(e, f.json(), p, false); err != nil {
				return err
			}
			if f.detailed && p.HasChanges() {
				return withCode(exitPending, errors.New("changes pending"))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.detailed, "detailed-exitcode", false, "exit 3 when changes are pending, 0 when none")
	return cmd
}

func newTopicsApplyCmd(e *env) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "apply -f topics.yaml [--yes]",
		Short: "Create topics, set differing configs and add partitions; never deletes",
		Long: `Plan, show the plan, then apply it. Without --yes, apply asks for confirmation
when stdin is a terminal and refuses (exit 2) when it is not. Applying the same
file twice is a no-op. Nothing is deleted, and config keys the file does not
mention are left alone unless --prune-configs is given.`,
		Example: `  eosctl topics apply -f topics.yaml
  eosctl topics apply -f topics.yaml --yes --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, done, err := f.client(progressLogger(e))
			if err != nil {
				return err
			}
			defer done()
			p, err := runPlan(cmd.Context(), e, &f, adm)
			if err != nil {
				return err
			}
			if !p.HasChanges() {
				return writePlan(e, f.json(), p, false)
			}
			if !f.json() {
				fmt.Fprint(e.stdout, p)
			}
			if err := confirmApply(e, f.yes, f.file == "-"); err != nil {
				return err
			}
			// --timeout bounds planning and applying; time at the prompt is not counted.
			ctx, cancel := f.cluster.withTimeout(cmd.Context())
			defer cancel()
			if err := adm.Apply(ctx, p); err != nil {
				return withCode(exitFailed, fmt.Errorf("apply: %w", err))
			}
			if f.json() {
				return writePlan(e, true, p, true)
			}
			s := p.Summary()
			fmt.Fprintf(e.stdout, "Applied: %d created, %d updated, %d unchanged.\n", s.Create, s.Update, s.Unchanged)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "apply without asking")
	return cmd
}

// runPlan loads -f and plans it within --timeout; invalid specs are written
// to stdout as JSON with --output json, and exit 2.
func runPlan(ctx context.Context, e *env, f *planFlags, adm *admin.Client) (admin.Plan, error) {
	specs, err := loadSpecs(e, f.file)
	if err != nil {
		return admin.Plan{}, err
	}
	ctx, cancel := f.cluster.withTimeout(ctx)
	defer cancel()
	var opts []admin.PlanOption
	if f.prune {
		opts = append(opts, admin.PruneConfigs())
	}
	p, err := adm.Plan(ctx, specs, opts...)
	if err != nil {
		var ve *admin.ValidationError
		if f.json() && errors.As(err, &ve) {
			if werr := writeJSON(e.stdout, problemsJSON{Error: "invalid topic spec", Problems: ve.Problems}); werr != nil {
				return p, werr
			}
		}
		return p, topicsErr(fmt.Errorf("plan: %w", err))
	}
	return p, nil
}

// confirmApply asks on a terminal, refuses elsewhere, unless yes.
func confirmApply(e *env, yes, specsFromStdin bool) error {
	if yes {
		return nil
	}
	if specsFromStdin || !isTerminal(e.stdin) {
		return usageErr(errors.New("apply: stdin is not a terminal, so nothing was changed: pass --yes to apply without confirmation"))
	}
	fmt.Fprint(e.stderr, "Apply these changes? Only 'yes' is accepted: ")
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return withCode(exitFailed, errors.New("apply cancelled: nothing was changed"))
	}
	return nil
}
