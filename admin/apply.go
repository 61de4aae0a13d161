package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Apply executes a plan returned by Plan: it creates topics, raises
// replication factors by reassignment (waiting until the new replicas are in
// sync), sets the config keys that differ (an incremental alter: keys the
// plan does not name are untouched), and adds partitions. It never deletes a topic, and
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
	var done []TopicPlan
	for _, t := range p.Topics {
		var err error
		switch t.Action {
		case ActionCreate:
			err = c.create(ctx, t)
		case ActionUpdate:
			err = c.update(ctx, t)
		default:
			continue
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			done = append(done, t)
		}
	}
	if err := c.waitApplied(ctx, done); err != nil {
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
	// Replicas first: partitions added afterwards get the new factor.
	if len(t.Reassign) > 0 {
		if err := c.reassign(ctx, t); err != nil {
			return err
		}
	}
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

// waitApplied polls every live broker until each one reports the applied
// topics with their partitions (each with a leader) and config values, or
// ctx ends. Brokers learn changes from the metadata log at their own pace;
// without this a Plan right after Apply could ask a broker that lags.
func (c *Client) waitApplied(ctx context.Context, applied []TopicPlan) error {
	if len(applied) == 0 {
		return nil
	}
	for {
		meta, err := c.metadata(ctx)
		if err == nil {
			ready := true
			for _, b := range meta.Brokers {
				if ok, _ := c.brokerSees(ctx, b.NodeID, applied); !ok {
					ready = false
					break
				}
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for every broker to see the applied changes (re-run plan to check them): %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// brokerSees reports whether broker id reports every topic of applied with
// at least its planned partitions, each with a leader, and its planned
// config values.
func (c *Client) brokerSees(ctx context.Context, id int32, applied []TopicPlan) (bool, error) {
	br := c.cl.Broker(int(id))
	mreq := kmsg.NewPtrMetadataRequest()
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	for _, t := range applied {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(t.Topic)
		mreq.Topics = append(mreq.Topics, mt)
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType = kmsg.ConfigResourceTypeTopic
		r.ResourceName = t.Topic
		dreq.Resources = append(dreq.Resources, r)
	}
	mresp, err := mreq.RequestWith(ctx, br)
	if err != nil {
		return false, err
	}
	parts := map[string]int32{}
	for _, t := range mresp.Topics {
		if t.ErrorCode != 0 || t.Topic == nil {
			return false, nil
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				return false, nil
			}
		}
		parts[*t.Topic] = int32(len(t.Partitions))
	}
	dresp, err := dreq.RequestWith(ctx, br)
	if err != nil {
		return false, err
	}
	values := map[string]map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, r := range dresp.Resources {
		if r.ErrorCode != 0 {
			return false, nil
		}
		m := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, cv := range r.Configs {
			m[cv.Name] = cv
		}
		values[r.ResourceName] = m
	}
	for _, t := range applied {
		if parts[t.Topic] < t.Partitions {
			return false, nil
		}
		for _, ch := range t.Configs {
			cv, ok := values[t.Topic][ch.Key]
			switch {
			case ch.Delete:
				if ok && cv.Source == kmsg.ConfigSourceDynamicTopicConfig {
					return false, nil
				}
			case !ok || cv.Value == nil || *cv.Value != ch.New:
				return false, nil
			}
		}
	}
	return true, nil
}
