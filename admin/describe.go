package admin

import (
	"context"
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
)

// PartitionStatus is one partition of a described topic.
type PartitionStatus struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"` // -1 when the partition has no leader
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	Offline         []int32 `json:"offline,omitempty"`
	UnderReplicated bool    `json:"underReplicated"` // fewer in-sync replicas than replicas
	UnderMinISR     bool    `json:"underMinIsr"`     // fewer in-sync replicas than min.insync.replicas: acks=all writes fail
	Error           string  `json:"error,omitempty"`
}

// ConfigValue is an effective topic config and where its value comes from
// (DYNAMIC_TOPIC_CONFIG for a topic override, DEFAULT_CONFIG, ...).
type ConfigValue struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// TopicDescription is the state of one topic.
type TopicDescription struct {
	Topic             string            `json:"topic"`
	ID                string            `json:"id"`
	Internal          bool              `json:"internal,omitempty"`
	ReplicationFactor int               `json:"replicationFactor"`
	MinInsyncReplicas int               `json:"minInsyncReplicas"`
	Partitions        []PartitionStatus `json:"partitions"`
	Configs           []ConfigValue     `json:"configs"`
}

// Config returns the effective value of key, and whether the topic has it.
func (d TopicDescription) Config(key string) (string, bool) {
	for _, c := range d.Configs {
		if c.Key == key {
			return c.Value, true
		}
	}
	return "", false
}

// UnderReplicated returns how many partitions have fewer in-sync replicas
// than replicas.
func (d TopicDescription) UnderReplicated() int {
	n := 0
	for _, p := range d.Partitions {
		if p.UnderReplicated {
			n++
		}
	}
	return n
}

// Describe returns the partitions (leader, replicas, ISR, under-replicated
// and under-min-ISR status) and effective configs of topics, sorted by name;
// with no topics it describes every topic that is not internal. Metadata is
// asked fresh, never served from a cache. A topic that does not exist (or
// cannot be described) yields a *TopicError (errors.Is
// kerr.UnknownTopicOrPartition) in the returned error, joined with the
// others; the topics that could be described are returned anyway.
func (c *Client) Describe(ctx context.Context, topics ...string) ([]TopicDescription, error) {
	meta, err := c.metadata(ctx, topics...)
	if err != nil {
		return nil, err
	}
	var errs []error
	var names []string
	for _, n := range sortedKeys(meta.Topics) {
		td := meta.Topics[n]
		switch {
		case td.Err != nil:
			errs = append(errs, &TopicError{Topic: n, Op: "describe", Err: td.Err})
		case len(topics) == 0 && td.IsInternal:
		default:
			names = append(names, n)
		}
	}
	for _, n := range topics {
		if _, ok := meta.Topics[n]; !ok {
			errs = append(errs, &TopicError{Topic: n, Op: "describe", Err: kerr.UnknownTopicOrPartition})
		}
	}
	cfgs, err := c.topicConfigs(ctx, names)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	out := make([]TopicDescription, 0, len(names))
	for _, n := range names {
		td := meta.Topics[n]
		d := TopicDescription{Topic: n, ID: td.ID.String(), Internal: td.IsInternal, ReplicationFactor: td.Partitions.NumReplicas()}
		for _, cv := range cfgs[n] {
			d.Configs = append(d.Configs, ConfigValue{Key: cv.Key, Value: cv.MaybeValue(), Source: cv.Source.String(), Sensitive: cv.Sensitive})
		}
		if v, ok := d.Config(MinInsyncKey); ok {
			d.MinInsyncReplicas, _ = strconv.Atoi(v)
		}
		for _, p := range td.Partitions.Sorted() {
			ps := PartitionStatus{
				Partition: p.Partition, Leader: p.Leader,
				Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR), Offline: p.OfflineReplicas,
				UnderReplicated: len(p.ISR) < len(p.Replicas),
				UnderMinISR:     len(p.ISR) < d.MinInsyncReplicas,
			}
			if p.Err != nil {
				ps.Error = p.Err.Error()
			}
			d.Partitions = append(d.Partitions, ps)
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return append([]int32(nil), s...)
}
