package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrInvalidAccess reports an EOSAccess that cannot be turned into ACLs.
// Nothing was changed on the cluster when it is returned.
var ErrInvalidAccess = errors.New("invalid exactly-once access request")

// EOSAccess describes one exactly-once processor: who it runs as and what it
// reads, writes and commits. EOSACLs turns it into the minimal ACL set.
type EOSAccess struct {
	Principal string // "User:name" (SASL user, or the CN of an mTLS certificate)
	Host      string // host the ACLs allow; default "*"

	Group string // consumer group whose offsets the transactions commit

	// TransactionalID is the exact transactional ID; TransactionalIDPrefix
	// grants every ID that starts with it (one processor instance per ID).
	// Give one of the two.
	TransactionalID       string
	TransactionalIDPrefix string

	InputTopics     []string
	OutputTopics    []string
	DeadLetterTopic string // optional; written like an output topic

	// IdempotentWrite adds IDEMPOTENT_WRITE on the cluster, which brokers
	// before Kafka 2.8 require of idempotent producers without a
	// transactional ID. Newer brokers do not need it.
	IdempotentWrite bool
}

// ACL is one access control entry, printable and JSON-encodable (the kmsg
// enums encode as their Kafka names: TOPIC, READ, LITERAL, ALLOW).
type ACL struct {
	Principal    string                      `json:"principal"`
	Host         string                      `json:"host"`
	ResourceType kmsg.ACLResourceType        `json:"resourceType"`
	Resource     string                      `json:"resource"`
	Pattern      kmsg.ACLResourcePatternType `json:"pattern"`
	Operation    kmsg.ACLOperation           `json:"operation"`
	Permission   kmsg.ACLPermissionType      `json:"permission"`
}

func (a ACL) String() string {
	res := a.Resource
	if a.Pattern == kmsg.ACLResourcePatternTypePrefixed {
		res += "*"
	}
	return fmt.Sprintf("%s %s %s %s %s %s from host %s", a.Permission, a.Principal, a.Operation, a.ResourceType, res, strings.ToLower(a.Pattern.String()), a.Host)
}

// covers reports whether a grants want: same principal, host, resource and
// pattern, and the same operation or ALL. Kafka's implied operations
// (READ implies DESCRIBE) are not counted, so a plan stays explicit.
func (a ACL) covers(want ACL) bool {
	return a.Permission == kmsg.ACLPermissionTypeAllow &&
		a.Principal == want.Principal && (a.Host == want.Host || a.Host == "*") &&
		a.ResourceType == want.ResourceType && a.Resource == want.Resource && a.Pattern == want.Pattern &&
		(a.Operation == want.Operation || a.Operation == kmsg.ACLOperationAll)
}

// Validate reports every problem of a at once, wrapped in ErrInvalidAccess.
func (a EOSAccess) Validate() error {
	var ps []string
	if typ, name, ok := strings.Cut(a.Principal, ":"); !ok || typ == "" || name == "" {
		ps = append(ps, fmt.Sprintf("principal %q: write it as User:name", a.Principal))
	}
	if a.TransactionalID != "" && a.TransactionalIDPrefix != "" {
		ps = append(ps, "give a transactional ID or a transactional ID prefix, not both")
	}
	if a.TransactionalID == "" && a.TransactionalIDPrefix == "" {
		ps = append(ps, "no transactional ID: give the exact ID or its prefix (exactly-once needs one)")
	}
	if a.Group == "" {
		ps = append(ps, "no group: name the consumer group the processor commits to")
	}
	if len(a.InputTopics) == 0 {
		ps = append(ps, "no input topics")
	}
	if len(a.OutputTopics) == 0 {
		ps = append(ps, "no output topics")
	}
	for _, t := range slices.Concat(a.InputTopics, a.OutputTopics, []string{a.DeadLetterTopic}) {
		if strings.ContainsAny(t, " ,*") {
			ps = append(ps, fmt.Sprintf("topic %q: names may not hold spaces, commas or *", t))
		}
	}
	if len(ps) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidAccess, strings.Join(ps, "; "))
	}
	return nil
}

