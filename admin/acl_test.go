package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eoskit/eoskit/admin"
)

func eosAccess() admin.EOSAccess {
	return admin.EOSAccess{Principal: "User:app", Group: "g", TransactionalIDPrefix: "app-",
		InputTopics: []string{"in"}, OutputTopics: []string{"out"}, DeadLetterTopic: "dlq"}
}

func TestEOSACLs(t *testing.T) {
	acls, err := admin.EOSACLs(eosAccess())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range acls {
		if a.Principal != "User:app" || a.Host != "*" || a.Permission != kmsg.ACLPermissionTypeAllow {
			t.Errorf("ACL %s: want ALLOW User:app from *", a)
		}
		got = append(got, a.ResourceType.String()+" "+a.Resource+" "+a.Pattern.String()+" "+a.Operation.String())
	}
	want := []string{
		"TOPIC in LITERAL READ", "TOPIC in LITERAL DESCRIBE",
		"TOPIC out LITERAL WRITE", "TOPIC out LITERAL DESCRIBE",
		"TOPIC dlq LITERAL WRITE", "TOPIC dlq LITERAL DESCRIBE",
		"GROUP g LITERAL READ",
		"TRANSACTIONAL_ID app- PREFIXED WRITE", "TRANSACTIONAL_ID app- PREFIXED DESCRIBE",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("EOSACLs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// An exact ID is literal; IDEMPOTENT_WRITE only when asked; a topic
	// that is input and output gets each operation once.
	a := eosAccess()
	a.TransactionalIDPrefix, a.TransactionalID, a.IdempotentWrite, a.DeadLetterTopic = "", "app-0", true, ""
	a.OutputTopics = []string{"in"}
	acls, err = admin.EOSACLs(a)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, x := range acls {
		ops[x.ResourceType.String()+"/"+x.Resource+"/"+x.Pattern.String()+"/"+x.Operation.String()]++
	}
	if ops["TRANSACTIONAL_ID/app-0/LITERAL/WRITE"] != 1 || ops["CLUSTER/kafka-cluster/LITERAL/IDEMPOTENT_WRITE"] != 1 ||
		ops["TOPIC/in/LITERAL/DESCRIBE"] != 1 || len(acls) != 7 {
		t.Fatalf("exact ID with idempotent write: %v", ops)
	}
}

func TestEOSAccessValidate(t *testing.T) {
	_, err := admin.EOSACLs(admin.EOSAccess{Principal: "app", TransactionalID: "a", TransactionalIDPrefix: "b", InputTopics: []string{"a b"}})
	if !errors.Is(err, admin.ErrInvalidAccess) {
		t.Fatalf("invalid access: %v, want ErrInvalidAccess", err)
	}
	for _, want := range []string{"User:name", "not both", "no group", "no output topics", `"a b"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestACLPlanApplyOnKfake: plan on a cluster with one of the ACLs already
// granted, apply, re-plan (no changes), describe, delete one.
func TestACLPlanApplyOnKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "root", "pw"),
		kfake.User("SCRAM-SHA-256", "app", "pw", kfake.ACL{Resource: kmsg.ACLResourceTypeGroup, Name: "g",
			Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationRead, Allow: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(scram.Auth{User: "root", Pass: "pw"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := admin.NewWithClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	p, err := adm.PlanACLs(ctx, eosAccess())
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Summary(); s.Create != 8 || s.Exists != 1 || !p.HasChanges() {
		t.Fatalf("plan with the group ACL granted: %+v\n%s", s, p)
	}
	if !strings.Contains(p.String(), "  exists GROUP") || !strings.Contains(p.String(), "+ create TRANSACTIONAL_ID") {
		t.Fatalf("plan text:\n%s", p)
	}
	if err := adm.ApplyACLs(ctx, p); err != nil {
		t.Fatal(err)
	}
	p, err = adm.PlanACLs(ctx, eosAccess())
	if err != nil || p.HasChanges() {
		t.Fatalf("re-plan after apply: %v\n%s", err, p)
	}
	have, err := adm.DescribeACLs(ctx, "User:app")
	if err != nil || len(have) != 9 {
		t.Fatalf("describe: %v, %d ACLs, want 9: %v", err, len(have), have)
	}
	if err := adm.DeleteACLs(ctx, p.ACLs[0].ACL); err != nil {
		t.Fatal(err)
	}
	p, err = adm.PlanACLs(ctx, eosAccess())
	if err != nil || p.Summary().Create != 1 || p.ACLs[0].Action != admin.ActionCreate {
		t.Fatalf("plan after deleting the first ACL: %v\n%s", err, p)
	}
	if other, err := adm.DescribeACLs(ctx, "User:nobody"); err != nil || len(other) != 0 {
		t.Fatalf("describe a principal without ACLs: %v %v", other, err)
	}
}
