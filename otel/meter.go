package otel

import (
	"context"
	"errors"
	"sync"

	gotel "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/eoskit/eoskit"
)

// MeterOpt configures NewMeter.
type MeterOpt interface{ applyMeter(*meterConfig) }

type meterOpt func(*meterConfig)

func (o meterOpt) applyMeter(c *meterConfig) { o(c) }

type meterConfig struct {
	provider metric.MeterProvider
	attrs    []attribute.KeyValue
}

// WithMeterProvider sets the provider of the instruments. Default: the
// global one (go.opentelemetry.io/otel.GetMeterProvider).
func WithMeterProvider(mp metric.MeterProvider) MeterOpt {
	return meterOpt(func(c *meterConfig) { c.provider = mp })
}

// WithMeterAttributes adds attributes to every measurement: the
// counterparts of metrics/prom's constant labels, for example
// attribute.String("group", g) and attribute.String("txn_id", id).
func WithMeterAttributes(kv ...attribute.KeyValue) MeterOpt {
	return meterOpt(func(c *meterConfig) { c.attrs = append(c.attrs, kv...) })
}

// Meter is an eoskit hook recording metrics/prom's figures as
// OpenTelemetry instruments, an alternative to Prometheus's client. The
// instrument names are metrics/prom's with dots (eoskit.txn.committed,
// unit-less counters; eoskit.txn.end.duration in s), so that an
// OpenTelemetry Prometheus exporter exposes them under the same names
// (eoskit_txn_committed_total, eoskit_txn_end_duration_seconds, ...).
// The lag figures need metrics/prom's LagCollector. Its methods are safe
// for concurrent use.
type Meter struct {
	base metric.MeasurementOption

	txnBegun, txnCommitted, txnAborted, txnUnknown, txnFenced metric.Int64Counter
	txnEnd                                                    metric.Float64Histogram
	txnRecords, txnOutputs                                    metric.Int64Histogram
	recordsIn, recordsOut, produceErrors                      metric.Int64Counter
	handlerErrors, retries, deadLettered                      metric.Int64Counter
	handlerDuration                                           metric.Float64Histogram
	commits, rebalances, sessionRestarts                      metric.Int64Counter
	assigned                                                  metric.Int64UpDownCounter

	mu    sync.Mutex
	parts map[string]map[int32]struct{}

	// Attribute sets, built once.
	phase     map[string]metric.MeasurementOption
	reason    map[eoskit.AbortReason]metric.MeasurementOption
	event     map[string]metric.MeasurementOption
	commitRes map[bool]metric.MeasurementOption
}