// EOSACLs returns the minimal ACLs a's processor needs, in a stable order:
// READ and DESCRIBE on each input topic, WRITE and DESCRIBE on each output
// topic and the dead-letter topic, READ on the group, WRITE and DESCRIBE on
// the transactional ID (literal or prefixed), and IDEMPOTENT_WRITE on the
// cluster only when a.IdempotentWrite.
func EOSACLs(a EOSAccess) ([]ACL, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	host := a.Host
	if host == "" {
		host = "*"
	}
	var out []ACL
	add := func(rt kmsg.ACLResourceType, name string, pat kmsg.ACLResourcePatternType, ops ...kmsg.ACLOperation) {
		for _, op := range ops {
			acl := ACL{Principal: a.Principal, Host: host, ResourceType: rt, Resource: name, Pattern: pat, Operation: op, Permission: kmsg.ACLPermissionTypeAllow}
			if !slices.Contains(out, acl) {
				out = append(out, acl)
			}
		}
	}
	lit := kmsg.ACLResourcePatternTypeLiteral
	for _, t := range a.InputTopics {
		add(kmsg.ACLResourceTypeTopic, t, lit, kmsg.ACLOperationRead, kmsg.ACLOperationDescribe)
	}
	outputs := a.OutputTopics
	if a.DeadLetterTopic != "" {
		outputs = append(slices.Clip(outputs), a.DeadLetterTopic)
	}
	for _, t := range outputs {
		add(kmsg.ACLResourceTypeTopic, t, lit, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	}
	add(kmsg.ACLResourceTypeGroup, a.Group, lit, kmsg.ACLOperationRead)
	if a.TransactionalIDPrefix != "" {
		add(kmsg.ACLResourceTypeTransactionalId, a.TransactionalIDPrefix, kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	} else {
		add(kmsg.ACLResourceTypeTransactionalId, a.TransactionalID, lit, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	}
	if a.IdempotentWrite {
		add(kmsg.ACLResourceTypeCluster, "kafka-cluster", lit, kmsg.ACLOperationIdempotentWrite)
	}
	return out, nil
}

// ACLPlan is what ApplyACLs would create for one principal: each wanted ACL
// and whether the cluster has it already. It is a plain value: print it with
// String, encode it as JSON, test it.
type ACLPlan struct {
	Principal string       `json:"principal"`
	ACLs      []PlannedACL `json:"acls"`
}

// PlannedACL is one wanted ACL and what ApplyACLs does about it.
type PlannedACL struct {
	ACL
	Action Action `json:"action"` // ActionCreate, or ActionNone when it exists
}

// ACLSummary counts a plan's ACLs by action.
type ACLSummary struct {
	Create int `json:"create"`
	Exists int `json:"exists"`
}

// Summary counts p's ACLs by action.
func (p ACLPlan) Summary() ACLSummary {
	var s ACLSummary
	for _, a := range p.ACLs {
		if a.Action == ActionCreate {
			s.Create++
		} else {
			s.Exists++
		}
	}
	return s
}

// HasChanges reports whether applying p would create ACLs.
func (p ACLPlan) HasChanges() bool { return p.Summary().Create > 0 }

// String renders p for people, in the style of Plan.
func (p ACLPlan) String() string {
	var b strings.Builder
	for _, a := range p.ACLs {
		mark := "  exists"
		if a.Action == ActionCreate {
			mark = "+ create"
		}
		fmt.Fprintf(&b, "%s %-16s %-24s %-8s %s\n", mark, a.ResourceType, resourceLabel(a.ACL), a.Pattern, a.Operation)
	}
	s := p.Summary()
	fmt.Fprintf(&b, "ACL plan for %s: %d to create, %d already granted.\n", p.Principal, s.Create, s.Exists)
	return b.String()
}

func resourceLabel(a ACL) string {
	if a.Pattern == kmsg.ACLResourcePatternTypePrefixed {
		return a.Resource + "*"
	}
	return a.Resource
}

// PlanACLs compares the ACLs a needs (EOSACLs) with the principal's ACLs on
// the cluster. It changes nothing. An invalid a returns ErrInvalidAccess
// without contacting the cluster.
func (c *Client) PlanACLs(ctx context.Context, a EOSAccess) (ACLPlan, error) {
	want, err := EOSACLs(a)
	if err != nil {
		return ACLPlan{}, err
	}
	have, err := c.DescribeACLs(ctx, a.Principal)
	if err != nil {
		return ACLPlan{}, err
	}
	return planACLs(a.Principal, want, have), nil
}

// planACLs marks each wanted ACL as existing when an ACL in have covers it.
func planACLs(principal string, want, have []ACL) ACLPlan {
	p := ACLPlan{Principal: principal, ACLs: make([]PlannedACL, 0, len(want))}
	for _, w := range want {
		action := ActionCreate
		if slices.ContainsFunc(have, func(h ACL) bool { return h.covers(w) }) {
			action = ActionNone
		}
		p.ACLs = append(p.ACLs, PlannedACL{ACL: w, Action: action})
	}
	return p
}

// ACLError is the failure to create or delete one ACL. Err is usually a kerr error
// (kerr.ClusterAuthorizationFailed when the caller may not ALTER the cluster;
// kerr.SecurityDisabled when the brokers run no authorizer).
type ACLError struct {
	Op      string // "create" or "delete"
	ACL     ACL
	Err     error
	Message string // the broker's extra message, if any
}

func (e *ACLError) Error() string {
	s := fmt.Sprintf("%s ACL %s: %v", e.Op, e.ACL, e.Err)
	if e.Message != "" && !strings.Contains(s, e.Message) {
		s += ": " + e.Message
	}
	return s
}

func (e *ACLError) Unwrap() error { return e.Err }

// ApplyACLs creates the ACLs p marks ActionCreate; applying the same plan
// twice is harmless (Kafka ignores duplicates). Failures are *ACLError
// values joined with errors.Join. Brokers propagate new ACLs
// asynchronously: a client may be denied for a moment after ApplyACLs
// returns.
func (c *Client) ApplyACLs(ctx context.Context, p ACLPlan) error {
	var errs []error
	for _, a := range p.ACLs {
		if a.Action != ActionCreate {
			continue
		}
		b, err := builder(a.ACL)
		if err != nil {
			errs = append(errs, &ACLError{Op: "create", ACL: a.ACL, Err: err})
			continue
		}
		res, err := c.adm.CreateACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("create ACLs: %w", err)
		}
		failed := false
		for _, r := range res {
			if r.Err != nil {
				failed = true
				errs = append(errs, &ACLError{Op: "create", ACL: a.ACL, Err: r.Err, Message: r.ErrMessage})
			}
		}
		if !failed {
			c.log.Info("created ACL", "principal", a.Principal, "resource_type", a.ResourceType.String(), "resource", a.Resource,
				"pattern", a.Pattern.String(), "operation", a.Operation.String())
		}
	}
	return errors.Join(errs...)
}

// DeleteACLs deletes exactly the given ACLs (revoking access; a missing
// ACL is not an error). Failures are *ACLError values joined with
// errors.Join.
func (c *Client) DeleteACLs(ctx context.Context, acls ...ACL) error {
	var errs []error
	for _, a := range acls {
		b, err := builder(a)
		if err != nil {
			errs = append(errs, &ACLError{Op: "delete", ACL: a, Err: err})
			continue
		}
		res, err := c.adm.DeleteACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("delete ACLs: %w", err)
		}
		for _, r := range res {
			if r.Err != nil {
				errs = append(errs, &ACLError{Op: "delete", ACL: a, Err: r.Err, Message: r.ErrMessage})
			}
		}
		c.log.Info("deleted ACL", "principal", a.Principal, "resource", a.Resource, "operation", a.Operation.String())
	}
	return errors.Join(errs...)
}

// builder returns the kadm builder creating exactly a.
func builder(a ACL) (*kadm.ACLBuilder, error) {
	b := kadm.NewACLs().Operations(a.Operation).ResourcePatternType(a.Pattern)
	if a.Permission == kmsg.ACLPermissionTypeDeny {
		b.Deny(a.Principal).DenyHosts(a.Host)
	} else {
		b.Allow(a.Principal).AllowHosts(a.Host)
	}
	switch a.ResourceType {
	case kmsg.ACLResourceTypeTopic:
		b.Topics(a.Resource)
	case kmsg.ACLResourceTypeGroup:
		b.Groups(a.Resource)
	case kmsg.ACLResourceTypeTransactionalId:
		b.TransactionalIDs(a.Resource)
	case kmsg.ACLResourceTypeCluster:
		b.Clusters()
	default:
		return nil, fmt.Errorf("%w: resource type %s", ErrInvalidAccess, a.ResourceType)
	}
	return b, nil
}

// DescribeACLs returns every ACL (allow and deny, any resource, any host)
// of principal, sorted by resource type, resource, operation.
func (c *Client) DescribeACLs(ctx context.Context, principal string) ([]ACL, error) {
	b := kadm.NewACLs().AnyResource().Operations().ResourcePatternType(kadm.ACLPatternAny).
		Allow(principal).AllowHosts().Deny(principal).DenyHosts()
	res, err := c.adm.DescribeACLs(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("describe ACLs of %s: %w", principal, err)
	}
	var out []ACL
	for _, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("describe ACLs of %s: %w", principal, r.Err)
		}
		for _, d := range r.Described {
			a := ACL{Principal: d.Principal, Host: d.Host, ResourceType: d.Type, Resource: d.Name,
				Pattern: d.Pattern, Operation: d.Operation, Permission: d.Permission}
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(x, y ACL) int {
		if x.ResourceType != y.ResourceType {
			return int(x.ResourceType) - int(y.ResourceType)
		}
		if x.Resource != y.Resource {
			return strings.Compare(x.Resource, y.Resource)
		}
		return int(x.Operation) - int(y.Operation)
	})
	return out, nil
}
