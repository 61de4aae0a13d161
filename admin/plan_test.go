package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/admin"
)

// newFake returns an admin client on a fresh three-broker kfake cluster.
func newFake(t *testing.T) *admin.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return admin.NewWithClient(cl)
}

func mustApply(t *testing.T, adm *admin.Client, specs ...admin.TopicSpec) admin.Plan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := adm.Plan(ctx, specs)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if err := adm.Apply(ctx, p); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return p
}

func describeOne(t *testing.T, adm *admin.Client, topic string) admin.TopicDescription {
	t.Helper()
	ds, err := adm.Describe(context.Background(), topic)
	if err != nil || len(ds) != 1 {
		t.Fatalf("describe %s: %v %v", topic, ds, err)
	}
	return ds[0]
}

func TestPlanDiff(t *testing.T) {
	adm := newFake(t)
	ctx := context.Background()
	base := admin.TopicSpec{Name: "orders", Partitions: 3, ReplicationFactor: 3, MinInsyncReplicas: 2,
		Configs: map[string]string{"retention.ms": "1000"}}
	p := mustApply(t, adm, base)
	if got := p.Summary(); got != (admin.Summary{Create: 1}) {
		t.Fatalf("first plan summary = %+v", got)
	}

	changed := base
	changed.Partitions = 5
	changed.Configs = map[string]string{"retention.ms": "2000", "cleanup.policy": "delete"} // delete is already the value
	p, err := adm.Plan(ctx, []admin.TopicSpec{changed})
	if err != nil {
		t.Fatal(err)
	}
	tp := p.Topics[0]
	if tp.Action != admin.ActionUpdate || !tp.AddsPartitions() || tp.CurrentPartitions != 3 || tp.Partitions != 5 {
		t.Fatalf("plan = %+v", tp)
	}
	if len(tp.Configs) != 1 || tp.Configs[0].Key != "retention.ms" || tp.Configs[0].New != "2000" ||
		tp.Configs[0].Old == nil || *tp.Configs[0].Old != "1000" {
		t.Fatalf("config changes = %+v, want only retention.ms 1000 -> 2000", tp.Configs)
	}
	if err := adm.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	again, err := adm.Plan(ctx, []admin.TopicSpec{changed})
	if err != nil {
		t.Fatal(err)
	}
	if again.HasChanges() {
		t.Fatalf("re-plan after apply has changes:\n%s", again)
	}
	d := describeOne(t, adm, "orders")
	if v, _ := d.Config("retention.ms"); v != "2000" || len(d.Partitions) != 5 || d.MinInsyncReplicas != 2 {
		t.Fatalf("described = %+v", d)
	}
}

func TestPlanRefusesAndChangesNothing(t *testing.T) {
	adm := newFake(t)
	ctx := context.Background()
	mustApply(t, adm, admin.TopicSpec{Name: "t1", Partitions: 4, ReplicationFactor: 3})

	_, err := adm.Plan(ctx, []admin.TopicSpec{
		{Name: "t1", Partitions: 2, ReplicationFactor: 2, MinInsyncReplicas: 1},
		{Name: "t2", Partitions: 1, ReplicationFactor: 4, MinInsyncReplicas: 2},
	})
	var ve *admin.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	want := map[string]string{
		"t1 partitions":        "set partitions to 4 or more",
		"t1 replicationFactor": "set replicationFactor to 3",
		"t2 replicationFactor": "at most 3",
	}
	for _, p := range ve.Problems {
		key := p.Topic + " " + p.Field
		if fix, ok := want[key]; ok && strings.Contains(p.Fix, fix) {
			delete(want, key)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing problems %v in %v", want, err)
	}
	if !strings.Contains(err.Error(), "3 live brokers") {
		t.Errorf("RF error should say how many brokers are live: %v", err)
	}
	if _, err := adm.Describe(ctx, "t2"); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("t2 must not exist after a refused plan: %v", err)
	}
	if d := describeOne(t, adm, "t1"); len(d.Partitions) != 4 || d.ReplicationFactor != 3 {
		t.Errorf("t1 changed: %+v", d)
	}
}

func TestPruneConfigs(t *testing.T) {
	adm := newFake(t)
	ctx := context.Background()
	spec := admin.TopicSpec{Name: "p", Partitions: 1, ReplicationFactor: 3, Configs: map[string]string{"segment.ms": "60000"}}
	mustApply(t, adm, spec)
	spec.Configs = nil
	p, err := adm.Plan(ctx, []admin.TopicSpec{spec})
	if err != nil || p.HasChanges() {
		t.Fatalf("without PruneConfigs an unmentioned config must stay: %v\n%s", err, p)
	}
	p, err = adm.Plan(ctx, []admin.TopicSpec{spec}, admin.PruneConfigs())
	if err != nil {
		t.Fatal(err)
	}
	if cs := p.Topics[0].Configs; len(cs) != 1 || cs[0].Key != "segment.ms" || !cs[0].Delete {
		t.Fatalf("prune plan = %+v", p.Topics[0])
	}
	if !strings.Contains(p.String(), "- segment.ms (was 60000)") {
		t.Errorf("plan text:\n%s", p)
	}
}

