package admin

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Apply executes a plan returned by Plan: it creates topics, sets the
// config keys that differ (an incremental alter: keys the plan does not
// name are untouched), and adds partitions. It never deletes a topic, and
// deletes a config only for a plan made with PruneConfigs. Apply returns
// once created topics and added partitions are visible in the cluster's
// metadata, so a Plan right after it sees the new state.
//
// Topics are handled in plan order; a failure on one topic does not stop
// the others. The returned error joins a *TopicError per failed operation
// (match broker errors with errors.Is, e.g. kerr.TopicAlreadyExists when the
// cluster changed since Plan). Cancelling ctx stops Apply between requests;
// requests already sent may still take effect. Applying a plan without
// changes does nothing.
func (c *Client) Apply(ctx context.Context, p Plan) error {
	var errs []error
	wait := map[string]int32{}
	for _, t := range p.Topics {
		var err error
		switch t.Action {
		case ActionCreate:
			err = c.create(ctx, t)
			if err == nil {
				wait[t.Topic] = t.Partitions
			}
		case ActionUpdate:
			err = c.update(ctx, t)
			if err == nil && t.AddsPartitions() {
				wait[t.Topic] = t.Partitions
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.waitPartitions(ctx, wait); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Client) create(ctx context.Context, t TopicPlan) error {
	resp, err := c.adm.CreateTopic(ctx, t.Partitions, t.ReplicationFactor, configPtrs(t.Configs), t.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return &TopicError{Topic: t.Topic, Op: "create", Err: err, Message: resp.ErrMessage}
	}
	c.log.Info("created topic", "topic", t.Topic, "partitions", t.Partitions, "replication_factor", t.ReplicationFactor)
	return nil
}

func (c *Client) update(ctx context.Context, t TopicPlan) error {
	if len(t.Configs) > 0 {
		resp, err := c.adm.AlterTopicConfigs(ctx, alterConfigs(t.Configs), t.Topic)
		if err != nil {
			return &TopicError{Topic: t.Topic, Op: "alter configs", Err: err}
		}
		for _, r := range resp {
			if r.Err != nil {
				return &TopicError{Topic: t.Topic, Op: "alter configs", Err: r.Err, Message: r.ErrMessage}
			}
		}
		for _, ch := range t.Configs {
			c.log.Info("altered topic config", "topic", t.Topic, "key", ch.Key, "value", ch.New, "deleted", ch.Delete)
		}
	}
	if t.AddsPartitions() {
		resp, err := c.adm.UpdatePartitions(ctx, int(t.Partitions), t.Topic)
		if err != nil {
			return &TopicError{Topic: t.Topic, Op: "add partitions", Err: err}
		}
		for _, r := range resp {
			if r.Err != nil {
				return &TopicError{Topic: t.Topic, Op: "add partitions", Err: r.Err, Message: r.ErrMessage}
			}
		}
		c.log.Info("added partitions", "topic", t.Topic, "from", t.CurrentPartitions, "to", t.Partitions)
	}
	return nil
}

// waitPartitions polls metadata until every topic in want has at least that
// many partitions, each with a leader, or ctx ends.
func (c *Client) waitPartitions(ctx context.Context, want map[string]int32) error {
	if len(want) == 0 {
		return nil
	}
	names := sortedKeys(want)
	for {
		meta, err := c.metadata(ctx, names...)
		if err == nil {
			ready := true
			for _, n := range names {
				td := meta.Topics[n]
				if td.Err != nil || int32(len(td.Partitions)) < want[n] {
					ready = false
					break
				}
				for _, p := range td.Partitions {
					if p.Leader < 0 {
						ready = false
					}
				}
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for topics %v to appear in metadata: %w", names, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
