package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/internal/conn"
)

func newACLsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acls",
		Short: "Grant the minimal ACLs an exactly-once processor needs: plan, apply, describe",
		Long: `Compute the minimal ACL set an exactly-once processor needs and grant it:

  READ, DESCRIBE   on each --from topic
  WRITE, DESCRIBE  on each --to topic and the --dead-letter topic
  READ             on the --group
  WRITE, DESCRIBE  on the transactional ID: --txn-id (literal) or --txn-id-prefix (prefixed)
  IDEMPOTENT_WRITE on the cluster, only with --idempotent-write (brokers before Kafka 2.8)

plan shows which of them exist and which apply would create; apply creates the
missing ones (never deletes); describe lists every ACL of a principal. Connect
as a principal allowed to manage ACLs (a super user, or ALTER on the cluster).

Exit codes: 0 success; 1 operation failed; 2 bad usage (nothing was changed);
3 plan --detailed-exitcode with ACLs to create.`,
	}
	cmd.AddCommand(newACLsPlanCmd(e), newACLsApplyCmd(e), newACLsDescribeCmd(e))
	return cmd
}

// aclsFlags are the flags of plan and apply.
type aclsFlags struct {
	topicsFlags
	access    admin.EOSAccess
	detailed  bool          // plan only
	yes       bool          // apply only
	principal string        // describe only
	adm       *admin.Client // set by plan
}

func (f *aclsFlags) register(cmd *cobra.Command) {
	f.topicsFlags.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.access.Principal, "principal", "", "principal the processor runs as: User:name (the SASL user or the mTLS certificate's CN) (required)")
	fl.StringVar(&f.access.Group, "group", "", "consumer group the processor commits to (required)")
	fl.StringVar(&f.access.TransactionalIDPrefix, "txn-id-prefix", "", "grant every transactional ID starting with this prefix")
	fl.StringVar(&f.access.TransactionalID, "txn-id", "", "grant exactly this transactional ID (instead of --txn-id-prefix)")
	fl.StringSliceVar(&f.access.InputTopics, "from", nil, "input topics, comma-separated (required)")
	fl.StringSliceVar(&f.access.OutputTopics, "to", nil, "output topics, comma-separated (required)")
	fl.StringVar(&f.access.DeadLetterTopic, "dead-letter", "", "dead-letter topic, written like an output topic")
	fl.BoolVar(&f.access.IdempotentWrite, "idempotent-write", false, "also grant IDEMPOTENT_WRITE on the cluster (brokers before Kafka 2.8)")
}

func newACLsPlanCmd(e *env) *cobra.Command {
	var f aclsFlags
	cmd := &cobra.Command{
		Use:   "plan --principal User:NAME --group G --txn-id-prefix P --from IN --to OUT",
		Short: "Show which exactly-once ACLs exist and which apply would create; changes nothing",
		Example: `  eosctl acls plan --principal User:orders-app --group orders --txn-id-prefix orders- --from orders --to orders-enriched
  eosctl acls plan --principal User:app --group g --txn-id app-0 --from in --to out --detailed-exitcode -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, done, err := f.plan(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if err := writeACLPlan(e, f.json(), p, false); err != nil {
				return err
			}
			if f.detailed && p.HasChanges() {
				return withCode(exitPending, errors.New("changes pending"))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.detailed, "detailed-exitcode", false, "exit 3 when ACLs are to be created, 0 when none")
	return cmd
}

func newACLsApplyCmd(e *env) *cobra.Command {
	var f aclsFlags
	cmd := &cobra.Command{
		Use:   "apply --principal User:NAME --group G --txn-id-prefix P --from IN --to OUT [--yes]",
		Short: "Create the exactly-once ACLs that are missing; never deletes",
		Long: `Plan, show the plan, then create the missing ACLs. Without --yes, apply asks
for confirmation when stdin is a terminal and refuses (exit 2) when it is not.
Applying twice is a no-op. Brokers propagate new ACLs within moments.`,
		Example: `  eosctl acls apply --principal User:orders-app --group orders --txn-id-prefix orders- --from orders --to orders-enriched --yes`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, done, err := f.plan(cmd.Context(), progressLogger(e))
			if err != nil {
				return err
			}
			defer done()
			if !p.HasChanges() {
				return writeACLPlan(e, f.json(), p, false)
			}
			if !f.json() {
				fmt.Fprint(e.stdout, p)
			}
			if err := confirmApply(e, f.yes, false); err != nil {
				return err
			}
			ctx, cancel := f.cluster.withTimeout(cmd.Context())
			defer cancel()
			if err := f.adm.ApplyACLs(ctx, p); err != nil {
				return withCode(exitFailed, fmt.Errorf("apply: %w", explainACLAdminErr(&f.cluster, err)))
			}
			if f.json() {
				return writeACLPlan(e, true, p, true)
			}
			fmt.Fprintf(e.stdout, "Applied: %d ACLs created, %d already granted.\n", p.Summary().Create, p.Summary().Exists)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "apply without asking")
	return cmd
}

func newACLsDescribeCmd(e *env) *cobra.Command {
	var f aclsFlags
	cmd := &cobra.Command{
		Use:     "describe --principal User:NAME",
		Short:   "List every ACL of a principal",
		Example: `  eosctl acls describe --principal User:orders-app -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if typ, name, ok := strings.Cut(f.principal, ":"); !ok || typ == "" || name == "" {
				return usageErr(fmt.Errorf("--principal %q: write it as User:name", f.principal))
			}
			if err := f.out.validate(); err != nil {
				return err
			}
			ctx, cancel := f.cluster.withTimeout(cmd.Context())
			defer cancel()
			adm, done, err := f.checkedClient(ctx)
			if err != nil {
				return err
			}
			defer done()
			acls, err := adm.DescribeACLs(ctx, f.principal)
			if err != nil {
				return withCode(exitFailed, explainACLAdminErr(&f.cluster, err))
			}
			if f.json() {
				if acls == nil {
					acls = []admin.ACL{}
				}
				return writeJSON(e.stdout, aclsJSON{Principal: f.principal, ACLs: acls})
			}
			return writeACLTable(e, f.principal, acls)
		},
	}
	f.topicsFlags.register(cmd)
	cmd.Flags().StringVar(&f.principal, "principal", "", "principal: User:name (required)")
	return cmd
}

