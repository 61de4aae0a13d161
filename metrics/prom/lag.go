package prom

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
)

// DefaultLagTimeout bounds one lag poll.
const DefaultLagTimeout = 5 * time.Second

// LagOpt configures NewLagCollector.
type LagOpt interface{ applyLag(*lagConfig) }

type lagOpt func(*lagConfig)

func (o lagOpt) applyLag(c *lagConfig) { o(c) }

type lagConfig struct {
	topics  []string
	timeout time.Duration
	labels  prometheus.Labels
	now     func() time.Time
}

// LagTopics keeps only these topics. Default: every partition the group
// has a committed offset on or a member assigned.
func LagTopics(topics ...string) LagOpt {
	return lagOpt(func(c *lagConfig) { c.topics = append(c.topics, topics...) })
}

// LagTimeout bounds each poll (default DefaultLagTimeout). A poll that
// does not finish in time reports eoskit_lag_up 0 and what it got.
func LagTimeout(d time.Duration) LagOpt { return lagOpt(func(c *lagConfig) { c.timeout = d }) }

// LagConstLabels adds constant labels to the lag metrics (not group).
func LagConstLabels(l prometheus.Labels) LagOpt {
	return lagOpt(func(c *lagConfig) {
		for k, v := range l {
			c.labels[k] = v
		}
	})
}

// LagCollector is a prometheus.Collector that, on every scrape, asks the
// cluster (admin.Client.GroupLag) for a group's committed offsets, each
// partition's high watermark (HWM) and last stable offset (LSO), and the
// open transaction holding each LSO below its HWM (DescribeProducers,
// then the coordinator's start time of the transaction, else its last
// write). Register it on the same registry as Metrics. A scrape takes a
// few admin requests and at most the poll timeout.
//
// Under transactions, lag to the HWM never reaches 0 (commit markers take
// offsets) and an open transaction holds the LSO: lag to the LSO is what a
// read_committed consumer can still read, LSO below HWM with a rising
// eoskit_open_txn_age_seconds is a hanging transaction.
type LagCollector struct {
	adm   *admin.Client
	group string
	cfg   lagConfig

	lso, hwm, age, up, pollSeconds *prometheus.Desc

	mu sync.Mutex // one poll at a time
}

// NewLagCollector returns the lag collector of group, querying through
// adm (admin.New or admin.NewWithClient; it does not close it). Errors wrap
// eoskit.ErrInvalidOption.
func NewLagCollector(adm *admin.Client, group string, opts ...LagOpt) (*LagCollector, error) {
	c := lagConfig{timeout: DefaultLagTimeout, labels: prometheus.Labels{}, now: time.Now}
	for _, o := range opts {
		o.applyLag(&c)
	}
	p := eoskit.NewProblems("prom")
	if adm == nil {
		p.Addf("NewLagCollector: give an admin client (admin.New or admin.NewWithClient)")
	}
	if group == "" {
		p.Addf("NewLagCollector: give the consumer group")
	}
	if c.timeout <= 0 {
		p.Addf("LagTimeout: must be positive, got %v", c.timeout)
	}
	if _, ok := c.labels["group"]; ok {
		p.Addf("LagConstLabels: label \"group\" is reserved")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	labels := prometheus.Labels{"group": group}
	for k, v := range c.labels {
		labels[k] = v
	}
	part := []string{"topic", "partition"}
	return &LagCollector{
		adm: adm, group: group, cfg: c,
		lso: prometheus.NewDesc(Namespace+"_lag_to_lso_records",
			"Records between the group's committed offset and the last stable offset: what a read_committed member can still read.", part, labels),
		hwm: prometheus.NewDesc(Namespace+"_lag_to_hwm_records",
			"Records between the group's committed offset and the high watermark (never 0 under transactions: markers take offsets).", part, labels),
		age: prometheus.NewDesc(Namespace+"_open_txn_age_seconds",
			"Age of the oldest open transaction on the partition, which holds its last stable offset (0: none). Rising: a stuck transaction.", part, labels),
		up:          prometheus.NewDesc(Namespace+"_lag_up", "1 if the last lag poll got every answer, else 0.", nil, labels),
		pollSeconds: prometheus.NewDesc(Namespace+"_lag_poll_seconds", "Duration of the last lag poll.", nil, labels),
	}, nil
}

// Describe implements prometheus.Collector.
func (l *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{l.lso, l.hwm, l.age, l.up, l.pollSeconds} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one poll, bounded by the poll
// timeout.
func (l *LagCollector) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.timeout)
	defer cancel()
	g, err := l.Poll(ctx)
	for _, p := range g.Partitions {
		if p.Error != "" {
			err = errors.New(p.Error)
			continue
		}
		lv := []string{p.Topic, strconv.Itoa(int(p.Partition))}
		ch <- prometheus.MustNewConstMetric(l.lso, prometheus.GaugeValue, float64(p.LagToLSO), lv...)
		ch <- prometheus.MustNewConstMetric(l.hwm, prometheus.GaugeValue, float64(p.LagToHWM), lv...)
		age := time.Duration(0)
		if p.PinnedBy != nil {
			age = p.PinnedBy.Age
		}
		ch <- prometheus.MustNewConstMetric(l.age, prometheus.GaugeValue, age.Seconds(), lv...)
	}
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(l.up, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(l.pollSeconds, prometheus.GaugeValue, time.Since(start).Seconds())
}

// Poll asks the cluster once (admin.Client.GroupLag) and returns the
// group's lag, keeping only the LagTopics if given. Collect calls it on
// every scrape. A group the cluster does not know yet has no partitions.
func (l *LagCollector) Poll(ctx context.Context) (admin.GroupLag, error) {
	g, err := l.adm.GroupLag(ctx, l.group, admin.HangingOptions{Topics: l.cfg.topics, Now: l.cfg.now()})
	if errors.Is(err, admin.ErrUnknownGroup) {
		return admin.GroupLag{Group: l.group}, nil
	}
	if err != nil {
		return g, fmt.Errorf("prom: lag of group %q: %w", l.group, err)
	}
	if len(l.cfg.topics) > 0 {
		keep := g.Partitions[:0]
		for _, p := range g.Partitions {
			if slices.Contains(l.cfg.topics, p.Topic) {
				keep = append(keep, p)
			}
		}
		g.Partitions = keep
	}
	return g, nil
}
