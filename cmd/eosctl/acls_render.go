package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/eoskit/eoskit/admin"
)

// aclPlanJSON is the stable JSON of acls plan and apply.
type aclPlanJSON struct {
	admin.ACLPlan
	Summary        admin.ACLSummary `json:"summary"`
	ChangesPending bool             `json:"changesPending"`
	Applied        bool             `json:"applied"`
}

// aclsJSON is the stable JSON of acls describe.
type aclsJSON struct {
	Principal string      `json:"principal"`
	ACLs      []admin.ACL `json:"acls"`
}

func writeACLPlan(e *env, asJSON bool, p admin.ACLPlan, applied bool) error {
	if !asJSON {
		_, err := fmt.Fprint(e.stdout, p)
		return err
	}
	return writeJSON(e.stdout, aclPlanJSON{ACLPlan: p, Summary: p.Summary(), ChangesPending: p.HasChanges() && !applied, Applied: applied})
}

func writeACLTable(e *env, principal string, acls []admin.ACL) error {
	if len(acls) == 0 {
		_, err := fmt.Fprintf(e.stdout, "%s has no ACLs.\n", principal)
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PERMISSION\tRESOURCE TYPE\tRESOURCE\tPATTERN\tOPERATION\tHOST")
	for _, a := range acls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Permission, a.ResourceType, a.Resource, a.Pattern, a.Operation, a.Host)
	}
	return tw.Flush()
}
