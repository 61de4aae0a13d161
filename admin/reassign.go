package admin

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// PartitionAssignment is a replica change of one partition: Apply raises a
// topic's replication factor by reassigning its partitions from From to To
// (From plus new replicas; the leader and existing replicas stay).
type PartitionAssignment struct {
	Partition int32   `json:"partition"`
	From      []int32 `json:"from"`
	To        []int32 `json:"to"`
}

func brokerIDs(bs []kgo.BrokerMetadata) []int32 {
	ids := make([]int32, len(bs))
	for i, b := range bs {
		ids[i] = b.NodeID
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func brokerList(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return "[" + strings.Join(s, ",") + "]"
}

// addReplicas keeps every partition's replicas and appends live brokers
// until each has rf replicas, choosing the broker that holds the fewest
// replicas of this topic so far (lowest id on ties).
func addReplicas(td kadm.TopicDetail, rf int, live []int32) []PartitionAssignment {
	load := map[int32]int{}
	for _, p := range td.Partitions {
		for _, r := range p.Replicas {
			load[r]++
		}
	}
	var out []PartitionAssignment
	for _, p := range td.Partitions.Sorted() {
		to := append([]int32(nil), p.Replicas...)
		for len(to) < rf {
			best := int32(-1)
			for _, id := range live {
				if slices.Contains(to, id) {
					continue
				}
				if best < 0 || load[id] < load[best] {
					best = id
				}
			}
			if best < 0 {
				break // fewer live brokers than rf: Plan reports it before
			}
			to = append(to, best)
			load[best]++
		}
		out = append(out, PartitionAssignment{Partition: p.Partition, From: append([]int32(nil), p.Replicas...), To: to})
	}
	return out
}

// reassign starts the reassignments of t and waits until they finished:
// no reassignment is in progress and every partition has its new replicas.
func (c *Client) reassign(ctx context.Context, t TopicPlan) error {
	req := kadm.AlterPartitionAssignmentsReq{}
	for _, r := range t.Reassign {
		req.Assign(t.Topic, r.Partition, r.To)
	}
	resp, err := c.adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return &TopicError{Topic: t.Topic, Op: "reassign partitions", Err: err}
	}
	for _, ps := range resp {
		for _, r := range ps {
			if r.Err != nil {
				return &TopicError{Topic: t.Topic, Op: "reassign partitions", Err: r.Err, Message: r.ErrMessage}
			}
		}
	}
	c.log.Info("reassigning partitions", "topic", t.Topic, "from_rf", t.CurrentReplicationFactor, "to_rf", t.ReplicationFactor)
	for {
		done, err := c.reassigned(ctx, t)
		if err != nil {
			return &TopicError{Topic: t.Topic, Op: "reassign partitions", Err: err}
		}
		if done {
			c.log.Info("reassigned partitions", "topic", t.Topic, "replication_factor", t.ReplicationFactor)
			return nil
		}
		select {
		case <-ctx.Done():
			return &TopicError{Topic: t.Topic, Op: "reassign partitions",
				Err: fmt.Errorf("still copying replicas (the reassignment continues on the cluster; re-run plan later): %w", ctx.Err())}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Client) reassigned(ctx context.Context, t TopicPlan) (bool, error) {
	inProgress, err := c.adm.ListPartitionReassignments(ctx, kadm.TopicsSet{t.Topic: nil})
	if err != nil {
		return false, err
	}
	if len(inProgress[t.Topic]) > 0 {
		return false, nil
	}
	meta, err := c.metadata(ctx, t.Topic)
	if err != nil {
		return false, err
	}
	td := meta.Topics[t.Topic]
	for _, r := range t.Reassign {
		p, ok := td.Partitions[r.Partition]
		if !ok || len(p.Replicas) != len(r.To) || len(p.ISR) != len(r.To) {
			return false, nil
		}
	}
	return true, nil
}
