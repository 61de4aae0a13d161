//go:build integration

package admin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/integration"
)

// shared is one 3-broker cluster for every test of this package; tests that
// kill a broker start it again and wait until the cluster is healthy.
var shared *integration.Shared

func TestMain(m *testing.M) {
	shared = integration.StartShared(integration.WithNodes(3))
	integration.AnnounceSuite("admin", shared.Cluster)
	os.Exit(shared.Run(m))
}

// brokerAdmin returns an admin client and a raw kadm client on the shared
// cluster.
func brokerAdmin(t *testing.T) (*admin.Client, *kadm.Client) {
	t.Helper()
	cl, err := shared.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return admin.NewWithClient(cl), kadm.NewClient(cl)
}

// topicConfigs returns the topic-level overrides (DYNAMIC_TOPIC_CONFIG).
func overrides(d admin.TopicDescription) map[string]string {
	m := map[string]string{}
	for _, c := range d.Configs {
		if c.Source == "DYNAMIC_TOPIC_CONFIG" {
			m[c.Key] = c.Value
		}
	}
	return m
}

func TestBrokerApplyCreatesThenNoop(t *testing.T) {
	ctx := integration.Context(t, 2*time.Minute)
	adm, _ := brokerAdmin(t)
	orders, audit := integration.UniqueName(t, "orders"), integration.UniqueName(t, "audit")
	specs := []admin.TopicSpec{
		{Name: orders, Partitions: 6, ReplicationFactor: 3, MinInsyncReplicas: 2,
			Configs: map[string]string{"retention.ms": "604800000", "compression.type": "zstd"}},
		{Name: audit, Partitions: 2}, // defaults: RF 3, min.insync 2
	}
	p := mustApply(t, adm, specs...)
	if s := p.Summary(); s.Create != 2 {
		t.Fatalf("plan %+v", s)
	}
	ds, err := adm.Describe(ctx, orders, audit)
	if err != nil || len(ds) != 2 {
		t.Fatalf("describe: %v %v", ds, err)
	}
	want := map[string]struct {
		parts int
		over  map[string]string
	}{
		orders: {6, map[string]string{"min.insync.replicas": "2", "retention.ms": "604800000", "compression.type": "zstd"}},
		audit:  {2, map[string]string{"min.insync.replicas": "2"}},
	}
	for _, d := range ds {
		w := want[d.Topic]
		if len(d.Partitions) != w.parts || d.ReplicationFactor != 3 || d.MinInsyncReplicas != 2 {
			t.Errorf("%s: %d partitions RF %d min.insync %d", d.Topic, len(d.Partitions), d.ReplicationFactor, d.MinInsyncReplicas)
		}
		for _, part := range d.Partitions {
			if len(part.Replicas) != 3 || len(part.ISR) != 3 || part.UnderReplicated || part.Leader < 1 {
				t.Errorf("%s/%d: %+v", d.Topic, part.Partition, part)
			}
		}
		if got := overrides(d); fmt.Sprint(got) != fmt.Sprint(w.over) {
			t.Errorf("%s overrides = %v, want %v", d.Topic, got, w.over)
		}
	}

	again, err := adm.Plan(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if again.HasChanges() {
		t.Fatalf("re-plan is not a no-op:\n%s", again)
	}
	if err := adm.Apply(ctx, again); err != nil {
		t.Fatalf("applying a no-op plan: %v", err)
	}
}

func TestBrokerAlterOnlyChangedKeyAndAddPartitions(t *testing.T) {
	ctx := integration.Context(t, 2*time.Minute)
	adm, raw := brokerAdmin(t)
	name := integration.UniqueName(t, "t")
	spec := admin.TopicSpec{Name: name, Partitions: 3, ReplicationFactor: 3, MinInsyncReplicas: 2,
		Configs: map[string]string{"retention.ms": "3600000", "segment.bytes": "10485760"}}
	mustApply(t, adm, spec)
	// A config set outside the spec: apply must leave it alone.
	if _, err := raw.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("2000000")}}, name); err != nil {
		t.Fatal(err)
	}

	spec.Configs = map[string]string{"retention.ms": "7200000", "segment.bytes": "10485760"}
	spec.Partitions = 5
	p, err := adm.Plan(ctx, []admin.TopicSpec{spec})
	if err != nil {
		t.Fatal(err)
	}
	tp := p.Topics[0]
	if tp.Action != admin.ActionUpdate || len(tp.Configs) != 1 || tp.Configs[0].Key != "retention.ms" ||
		*tp.Configs[0].Old != "3600000" || tp.Configs[0].New != "7200000" || !tp.AddsPartitions() {
		t.Fatalf("plan:\n%s", p)
	}
	if err := adm.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	d := describeOne(t, adm, name)
	wantOver := map[string]string{"min.insync.replicas": "2", "retention.ms": "7200000", "segment.bytes": "10485760", "max.message.bytes": "2000000"}
	if got := overrides(d); fmt.Sprint(got) != fmt.Sprint(wantOver) {
		t.Errorf("overrides after apply = %v, want %v", got, wantOver)
	}
	if len(d.Partitions) != 5 || d.ReplicationFactor != 3 {
		t.Errorf("after adding partitions: %d partitions RF %d", len(d.Partitions), d.ReplicationFactor)
	}
	for _, part := range d.Partitions {
		if len(part.Replicas) != 3 {
			t.Errorf("new partition %d has replicas %v", part.Partition, part.Replicas)
		}
	}
	if again, err := adm.Plan(ctx, []admin.TopicSpec{spec}); err != nil || again.HasChanges() {
		t.Fatalf("re-plan: %v\n%s", err, again)
	}
}