func TestDelete(t *testing.T) {
	adm := newFake(t)
	ctx := context.Background()
	mustApply(t, adm, admin.TopicSpec{Name: "gone", Partitions: 1, ReplicationFactor: 1})
	if err := adm.Delete(ctx, []string{"gone"}); !errors.Is(err, admin.ErrNotConfirmed) {
		t.Fatalf("unconfirmed delete: %v", err)
	}
	describeOne(t, adm, "gone")
	if err := adm.Delete(ctx, []string{"__consumer_offsets"}, admin.ConfirmDelete()); !errors.Is(err, admin.ErrInvalidSpec) {
		t.Fatalf("internal topic delete: %v", err)
	}
	if err := adm.Delete(ctx, nil, admin.ConfirmDelete()); !errors.Is(err, admin.ErrInvalidSpec) {
		t.Fatalf("empty delete: %v", err)
	}
	if err := adm.Delete(ctx, []string{"gone"}, admin.ConfirmDelete()); err != nil {
		t.Fatal(err)
	}
	err := adm.Delete(ctx, []string{"gone"}, admin.ConfirmDelete())
	var te *admin.TopicError
	if !errors.As(err, &te) || te.Topic != "gone" || !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("deleting a missing topic: %v", err)
	}
}

func TestLintSpecs(t *testing.T) {
	cases := []struct {
		spec   admin.TopicSpec
		checks []string
		errors bool
	}{
		{admin.TopicSpec{Name: "safe", Partitions: 1, ReplicationFactor: 3, MinInsyncReplicas: 2}, nil, false},
		{admin.TopicSpec{Name: "defaults", Partitions: 1}, nil, false},
		{admin.TopicSpec{Name: "rf1", Partitions: 1, ReplicationFactor: 1}, []string{admin.CheckReplicationFactor, admin.CheckMinInsync}, true},
		{admin.TopicSpec{Name: "rf2", Partitions: 1, ReplicationFactor: 2, MinInsyncReplicas: 2}, []string{admin.CheckReplicationFactor, admin.CheckMinInsyncEqualsRF}, false},
		{admin.TopicSpec{Name: "min1", Partitions: 1, ReplicationFactor: 3, MinInsyncReplicas: 1}, []string{admin.CheckMinInsync}, true},
		{admin.TopicSpec{Name: "eq", Partitions: 1, ReplicationFactor: 3, MinInsyncReplicas: 3}, []string{admin.CheckMinInsyncEqualsRF}, false},
		{admin.TopicSpec{Name: "unclean", Partitions: 1, Configs: map[string]string{"unclean.leader.election.enable": "true"}}, []string{admin.CheckUncleanElection}, true},
	}
	for _, c := range cases {
		fs := admin.LintSpecs([]admin.TopicSpec{c.spec})
		var got []string
		for _, f := range fs {
			got = append(got, f.Check)
			if f.Topic != c.spec.Name || f.Fix == "" {
				t.Errorf("%s: finding %+v", c.spec.Name, f)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.checks, ",") || admin.HasErrors(fs) != c.errors {
			t.Errorf("%s: checks %v (errors %v), want %v (errors %v)", c.spec.Name, got, admin.HasErrors(fs), c.checks, c.errors)
		}
	}
}

// TestIncreaseReplicationFactorPlan checks the reassignment plan; kfake does
// not move replicas, so applying it is tested on a real cluster only.
func TestIncreaseReplicationFactorPlan(t *testing.T) {
	adm := newFake(t)
	ctx := context.Background()
	spec := admin.TopicSpec{Name: "grow", Partitions: 3, ReplicationFactor: 1}
	mustApply(t, adm, spec)
	spec.ReplicationFactor, spec.MinInsyncReplicas = 3, 2
	p, err := adm.Plan(ctx, []admin.TopicSpec{spec})
	if err != nil {
		t.Fatal(err)
	}
	tp := p.Topics[0]
	if tp.Action != admin.ActionUpdate || tp.CurrentReplicationFactor != 1 || tp.ReplicationFactor != 3 || len(tp.Reassign) != 3 {
		t.Fatalf("plan:\n%s", p)
	}
	load := map[int32]int{}
	for _, r := range tp.Reassign {
		if len(r.From) != 1 || len(r.To) != 3 || r.To[0] != r.From[0] {
			t.Fatalf("assignment %+v must keep the current replica first and add two", r)
		}
		for _, id := range r.To {
			load[id]++
		}
	}
	if len(load) != 3 || load[0] != 3 || load[1] != 3 || load[2] != 3 {
		t.Errorf("replicas not spread evenly: %v", load)
	}
	if !strings.Contains(p.String(), "replication factor: 1 -> 3") {
		t.Errorf("plan text:\n%s", p)
	}
	spec.ReplicationFactor = 4
	if _, err := adm.Plan(ctx, []admin.TopicSpec{spec}); !errors.Is(err, admin.ErrInvalidSpec) || !strings.Contains(err.Error(), "3 live brokers") {
		t.Errorf("RF 4 on 3 brokers: %v", err)
	}
}
