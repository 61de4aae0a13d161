package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Action is what a plan does to one topic.
type Action string

// Actions of a TopicPlan.
const (
	ActionCreate Action = "create" // the topic does not exist
	ActionUpdate Action = "update" // configs differ and/or partitions are added
	ActionNone   Action = "none"   // the topic matches its spec
)

// ConfigChange is one config key a plan sets (or, with PruneConfigs,
// deletes).
type ConfigChange struct {
	Key    string  `json:"key"`
	Old    *string `json:"old,omitempty"` // current value; nil on create or when the key is unknown
	New    string  `json:"new,omitempty"`
	Delete bool    `json:"delete,omitempty"` // remove the topic-level override (PruneConfigs only)
}

// TopicPlan is the plan for one topic.
type TopicPlan struct {
	Topic             string `json:"topic"`
	Action            Action `json:"action"`
	Partitions        int32  `json:"partitions"`        // wanted
	CurrentPartitions int32  `json:"currentPartitions"` // 0 when the topic does not exist
	ReplicationFactor int16  `json:"replicationFactor"` // wanted
	// CurrentReplicationFactor is the topic's replication factor, 0 when
	// it does not exist. When it is lower than ReplicationFactor, Reassign
	// adds replicas.
	CurrentReplicationFactor int16                 `json:"currentReplicationFactor"`
	Reassign                 []PartitionAssignment `json:"reassign,omitempty"`
	Configs                  []ConfigChange        `json:"configs,omitempty"` // on create every config set; on update only the keys that differ
}

// AddsPartitions reports whether the plan adds partitions to an existing topic.
func (t TopicPlan) AddsPartitions() bool {
	return t.Action == ActionUpdate && t.Partitions > t.CurrentPartitions
}

// Plan is what Apply would do, topic by topic in the order of the specs.
// It is a plain value: print it with String, encode it as JSON, test it.
type Plan struct {
	Topics []TopicPlan `json:"topics"`
}

// Summary counts the topics by action.
type Summary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Unchanged int `json:"unchanged"`
}

// Summary counts the topics of p by action.
func (p Plan) Summary() Summary {
	var s Summary
	for _, t := range p.Topics {
		switch t.Action {
		case ActionCreate:
			s.Create++
		case ActionUpdate:
			s.Update++
		default:
			s.Unchanged++
		}
	}
	return s
}

// HasChanges reports whether applying p would change the cluster.
func (p Plan) HasChanges() bool {
	s := p.Summary()
	return s.Create+s.Update > 0
}

// String renders p for people, in the style of terraform plan.
func (p Plan) String() string {
	var b strings.Builder
	for _, t := range p.Topics {
		switch t.Action {
		case ActionCreate:
			fmt.Fprintf(&b, "+ create %s: %d partitions, replication factor %d\n", t.Topic, t.Partitions, t.ReplicationFactor)
			for _, c := range t.Configs {
				fmt.Fprintf(&b, "    %s = %s\n", c.Key, c.New)
			}
		case ActionUpdate:
			fmt.Fprintf(&b, "~ update %s\n", t.Topic)
			if len(t.Reassign) > 0 {
				fmt.Fprintf(&b, "    replication factor: %d -> %d\n", t.CurrentReplicationFactor, t.ReplicationFactor)
				for _, r := range t.Reassign {
					fmt.Fprintf(&b, "      partition %d replicas: %s -> %s\n", r.Partition, brokerList(r.From), brokerList(r.To))
				}
			}
			if t.AddsPartitions() {
				fmt.Fprintf(&b, "    partitions: %d -> %d\n", t.CurrentPartitions, t.Partitions)
			}
			for _, c := range t.Configs {
				old := "(unset)"
				if c.Old != nil {
					old = *c.Old
				}
				if c.Delete {
					fmt.Fprintf(&b, "    - %s (was %s)\n", c.Key, old)
				} else {
					fmt.Fprintf(&b, "    %s: %s -> %s\n", c.Key, old, c.New)
				}
			}
		default:
			fmt.Fprintf(&b, "  %s: up to date\n", t.Topic)
		}
	}
	s := p.Summary()
	fmt.Fprintf(&b, "Plan: %d to create, %d to update, %d unchanged.\n", s.Create, s.Update, s.Unchanged)
	return b.String()
}

// PlanOption changes what Plan compares.
type PlanOption interface{ applyPlan(*planCfg) }

type planCfg struct{ prune bool }

type planOptFunc func(*planCfg)

func (f planOptFunc) applyPlan(c *planCfg) { f(c) }

// PruneConfigs makes the plan delete topic-level config overrides that the
// spec does not mention, so the topic falls back to the broker default.
// Without it, Plan and Apply never remove a config.
func PruneConfigs() PlanOption { return planOptFunc(func(c *planCfg) { c.prune = true }) }

