package admin

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Severity ranks a lint finding.
type Severity string

// Severities of findings. An error means exactly-once output can be lost or
// blocked; a warning means less durability or availability than advised.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding is one exactly-once safety problem. Topic is empty for a finding
// about the cluster's own settings.
type Finding struct {
	Severity Severity `json:"severity"`
	Topic    string   `json:"topic,omitempty"`
	Check    string   `json:"check"` // stable identifier, e.g. "min-insync-replicas"
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}

// Lint check identifiers.
const (
	CheckReplicationFactor = "replication-factor"
	CheckMinInsync         = "min-insync-replicas"
	CheckMinInsyncEqualsRF = "min-insync-equals-rf"
	CheckUncleanElection   = "unclean-leader-election"
	CheckTxnLogRF          = "transaction-state-log-replication-factor"
	CheckTxnLogMinISR      = "transaction-state-log-min-isr"
	CheckOffsetsTopicRF    = "offsets-topic-replication-factor"
	uncleanKey             = "unclean.leader.election.enable"
	recommendedRF          = 3
	recommendedMinInsync   = 2
)

// HasErrors reports whether any finding has SeverityError.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// LintSpecs checks specs (after SetDefaults, on copies) for exactly-once
// safety without a cluster: replication factor below 3, min.insync.replicas
// below 2, min.insync.replicas equal to the replication factor, and unclean
// leader election enabled.
func LintSpecs(specs []TopicSpec) []Finding {
	var out []Finding
	for _, s := range withDefaults(specs) {
		out = append(out, lintTopic(s.Name, int(s.ReplicationFactor), s.MinInsyncReplicas, s.Configs[uncleanKey])...)
	}
	return out
}

func lintTopic(topic string, rf, minISR int, unclean string) []Finding {
	var out []Finding
	add := func(sev Severity, check, msg, fix string) {
		out = append(out, Finding{Severity: sev, Topic: topic, Check: check, Message: msg, Fix: fix})
	}
	if rf < recommendedRF {
		sev := SeverityWarning
		if rf <= 1 {
			sev = SeverityError
		}
		add(sev, CheckReplicationFactor, fmt.Sprintf("replication factor %d: losing %d broker(s) loses committed data", rf, rf),
			"use replicationFactor: 3 (recreate the topic or reassign partitions)")
	}
	if minISR < recommendedMinInsync {
		add(SeverityError, CheckMinInsync, fmt.Sprintf("min.insync.replicas %d: an acks=all write is acknowledged by one replica and lost if that broker fails", minISR),
			"set minInsyncReplicas: 2 with replicationFactor: 3")
	}
	if rf > 1 && minISR == rf {
		fix := fmt.Sprintf("set minInsyncReplicas to %d", rf-1)
		if rf-1 < recommendedMinInsync {
			fix = "use replicationFactor: 3 with minInsyncReplicas: 2"
		}
		add(SeverityWarning, CheckMinInsyncEqualsRF, fmt.Sprintf("min.insync.replicas equals the replication factor (%d): any one broker down blocks all writes and transactions", rf), fix)
	}
	if unclean == "true" {
		add(SeverityError, CheckUncleanElection, "unclean.leader.election.enable=true: an out-of-sync replica can become leader and drop committed records",
			`set configs: {unclean.leader.election.enable: "false"}`)
	}
	return out
}

// Lint checks topics and the cluster for exactly-once safety. With specs it
// lints the specs (as LintSpecs); with none it lints every existing topic
// that is not internal, from its effective configuration. It always adds the
// cluster's settings for the transaction state log and the offsets topic
// (transaction.state.log.replication.factor >= 3,
// transaction.state.log.min.isr >= 2, offsets.topic.replication.factor >= 3),
// read from a live broker. Errors mean the cluster could not be asked.
func (c *Client) Lint(ctx context.Context, specs []TopicSpec) ([]Finding, error) {
	var out []Finding
	if len(specs) > 0 {
		out = LintSpecs(specs)
	} else {
		ds, err := c.Describe(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			unclean, _ := d.Config(uncleanKey)
			out = append(out, lintTopic(d.Topic, d.ReplicationFactor, d.MinInsyncReplicas, unclean)...)
		}
	}
	cl, err := c.LintCluster(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, cl...), nil
}

// LintCluster checks the broker settings exactly-once depends on, read from
// one live broker.
func (c *Client) LintCluster(ctx context.Context) ([]Finding, error) {
	meta, err := c.adm.BrokerMetadata(kadm.WithAuthorizedOps(ctx))
	if err != nil {
		return nil, fmt.Errorf("request metadata: %w", err)
	}
	if len(meta.Brokers) == 0 {
		return nil, fmt.Errorf("lint cluster: metadata lists no live brokers")
	}
	rcs, err := c.adm.DescribeBrokerConfigs(ctx, meta.Brokers[0].NodeID)
	if err != nil {
		return nil, fmt.Errorf("describe broker configs: %w", err)
	}
	values := map[string]int{}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs of broker %s: %w", rc.Name, rc.Err)
		}
		for _, cv := range rc.Configs {
			if n, err := strconv.Atoi(cv.MaybeValue()); err == nil {
				values[cv.Key] = n
			}
		}
	}
	var out []Finding
	check := func(key, id string, min int, what string) {
		v, ok := values[key]
		if !ok || v >= min {
			return
		}
		sev := SeverityError
		if key != "transaction.state.log.min.isr" && v > 1 {
			sev = SeverityWarning
		}
		out = append(out, Finding{Severity: sev, Check: id,
			Message: fmt.Sprintf("%s=%d: %s", key, v, what),
			Fix:     fmt.Sprintf("set %s=%d in every broker's configuration", key, min)})
	}
	check("transaction.state.log.replication.factor", CheckTxnLogRF, recommendedRF, "transaction state can be lost with a broker, and with it the outcome of in-flight transactions")
	check("transaction.state.log.min.isr", CheckTxnLogMinISR, recommendedMinInsync, "a transaction commit is acknowledged by a single replica")
	check("offsets.topic.replication.factor", CheckOffsetsTopicRF, recommendedRF, "committed consumer offsets can be lost with a broker, so input is reprocessed")
	return out, nil
}