// NewMeter creates the instruments.
func NewMeter(opts ...MeterOpt) (*Meter, error) {
	var c meterConfig
	for _, o := range opts {
		o.applyMeter(&c)
	}
	if c.provider == nil {
		c.provider = gotel.GetMeterProvider()
	}
	mt := c.provider.Meter(ScopeName)
	m := &Meter{base: metric.WithAttributeSet(attribute.NewSet(c.attrs...)), parts: map[string]map[int32]struct{}{},
		phase: map[string]metric.MeasurementOption{}, reason: map[eoskit.AbortReason]metric.MeasurementOption{},
		event: map[string]metric.MeasurementOption{}, commitRes: map[bool]metric.MeasurementOption{}}
	with := func(kv attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue(nil), c.attrs...), kv)...))
	}
	for _, p := range []string{"flush", "commit", "total", "abort"} {
		m.phase[p] = with(attribute.String("phase", p))
	}
	for r := eoskit.AbortRebalance; r <= eoskit.AbortOther; r++ {
		m.reason[r] = with(attribute.String("reason", r.String()))
	}
	for _, e := range []string{"assigned", "revoked", "lost"} {
		m.event[e] = with(attribute.String("event", e))
	}
	m.commitRes[true] = with(attribute.String("result", "ok"))
	m.commitRes[false] = with(attribute.String("result", "error"))

	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		x, err := mt.Int64Counter(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return x
	}
	seconds := func(name, desc string) metric.Float64Histogram {
		x, err := mt.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"))
		errs = append(errs, err)
		return x
	}
	count := func(name, desc string) metric.Int64Histogram {
		x, err := mt.Int64Histogram(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return x
	}
	m.txnBegun = counter("eoskit.txn.begun", "Transactions begun.")
	m.txnCommitted = counter("eoskit.txn.committed", "Transactions committed.")
	m.txnAborted = counter("eoskit.txn.aborted", "Transactions aborted, by reason.")
	m.txnUnknown = counter("eoskit.txn.unknown_outcome", "Transactions whose commit answer was lost (maybe committed).")
	m.txnFenced = counter("eoskit.txn.fenced", "Transactions ended because a newer instance took the transactional ID.")
	m.txnEnd = seconds("eoskit.txn.end.duration", "Time to end a transaction, by phase: flush, commit, total (of a commit), abort.")
	m.txnRecords = count("eoskit.txn.records", "Input records per committed transaction.")
	m.txnOutputs = count("eoskit.txn.outputs", "Output records per committed transaction.")
	m.recordsIn = counter("eoskit.records_in", "Input records handed to the handler (first attempts).")
	m.recordsOut = counter("eoskit.records_out", "Records produced and acknowledged, dead letters included.")
	m.produceErrors = counter("eoskit.produce_errors", "Records whose produce failed.")
	m.handlerErrors = counter("eoskit.handler_errors", "Handler calls that returned an error.")
	m.retries = counter("eoskit.handler_retries", "Handler calls that retried a record.")
	m.deadLettered = counter("eoskit.dead_lettered", "Input records routed to the dead-letter topic.")
	m.handlerDuration = seconds("eoskit.handler.duration", "Time of one handler call, sampled (Handled.Untimed calls are left out; eoskit.records.in counts all).")
	m.commits = counter("eoskit.offset_commits", "Offset commits of a non-transactional consumer, by result.")
	m.rebalances = counter("eoskit.rebalances", "Group rebalance events of this member, by event.")
	m.sessionRestarts = counter("eoskit.session_restarts", "Client sessions rebuilt after an error.")
	var err error
	m.assigned, err = mt.Int64UpDownCounter("eoskit.assigned_partitions", metric.WithDescription("Partitions currently assigned to this member."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

var bg = context.Background()

// OnTxnBegin implements eoskit.HookTxnBegin.
func (m *Meter) OnTxnBegin(eoskit.TxnBegin) { m.txnBegun.Add(bg, 1, m.base) }

// OnTxnEnd implements eoskit.HookTxnEnd.
func (m *Meter) OnTxnEnd(e eoskit.TxnEnd) {
	switch e.Outcome {
	case eoskit.TxnCommitted:
		m.txnCommitted.Add(bg, 1, m.base)
		m.txnRecords.Record(bg, int64(e.Records), m.base)
		m.txnOutputs.Record(bg, int64(e.Outputs), m.base)
	case eoskit.TxnAborted:
		r, ok := m.reason[e.Reason]
		if !ok {
			r = m.reason[eoskit.AbortOther]
		}
		m.txnAborted.Add(bg, 1, r)
		m.txnEnd.Record(bg, e.Duration.Seconds(), m.phase["abort"])
		return
	case eoskit.TxnOutcomeUnknown:
		m.txnUnknown.Add(bg, 1, m.base)
	case eoskit.TxnFenced:
		m.txnFenced.Add(bg, 1, m.base)
		return
	}
	m.txnEnd.Record(bg, e.Flush.Seconds(), m.phase["flush"])
	m.txnEnd.Record(bg, e.Commit.Seconds(), m.phase["commit"])
	m.txnEnd.Record(bg, e.Duration.Seconds(), m.phase["total"])
}

// OnProduce implements eoskit.HookProduce.
func (m *Meter) OnProduce(e eoskit.Produced) {
	if e.Err != nil {
		m.produceErrors.Add(bg, 1, m.base)
		return
	}
	m.recordsOut.Add(bg, 1, m.base)
}

// OnProducedRun implements eoskit.HookProducedRun: a transaction's
// acknowledged outputs, counted as records out.
func (m *Meter) OnProducedRun(e eoskit.ProducedRun) {
	m.recordsOut.Add(bg, int64(e.Records), m.base)
}

// OnHandled implements eoskit.HookHandled.
func (m *Meter) OnHandled(e eoskit.Handled) {
	if e.Attempt > 1 {
		m.retries.Add(bg, 1, m.base)
	} else {
		m.recordsIn.Add(bg, int64(max(e.Batch, 1)), m.base)
	}
	if e.Err != nil {
		m.handlerErrors.Add(bg, 1, m.base)
	}
	if !e.Untimed {
		m.handlerDuration.Record(bg, e.Duration.Seconds(), m.base)
	}
}

// OnHandledRun implements eoskit.HookHandledRun: a run of calls that
// succeeded at their first attempt, untimed, counted as records in.
func (m *Meter) OnHandledRun(e eoskit.HandledRun) {
	m.recordsIn.Add(bg, int64(e.Calls), m.base)
}

// OnDeadLetter implements eoskit.HookDeadLetter.
func (m *Meter) OnDeadLetter(eoskit.DeadLetter) { m.deadLettered.Add(bg, 1, m.base) }

// OnCommit implements eoskit.HookCommit.
func (m *Meter) OnCommit(e eoskit.Committed) { m.commits.Add(bg, 1, m.commitRes[e.Err == nil]) }

// OnSessionRestart implements eoskit.HookSessionRestart.
func (m *Meter) OnSessionRestart(eoskit.SessionRestart) { m.sessionRestarts.Add(bg, 1, m.base) }

// OnAssigned implements eoskit.HookAssigned.
func (m *Meter) OnAssigned(e eoskit.Assignment) {
	m.rebalances.Add(bg, 1, m.event["assigned"])
	m.mu.Lock()
	defer m.mu.Unlock()
	added := 0
	for t, ps := range e.Partitions {
		if m.parts[t] == nil {
			m.parts[t] = map[int32]struct{}{}
		}
		for _, p := range ps {
			if _, ok := m.parts[t][p]; !ok {
				m.parts[t][p] = struct{}{}
				added++
			}
		}
	}
	m.assigned.Add(bg, int64(added), m.base)
}

// OnRevoked implements eoskit.HookRevoked.
func (m *Meter) OnRevoked(e eoskit.Assignment) {
	if e.Lost {
		m.rebalances.Add(bg, 1, m.event["lost"])
	} else {
		m.rebalances.Add(bg, 1, m.event["revoked"])
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	removed := 0
	for t, ps := range e.Partitions {
		for _, p := range ps {
			if _, ok := m.parts[t][p]; ok {
				delete(m.parts[t], p)
				removed++
			}
		}
	}
	m.assigned.Add(bg, -int64(removed), m.base)
}