func TestBrokerInvalidChangesNothing(t *testing.T) {
	ctx := integration.Context(t, 3*time.Minute)
	adm, _ := brokerAdmin(t)
	existing := admin.TopicSpec{Name: integration.UniqueName(t, "existing"), Partitions: 4, ReplicationFactor: 3, MinInsyncReplicas: 2,
		Configs: map[string]string{"retention.ms": "3600000"}}
	mustApply(t, adm, existing)
	before := describeOne(t, adm, existing.Name)
	fresh := integration.UniqueName(t, "fresh")
	valid := integration.UniqueName(t, "valid") // valid, but specified next to an invalid one

	mod := func(f func(*admin.TopicSpec)) admin.TopicSpec { s := existing; f(&s); return s }
	cases := []struct {
		name  string
		spec  admin.TopicSpec
		field string
		msg   string
	}{
		{"fewer partitions", mod(func(s *admin.TopicSpec) { s.Partitions = 2 }), "partitions", "cannot remove partitions"},
		{"rf change", mod(func(s *admin.TopicSpec) { s.ReplicationFactor = 2; s.MinInsyncReplicas = 1 }), "replicationFactor", "partition reassignment"},
		{"unknown config key on update", mod(func(s *admin.TopicSpec) { s.Configs = map[string]string{"retention.msx": "1"} }), "configs", "retention.msx"},
		{"invalid config value on update", mod(func(s *admin.TopicSpec) { s.Configs = map[string]string{"cleanup.policy": "sometimes"} }), "configs", "sometimes"},
		{"min.insync > rf on update", mod(func(s *admin.TopicSpec) { s.MinInsyncReplicas = 4 }), "minInsyncReplicas", "greater than replicationFactor 3"},
		{"rf > brokers", admin.TopicSpec{Name: fresh, Partitions: 1, ReplicationFactor: 4, MinInsyncReplicas: 2}, "replicationFactor", "3 live brokers"},
		{"min.insync > rf on create", admin.TopicSpec{Name: fresh, Partitions: 1, ReplicationFactor: 3, MinInsyncReplicas: 4}, "minInsyncReplicas", "greater than replicationFactor"},
		{"unknown config key on create", admin.TopicSpec{Name: fresh, Partitions: 1, Configs: map[string]string{"no.such.config": "1"}}, "configs", "no.such.config"},
		{"invalid config value on create", admin.TopicSpec{Name: fresh, Partitions: 1, Configs: map[string]string{"retention.ms": "forever"}}, "configs", "forever"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			specs := []admin.TopicSpec{{Name: valid, Partitions: 1}, c.spec}
			_, err := adm.Plan(ctx, specs)
			var ve *admin.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			var found bool
			for _, p := range ve.Problems {
				if p.Topic == c.spec.Name && p.Field == c.field && strings.Contains(p.Message, c.msg) && p.Fix != "" {
					found = true
				}
			}
			if !found {
				t.Fatalf("no problem on %s naming %q in: %v", c.field, c.msg, err)
			}
			t.Logf("error: %v", err)
		})
	}
	// The cluster is unchanged: nothing created, the existing topic as before.
	if ds, err := adm.Describe(ctx, fresh, valid); !errors.Is(err, kerr.UnknownTopicOrPartition) || len(ds) != 0 {
		t.Fatalf("topics were created by invalid plans: %v %v", ds, err)
	}
	after := describeOne(t, adm, existing.Name)
	if len(after.Partitions) != len(before.Partitions) || after.ReplicationFactor != before.ReplicationFactor ||
		fmt.Sprint(overrides(after)) != fmt.Sprint(overrides(before)) {
		t.Fatalf("existing topic changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestBrokerLint(t *testing.T) {
	ctx := integration.Context(t, 2*time.Minute)
	adm, _ := brokerAdmin(t)
	safe, unsafe := integration.UniqueName(t, "safe"), integration.UniqueName(t, "unsafe")
	mustApply(t, adm,
		admin.TopicSpec{Name: safe, Partitions: 1, ReplicationFactor: 3, MinInsyncReplicas: 2},
		admin.TopicSpec{Name: unsafe, Partitions: 1, ReplicationFactor: 1, MinInsyncReplicas: 1,
			Configs: map[string]string{"unclean.leader.election.enable": "true"}},
	)
	fs, err := adm.Lint(ctx, nil) // the cluster's topics, from their effective configs
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range fs {
		got[f.Topic] = append(got[f.Topic], f.Check)
	}
	if len(got[safe]) != 0 {
		t.Errorf("safe topic flagged: %v", got[safe])
	}
	want := []string{admin.CheckReplicationFactor, admin.CheckMinInsync, admin.CheckUncleanElection}
	if fmt.Sprint(got[unsafe]) != fmt.Sprint(want) {
		t.Errorf("unsafe topic findings %v, want %v", got[unsafe], want)
	}
	// The shared cluster runs with transaction.state.log RF 3 / min.isr 2
	// and offsets RF 3: no cluster findings.
	if len(got[""]) != 0 {
		t.Errorf("cluster findings on a safe cluster: %v", got[""])
	}
}

func TestBrokerLintClusterFlagsUnsafeBrokerSettings(t *testing.T) {
	// A 1-broker cluster cannot replicate the transaction log.
	c := integration.Start(t, integration.WithNodes(1))
	cl, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fs, err := admin.NewWithClient(cl).LintCluster(integration.Context(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	for _, f := range fs {
		checks = append(checks, f.Check)
		if f.Severity != admin.SeverityError || f.Topic != "" {
			t.Errorf("finding %+v", f)
		}
	}
	want := []string{admin.CheckTxnLogRF, admin.CheckTxnLogMinISR, admin.CheckOffsetsTopicRF}
	if fmt.Sprint(checks) != fmt.Sprint(want) {
		t.Fatalf("cluster findings %v, want %v", checks, want)
	}
}

func TestBrokerDescribeUnderReplicatedWhileBrokerDown(t *testing.T) {
	ctx := integration.Context(t, 4*time.Minute)
	adm, _ := brokerAdmin(t)
	name := integration.UniqueName(t, "t")
	mustApply(t, adm, admin.TopicSpec{Name: name, Partitions: 3, ReplicationFactor: 3, MinInsyncReplicas: 2})

	const victim = int32(3)
	if err := shared.Kill(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := shared.Start(ctx, victim); err != nil {
			t.Errorf("restart broker %d: %v", victim, err)
		}
		if err := shared.WaitHealthy(ctx); err != nil {
			t.Errorf("cluster not healthy after restarting broker %d: %v", victim, err)
		}
	})

	// The controller fences the killed broker after its session times out
	// and shrinks the ISRs; poll until Describe reports it.
	var d admin.TopicDescription
	for {
		ds, err := adm.Describe(ctx, name)
		if err == nil && len(ds) == 1 && ds[0].UnderReplicated() == 3 {
			d = ds[0]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("describe never showed the partitions under-replicated: %+v %v", ds, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	for _, p := range d.Partitions {
		if len(p.Replicas) != 3 || len(p.ISR) != 2 || p.UnderMinISR || p.Leader == victim || p.Leader < 1 {
			t.Errorf("partition %d: %+v", p.Partition, p)
		}
		for _, id := range p.ISR {
			if id == victim {
				t.Errorf("partition %d: killed broker still in ISR %v", p.Partition, p.ISR)
			}
		}
	}
	// While the broker is down, a new RF 3 topic is refused with the live count.
	_, err := adm.Plan(ctx, []admin.TopicSpec{{Name: integration.UniqueName(t, "new"), Partitions: 1, ReplicationFactor: 3}})
	if !errors.Is(err, admin.ErrInvalidSpec) || !strings.Contains(err.Error(), "2 live brokers") {
		t.Fatalf("plan with a broker down: %v", err)
	}
}

// TestBrokerExampleFilePlans checks that the broker accepts every config of
// examples/topics.yaml (validate-only: nothing is created).
func TestBrokerExampleFilePlans(t *testing.T) {
	adm, _ := brokerAdmin(t)
	specs, err := admin.LoadFile("../examples/topics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := adm.Plan(integration.Context(t, time.Minute), specs)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Summary(); s.Create != len(specs) {
		t.Fatalf("plan:\n%s", p)
	}
}

func TestBrokerIncreaseReplicationFactor(t *testing.T) {
	ctx := integration.Context(t, 3*time.Minute)
	adm, _ := brokerAdmin(t)
	name := integration.UniqueName(t, "t")
	spec := admin.TopicSpec{Name: name, Partitions: 3, ReplicationFactor: 1, MinInsyncReplicas: 1}
	mustApply(t, adm, spec)
	before := describeOne(t, adm, name)

	spec.ReplicationFactor, spec.MinInsyncReplicas, spec.Partitions = 3, 2, 4
	p, err := adm.Plan(ctx, []admin.TopicSpec{spec})
	if err != nil {
		t.Fatal(err)
	}
	if tp := p.Topics[0]; len(tp.Reassign) != 3 || !tp.AddsPartitions() || len(tp.Configs) != 1 {
		t.Fatalf("plan:\n%s", p)
	}
	t.Logf("plan:\n%s", p)
	if err := adm.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	d := describeOne(t, adm, name)
	if d.ReplicationFactor != 3 || d.MinInsyncReplicas != 2 || len(d.Partitions) != 4 {
		t.Fatalf("after apply: RF %d min.insync %d partitions %d", d.ReplicationFactor, d.MinInsyncReplicas, len(d.Partitions))
	}
	for i, part := range d.Partitions {
		if len(part.Replicas) != 3 || len(part.ISR) != 3 || part.UnderReplicated {
			t.Errorf("partition %d: %+v", part.Partition, part)
		}
		if i < len(before.Partitions) && !slices.Contains(part.Replicas, before.Partitions[i].Replicas[0]) {
			t.Errorf("partition %d lost its original replica %d: %v", part.Partition, before.Partitions[i].Replicas[0], part.Replicas)
		}
	}
	if again, err := adm.Plan(ctx, []admin.TopicSpec{spec}); err != nil || again.HasChanges() {
		t.Fatalf("re-plan: %v\n%s", err, again)
	}
	// Lowering it again is refused.
	spec.ReplicationFactor, spec.MinInsyncReplicas = 2, 1
	if _, err := adm.Plan(ctx, []admin.TopicSpec{spec}); !errors.Is(err, admin.ErrInvalidSpec) || !strings.Contains(err.Error(), "lowering it loses durability") {
		t.Fatalf("lowering RF: %v", err)
	}
}
