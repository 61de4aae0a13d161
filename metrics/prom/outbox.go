package prom

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eoskit/eoskit"
)

// OutboxFigures are what an OutboxCollector exports at a scrape: a
// postgres/outbox relay's counters (Relay.Stats) and its slot's state
// (Relay.Status). Build them in the poll function; prom does not import
// postgres/outbox, so programs without PostgreSQL do not link it.
type OutboxFigures struct {
	Relayed   int64 // messages relayed (Stats.Relayed)
	KafkaTxns int64 // committed Kafka transactions that carried messages (Stats.KafkaTxns)
	// SlotLagBytes is pg_current_wal_lsn() - confirmed_flush_lsn
	// (Status.LagBytes); RetainedWALBytes pg_current_wal_lsn() -
	// restart_lsn (Status.RetainedWALBytes).
	SlotLagBytes     int64
	RetainedWALBytes int64
	// PositionAge is the age of the stored position (Status.PositionAge);
	// negative when there is none.
	PositionAge time.Duration
}

// OutboxCollector is a prometheus.Collector for one outbox relay: at each
// scrape it calls the poll function (bounded by LagTimeout) and exports
// the figures, with the constant label slot.
type OutboxCollector struct {
	poll    func(context.Context) (OutboxFigures, error)
	timeout time.Duration

	relayed, txns, lag, retained, age, up *prometheus.Desc

	mu sync.Mutex // one poll at a time
}

// NewOutboxCollector returns the collector of the relay on slot. Of the
// LagOpt options, LagTimeout and LagConstLabels apply. Errors wrap
// eoskit.ErrInvalidOption.
//
//	col, err := prom.NewOutboxCollector("orders", func(ctx context.Context) (prom.OutboxFigures, error) {
//	    st := relay.Stats()
//	    s, err := relay.Status(ctx)
//	    return prom.OutboxFigures{Relayed: st.Relayed, KafkaTxns: st.KafkaTxns, SlotLagBytes: s.LagBytes,
//	        RetainedWALBytes: s.RetainedWALBytes, PositionAge: s.PositionAge}, err
//	})
func NewOutboxCollector(slot string, poll func(context.Context) (OutboxFigures, error), opts ...LagOpt) (*OutboxCollector, error) {
	c := lagConfig{timeout: DefaultLagTimeout, labels: prometheus.Labels{}}
	for _, o := range opts {
		o.applyLag(&c)
	}
	p := eoskit.NewProblems("prom")
	if slot == "" {
		p.Addf("NewOutboxCollector: give the relay's slot name")
	}
	if poll == nil {
		p.Addf("NewOutboxCollector: give a poll function that reads the relay's Stats and Status")
	}
	if c.timeout <= 0 {
		p.Addf("LagTimeout: must be positive, got %v", c.timeout)
	}
	if _, ok := c.labels["slot"]; ok {
		p.Addf("LagConstLabels: label \"slot\" is reserved")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	labels := prometheus.Labels{"slot": slot}
	for k, v := range c.labels {
		labels[k] = v
	}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(Namespace+"_outbox_"+name, help, nil, labels)
	}
	return &OutboxCollector{
		poll: poll, timeout: c.timeout,
		relayed:  d("relayed_total", "Outbox messages relayed to Kafka (in committed Kafka transactions)."),
		txns:     d("kafka_txns_total", "Committed Kafka transactions of the relay that carried messages."),
		lag:      d("slot_lag_bytes", "WAL bytes written after the slot's confirmed_flush_lsn: not yet confirmed by the relay."),
		retained: d("retained_wal_bytes", "WAL bytes the slot retains on disk (pg_current_wal_lsn() - restart_lsn)."),
		age:      d("position_age_seconds", "Age of the relay's stored position (the last Kafka transaction with messages); absent without one."),
		up:       d("up", "1 if the last poll of the relay's figures succeeded, else 0."),
	}, nil
}

// Describe implements prometheus.Collector.
func (o *OutboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{o.relayed, o.txns, o.lag, o.retained, o.age, o.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one poll. The counters are
// exported even when the poll fails (they come from the relay itself);
// the slot's gauges only when it succeeded.
func (o *OutboxCollector) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	f, err := o.poll(ctx)
	if err == nil && ctx.Err() != nil {
		err = errors.New("poll timed out")
	}
	ch <- prometheus.MustNewConstMetric(o.relayed, prometheus.CounterValue, float64(f.Relayed))
	ch <- prometheus.MustNewConstMetric(o.txns, prometheus.CounterValue, float64(f.KafkaTxns))
	up := 0.0
	if err == nil {
		up = 1
		ch <- prometheus.MustNewConstMetric(o.lag, prometheus.GaugeValue, float64(f.SlotLagBytes))
		ch <- prometheus.MustNewConstMetric(o.retained, prometheus.GaugeValue, float64(f.RetainedWALBytes))
		if f.PositionAge >= 0 {
			ch <- prometheus.MustNewConstMetric(o.age, prometheus.GaugeValue, f.PositionAge.Seconds())
		}
	}
	ch <- prometheus.MustNewConstMetric(o.up, prometheus.GaugeValue, up)
}