// Plan compares specs with the cluster and returns what Apply would do. It
// applies SetDefaults to copies of specs, validates them (ValidateAll), then
// checks what needs the cluster: replication factor against the live
// brokers, partitions against the current count (Kafka cannot remove
// partitions), a lower replication factor (refused: it loses durability),
// and, with the broker's validate-only requests, unknown config keys and
// invalid values. A higher replication factor is planned as a partition
// reassignment that keeps every current replica and adds replicas on the
// live brokers holding the fewest of the topic. Every problem is reported at once as a
// *ValidationError (errors.Is ErrInvalidSpec); other errors mean the cluster
// could not be asked. Plan changes nothing on the cluster.
func (c *Client) Plan(ctx context.Context, specs []TopicSpec, opts ...PlanOption) (Plan, error) {
	var cfg planCfg
	for _, o := range opts {
		o.applyPlan(&cfg)
	}
	specs = withDefaults(specs)
	if err := ValidateAll(specs); err != nil {
		return Plan{}, err
	}
	if len(specs) == 0 {
		return Plan{Topics: []TopicPlan{}}, nil
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	meta, err := c.metadata(ctx, names...)
	if err != nil {
		return Plan{}, err
	}
	var existing []string
	for _, n := range names {
		td, ok := meta.Topics[n]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		case td.Err != nil:
			return Plan{}, &TopicError{Topic: n, Op: "describe", Err: td.Err}
		default:
			existing = append(existing, n)
		}
	}
	current, err := c.topicConfigs(ctx, existing)
	if err != nil {
		return Plan{}, err
	}

	var ps problems
	var plan Plan
	for _, s := range specs {
		td, exists := meta.Topics[s.Name]
		exists = exists && td.Err == nil
		var tp TopicPlan
		if exists {
			tp = planUpdate(&ps, s, td, current[s.Name], cfg.prune, brokerIDs(meta.Brokers))
		} else {
			tp = planCreate(&ps, s, len(meta.Brokers))
		}
		plan.Topics = append(plan.Topics, tp)
	}
	if err := ps.err(); err != nil {
		return Plan{}, err
	}
	// What only the broker knows: config names and values.
	for i, s := range specs {
		if err := c.brokerValidate(ctx, &ps, s, plan.Topics[i]); err != nil {
			return Plan{}, err
		}
	}
	if err := ps.err(); err != nil {
		return Plan{}, err
	}
	return plan, nil
}

func withDefaults(specs []TopicSpec) []TopicSpec {
	out := make([]TopicSpec, len(specs))
	for i, s := range specs {
		s.SetDefaults()
		out[i] = s
	}
	return out
}

// desiredConfigs is every config the spec sets, min.insync.replicas included.
func desiredConfigs(s TopicSpec) map[string]string {
	m := make(map[string]string, len(s.Configs)+1)
	for k, v := range s.Configs {
		m[k] = v
	}
	m[MinInsyncKey] = strconv.Itoa(s.MinInsyncReplicas)
	return m
}

func planCreate(ps *problems, s TopicSpec, live int) TopicPlan {
	if int(s.ReplicationFactor) > live {
		tooFewBrokers(ps, s, live)
	}
	tp := TopicPlan{Topic: s.Name, Action: ActionCreate, Partitions: s.Partitions, ReplicationFactor: s.ReplicationFactor}
	want := desiredConfigs(s)
	for _, k := range sortedKeys(want) {
		tp.Configs = append(tp.Configs, ConfigChange{Key: k, New: want[k]})
	}
	return tp
}

func tooFewBrokers(ps *problems, s TopicSpec, live int) {
	ps.add(s, "replicationFactor", fmt.Sprintf("is %d but the cluster has %d live brokers", s.ReplicationFactor, live),
		fmt.Sprintf("set replicationFactor to at most %d, or start the missing brokers", live))
}