// plan validates the request before any connection, then plans within
// --timeout. f.adm is set for apply; call done when finished.
func (f *aclsFlags) plan(ctx context.Context, opts ...admin.Opt) (admin.ACLPlan, func(), error) {
	if err := f.out.validate(); err != nil {
		return admin.ACLPlan{}, nil, err
	}
	if _, err := admin.EOSACLs(f.access); err != nil {
		return admin.ACLPlan{}, nil, usageErr(err)
	}
	ctx, cancel := f.cluster.withTimeout(ctx)
	defer cancel()
	adm, done, err := f.checkedClient(ctx, opts...)
	if err != nil {
		return admin.ACLPlan{}, nil, err
	}
	f.adm = adm
	p, err := adm.PlanACLs(ctx, f.access)
	if err != nil {
		done()
		return p, nil, withCode(exitFailed, fmt.Errorf("plan: %w", explainACLAdminErr(&f.cluster, err)))
	}
	return p, done, nil
}

// checkedClient connects and fails at once, explained, when the
// connection settings are rejected (credentials, certificates).
func (f *aclsFlags) checkedClient(ctx context.Context, opts ...admin.Opt) (*admin.Client, func(), error) {
	cfg, err := f.cluster.config()
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(cfg.Opts()...)
	if err != nil {
		return nil, nil, usageErr(fmt.Errorf("connection settings: %w", err))
	}
	if err := conn.Check(ctx, cl, conn.Access{Principal: principalOf(&f.cluster)}); err != nil {
		cl.Close()
		return nil, nil, withCode(exitFailed, err)
	}
	return admin.NewWithClient(cl, opts...), cl.Close, nil
}

// explainACLAdminErr explains failures of the principal managing ACLs:
// it needs ALTER (create) and DESCRIBE (plan, describe) on the cluster.
func explainACLAdminErr(cf *clusterFlags, err error) error {
	switch {
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return &eoskit.AccessError{Kind: eoskit.ErrAuthorization, Operation: "DESCRIBE or ALTER", Resource: "CLUSTER", Fix: eoskit.FixACL, Err: err,
			Msg: fmt.Sprintf("not authorized: %s may not manage ACLs (DESCRIBE and ALTER on the CLUSTER): connect as a super user or grant those", principalOf(cf))}
	case errors.Is(err, kerr.SecurityDisabled):
		return fmt.Errorf("the brokers run no authorizer (authorizer.class.name is unset), so ACLs cannot be listed or created: %w", err)
	}
	return conn.ExplainAuthError(err, conn.Access{Principal: principalOf(cf)})
}

// principalOf is the principal the cluster flags connect as: User:<SASL
// user>, or User:<CN> of the client certificate (the brokers' principal
// mapping may differ), or "" when unknown.
func principalOf(cf *clusterFlags) string {
	if cf.saslUser != "" {
		return "User:" + cf.saslUser
	}
	if cf.tlsCert != "" {
		if cfg, err := eoskit.LoadTLS(eoskit.TLSFiles{CertFile: cf.tlsCert, KeyFile: cf.tlsKey}); err == nil && len(cfg.Certificates) == 1 {
			if leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0]); err == nil && leaf.Subject.CommonName != "" {
				return "User:" + leaf.Subject.CommonName
			}
		}
	}
	return ""
}