func planUpdate(ps *problems, s TopicSpec, td kadm.TopicDetail, cur []kadm.Config, prune bool, live []int32) TopicPlan {
	curParts := int32(len(td.Partitions))
	curRF := int16(td.Partitions.NumReplicas())
	tp := TopicPlan{Topic: s.Name, Action: ActionNone, Partitions: s.Partitions, CurrentPartitions: curParts,
		ReplicationFactor: s.ReplicationFactor, CurrentReplicationFactor: curRF}
	if s.Partitions < curParts {
		ps.add(s, "partitions", fmt.Sprintf("is %d but the topic has %d; Kafka cannot remove partitions", s.Partitions, curParts),
			fmt.Sprintf("set partitions to %d or more, or delete and recreate the topic", curParts))
	}
	switch {
	case s.ReplicationFactor < curRF:
		ps.add(s, "replicationFactor", fmt.Sprintf("is %d but the topic has %d; lowering it loses durability and needs a partition reassignment, which eoskit refuses to do", s.ReplicationFactor, curRF),
			fmt.Sprintf("set replicationFactor to %d, or reassign with kafka-reassign-partitions.sh and then update the spec", curRF))
	case s.ReplicationFactor > curRF && int(s.ReplicationFactor) > len(live):
		tooFewBrokers(ps, s, len(live))
	case s.ReplicationFactor > curRF:
		tp.Reassign = addReplicas(td, int(s.ReplicationFactor), live)
	}
	values := make(map[string]kadm.Config, len(cur))
	for _, c := range cur {
		values[c.Key] = c
	}
	want := desiredConfigs(s)
	for _, k := range sortedKeys(want) {
		c, ok := values[k]
		if ok && c.Value != nil && *c.Value == want[k] {
			continue
		}
		ch := ConfigChange{Key: k, New: want[k]}
		if ok && c.Value != nil {
			v := *c.Value
			ch.Old = &v
		}
		tp.Configs = append(tp.Configs, ch)
	}
	if prune {
		for _, c := range cur {
			if _, ok := want[c.Key]; !ok && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				ch := ConfigChange{Key: c.Key, Delete: true}
				if c.Value != nil {
					v := *c.Value
					ch.Old = &v
				}
				tp.Configs = append(tp.Configs, ch)
			}
		}
	}
	if len(tp.Configs) > 0 || s.Partitions > curParts || len(tp.Reassign) > 0 {
		tp.Action = ActionUpdate
	}
	return tp
}

// topicConfigs describes the configs of existing topics.
func (c *Client) topicConfigs(ctx context.Context, topics []string) (map[string][]kadm.Config, error) {
	out := make(map[string][]kadm.Config, len(topics))
	if len(topics) == 0 {
		return out, nil
	}
	rcs, err := c.adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, &TopicError{Topic: rc.Name, Op: "describe configs", Err: rc.Err, Message: rc.ErrMessage}
		}
		sort.Slice(rc.Configs, func(i, j int) bool { return rc.Configs[i].Key < rc.Configs[j].Key })
		out[rc.Name] = rc.Configs
	}
	return out, nil
}

// brokerValidate asks the broker to validate, without applying, what the
// plan would do to one topic, and turns rejections into problems.
func (c *Client) brokerValidate(ctx context.Context, ps *problems, s TopicSpec, tp TopicPlan) error {
	reject := func(field string, err error, msg string) {
		text := err.Error()
		if msg != "" {
			text = msg
		}
		ps.add(s, field, "rejected by the broker: "+text, "check the key's spelling and its value against the Kafka topic configuration reference")
	}
	switch tp.Action {
	case ActionCreate:
		resp, err := c.adm.ValidateCreateTopics(ctx, tp.Partitions, tp.ReplicationFactor, configPtrs(tp.Configs), tp.Topic)
		if err != nil {
			return fmt.Errorf("validate create of topic %s: %w", tp.Topic, err)
		}
		if r, ok := resp[tp.Topic]; ok && r.Err != nil {
			reject("configs", r.Err, r.ErrMessage)
		}
	case ActionUpdate:
		if len(tp.Configs) > 0 {
			resp, err := c.adm.ValidateAlterTopicConfigs(ctx, alterConfigs(tp.Configs), tp.Topic)
			if err != nil {
				return fmt.Errorf("validate config change of topic %s: %w", tp.Topic, err)
			}
			for _, r := range resp {
				if r.Err != nil {
					reject("configs", r.Err, r.ErrMessage)
				}
			}
		}
		if tp.AddsPartitions() {
			resp, err := c.adm.ValidateUpdatePartitions(ctx, int(tp.Partitions), tp.Topic)
			if err != nil {
				return fmt.Errorf("validate partition change of topic %s: %w", tp.Topic, err)
			}
			for _, r := range resp {
				if r.Err != nil {
					reject("partitions", r.Err, r.ErrMessage)
				}
			}
		}
	}
	return nil
}

func configPtrs(cs []ConfigChange) map[string]*string {
	m := make(map[string]*string, len(cs))
	for _, c := range cs {
		v := c.New
		m[c.Key] = &v
	}
	return m
}

func alterConfigs(cs []ConfigChange) []kadm.AlterConfig {
	out := make([]kadm.AlterConfig, 0, len(cs))
	for _, c := range cs {
		if c.Delete {
			out = append(out, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: c.Key})
			continue
		}
		v := c.New
		out = append(out, kadm.AlterConfig{Op: kadm.SetConfig, Name: c.Key, Value: &v})
	}
	return out
}
