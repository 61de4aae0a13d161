package prom

import (
	"sync"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Namespace prefixes every metric name.
const Namespace = "eoskit"

// DefaultDurationBuckets are the buckets of the _seconds histograms: 1 ms
// to about 16 s, doubling.
var DefaultDurationBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)

// DefaultCountBuckets are the buckets of the records and outputs per
// transaction histograms: 1 to 16384, quadrupling.
var DefaultCountBuckets = prometheus.ExponentialBuckets(1, 4, 8)

// Opt configures New.
type Opt interface{ apply(*config) }

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

type config struct {
	group, txnID    string
	labels          prometheus.Labels
	durationBuckets []float64
	countBuckets    []float64
}

// WithGroup sets the constant label group (the consumer group).
func WithGroup(g string) Opt { return opt(func(c *config) { c.group = g }) }

// WithTransactionalID sets the constant label txn_id.
func WithTransactionalID(id string) Opt { return opt(func(c *config) { c.txnID = id }) }

// WithConstLabels adds constant labels (for example the instance) to every
// metric. They may not be named group or txn_id (use WithGroup and
// WithTransactionalID).
func WithConstLabels(l prometheus.Labels) Opt {
	return opt(func(c *config) {
		for k, v := range l {
			c.labels[k] = v
		}
	})
}

// WithDurationBuckets replaces DefaultDurationBuckets.
func WithDurationBuckets(b []float64) Opt {
	return opt(func(c *config) { c.durationBuckets = b })
}

// WithCountBuckets replaces DefaultCountBuckets.
func WithCountBuckets(b []float64) Opt { return opt(func(c *config) { c.countBuckets = b }) }

func (c *config) validate() error {
	p := eoskit.NewProblems("prom")
	for _, k := range []string{"group", "txn_id"} {
		if _, ok := c.labels[k]; ok {
			p.Addf("WithConstLabels: label %q is reserved: use WithGroup or WithTransactionalID", k)
		}
	}
	for name, b := range map[string][]float64{"WithDurationBuckets": c.durationBuckets, "WithCountBuckets": c.countBuckets} {
		if len(b) == 0 {
			p.Addf("%s: give at least one bucket", name)
		}
		for i := 1; i < len(b); i++ {
			if b[i] <= b[i-1] {
				p.Addf("%s: buckets must increase (%v)", name, b)
				break
			}
		}
	}
	return p.Err()
}

// Metrics is an eoskit hook that counts what producer, consumer and txn
// report. Pass the same value to every package's WithHooks option, and
// KgoOpts to eoskit.Conn.KgoOpts for franz-go's client-level figures. Its
// methods are safe for concurrent use.
type Metrics struct {
	txnBegun, txnCommitted, txnUnknown, txnFenced prometheus.Counter
	txnAborted                                    *prometheus.CounterVec
	txnEndDuration                                *prometheus.HistogramVec
	txnRecords, txnOutputs                        prometheus.Histogram

	recordsIn, recordsOut, produceErrors *fastCounter // per record: see fast.go
	handlerErrors, retries               *fastCounter
	handlerDuration                      *fastHistogram
	deadLettered                         prometheus.Counter
	commits                              *prometheus.CounterVec
	rebalances                           *prometheus.CounterVec
	assignedPartitions                   prometheus.Gauge
	sessionRestarts                      prometheus.Counter

	mu       sync.Mutex
	assigned map[string]map[int32]struct{}

	kgo *kgoHooks
}

// New registers eoskit's metrics (and a collector for franz-go's kprom
// figures, empty until KgoOpts is used) on reg and returns the hook. It
// fails with eoskit.ErrInvalidOption for bad options, or with the
// registry's error (for example a second Metrics with the same constant
// labels on one registry).
func New(reg prometheus.Registerer, opts ...Opt) (*Metrics, error) {
	c := config{labels: prometheus.Labels{}, durationBuckets: DefaultDurationBuckets, countBuckets: DefaultCountBuckets}
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	labels := prometheus.Labels{"group": c.group, "txn_id": c.txnID}
	for k, v := range c.labels {
		labels[k] = v
	}
	f := factory{labels: labels}
	m := &Metrics{
		txnBegun:     f.counter("txn_begun_total", "Transactions begun."),
		txnCommitted: f.counter("txn_committed_total", "Transactions committed."),
		txnAborted:   f.counterVec("txn_aborted_total", "Transactions aborted, by reason.", "reason"),
		txnUnknown:   f.counter("txn_unknown_outcome_total", "Transactions whose commit was sent but whose answer was lost (maybe committed)."),
		txnFenced:    f.counter("txn_fenced_total", "Transactions ended because a newer instance took the transactional ID."),
		txnEndDuration: f.histogramVec("txn_end_duration_seconds",
			"Time to end a transaction, by phase: flush (produced records answered), commit (offset commit and EndTxn), total (of a commit), abort (all of an abort).",
			c.durationBuckets, "phase"),
		txnRecords: f.histogram("txn_records", "Input records per committed transaction.", c.countBuckets),
		txnOutputs: f.histogram("txn_outputs", "Output records (dead letters included) per committed transaction.", c.countBuckets),

		recordsIn:       f.fastCounter("records_in_total", "Input records handed to the handler (first attempts; records redone after an abort count again)."),
		recordsOut:      f.fastCounter("records_out_total", "Records produced and acknowledged, dead letters included (inside a transaction: written, visible once it commits)."),
		produceErrors:   f.fastCounter("produce_errors_total", "Records whose produce failed."),
		handlerErrors:   f.fastCounter("handler_errors_total", "Handler calls that returned an error."),
		retries:         f.fastCounter("handler_retries_total", "Handler calls that retried a record (attempt 2 and later)."),
		deadLettered:    f.counter("dead_lettered_total", "Input records routed to the dead-letter topic."),
		handlerDuration: f.fastHistogram("handler_duration_seconds", "Time of one handler call, sampled: txn and consumer time the first call of each handler loop and one in 64 after it (its _count counts the timed calls; records_in_total counts all).", c.durationBuckets),
		commits:         f.counterVec("offset_commits_total", "Offset commits of a non-transactional consumer, by result (ok, error).", "result"),

		rebalances:         f.counterVec("rebalances_total", "Group rebalance events of this member, by event (assigned, revoked, lost).", "event"),
		assignedPartitions: f.gauge("assigned_partitions", "Partitions currently assigned to this member."),
		sessionRestarts:    f.counter("session_restarts_total", "Client sessions rebuilt after an error."),

		assigned: map[string]map[int32]struct{}{},
		kgo:      newKgoHooks(labels),
	}
	for _, r := range []eoskit.AbortReason{eoskit.AbortRebalance, eoskit.AbortProduceError, eoskit.AbortHandlerError, eoskit.AbortShutdown, eoskit.AbortRequested, eoskit.AbortOther} {
		m.txnAborted.WithLabelValues(r.String())
	}
	for _, p := range []string{"flush", "commit", "total", "abort"} {
		m.txnEndDuration.WithLabelValues(p)
	}
	for _, r := range []string{"ok", "error"} {
		m.commits.WithLabelValues(r)
	}
	for _, e := range []string{"assigned", "revoked", "lost"} {
		m.rebalances.WithLabelValues(e)
	}
	for _, col := range append(f.all, m.kgo) {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// OnTxnBegin implements eoskit.HookTxnBegin.
func (m *Metrics) OnTxnBegin(eoskit.TxnBegin) { m.txnBegun.Inc() }

// OnTxnEnd implements eoskit.HookTxnEnd.
func (m *Metrics) OnTxnEnd(e eoskit.TxnEnd) {
	switch e.Outcome {
	case eoskit.TxnCommitted:
		m.txnCommitted.Inc()
		m.txnRecords.Observe(float64(e.Records))
		m.txnOutputs.Observe(float64(e.Outputs))
	case eoskit.TxnAborted:
		m.txnAborted.WithLabelValues(e.Reason.String()).Inc()
	case eoskit.TxnOutcomeUnknown:
		m.txnUnknown.Inc()
	case eoskit.TxnFenced:
		m.txnFenced.Inc()
	}
	switch e.Outcome {
	case eoskit.TxnCommitted, eoskit.TxnOutcomeUnknown: // a commit was tried
		m.txnEndDuration.WithLabelValues("flush").Observe(e.Flush.Seconds())
		m.txnEndDuration.WithLabelValues("commit").Observe(e.Commit.Seconds())
		m.txnEndDuration.WithLabelValues("total").Observe(e.Duration.Seconds())
	case eoskit.TxnAborted:
		m.txnEndDuration.WithLabelValues("abort").Observe(e.Duration.Seconds())
	}
}

// OnProduce implements eoskit.HookProduce.
func (m *Metrics) OnProduce(e eoskit.Produced) {
	p := stripeOf(e.Record)
	if e.Err != nil {
		m.produceErrors.add(p, 1)
		return
	}
	m.recordsOut.add(p, 1)
}

// OnProducedRun implements eoskit.HookProducedRun: a transaction's
// acknowledged outputs, counted as records out.
func (m *Metrics) OnProducedRun(e eoskit.ProducedRun) {
	m.recordsOut.add(0, uint64(e.Records))
}

// OnHandled implements eoskit.HookHandled. Only timed calls (not
// e.Untimed) go into the handler duration histogram.
func (m *Metrics) OnHandled(e eoskit.Handled) {
	p := stripeOf(e.Record)
	if e.Attempt > 1 {
		m.retries.add(p, 1)
	} else {
		m.recordsIn.add(p, uint64(max(e.Batch, 1)))
	}
	if e.Err != nil {
		m.handlerErrors.add(p, 1)
	}
	if !e.Untimed {
		m.handlerDuration.observe(e.Duration)
	}
}

// OnHandledRun implements eoskit.HookHandledRun: a run of calls that
// succeeded at their first attempt, untimed, counted as records in.
func (m *Metrics) OnHandledRun(e eoskit.HandledRun) {
	m.recordsIn.add(stripeOf(e.Last), uint64(e.Calls))
}

// stripeOf picks a counter stripe from the record's address, not its
// fields: reading r.Partition costs a cache miss on a record the handler
// did not touch (its line is not the key's and value's). Records
// allocated together (one fetch's) share a stripe.
func stripeOf(r *kgo.Record) int32 {
	return int32(uintptr(unsafe.Pointer(r)) >> 12 % stripes)
}

// OnDeadLetter implements eoskit.HookDeadLetter.
func (m *Metrics) OnDeadLetter(eoskit.DeadLetter) { m.deadLettered.Inc() }

// OnCommit implements eoskit.HookCommit.
func (m *Metrics) OnCommit(e eoskit.Committed) {
	if e.Err != nil {
		m.commits.WithLabelValues("error").Inc()
		return
	}
	m.commits.WithLabelValues("ok").Inc()
}

// OnAssigned implements eoskit.HookAssigned.
func (m *Metrics) OnAssigned(e eoskit.Assignment) {
	m.rebalances.WithLabelValues("assigned").Inc()
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, ps := range e.Partitions {
		set := m.assigned[t]
		if set == nil {
			set = map[int32]struct{}{}
			m.assigned[t] = set
		}
		for _, p := range ps {
			set[p] = struct{}{}
		}
	}
	m.setAssignedLocked()
}

// OnRevoked implements eoskit.HookRevoked.
func (m *Metrics) OnRevoked(e eoskit.Assignment) {
	if e.Lost {
		m.rebalances.WithLabelValues("lost").Inc()
	} else {
		m.rebalances.WithLabelValues("revoked").Inc()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, ps := range e.Partitions {
		for _, p := range ps {
			delete(m.assigned[t], p)
		}
		if len(m.assigned[t]) == 0 {
			delete(m.assigned, t)
		}
	}
	m.setAssignedLocked()
}

func (m *Metrics) setAssignedLocked() {
	n := 0
	for _, set := range m.assigned {
		n += len(set)
	}
	m.assignedPartitions.Set(float64(n))
}

// OnSessionRestart implements eoskit.HookSessionRestart.
func (m *Metrics) OnSessionRestart(eoskit.SessionRestart) { m.sessionRestarts.Inc() }

// factory builds the collectors with eoskit's names and constant labels.
type factory struct {
	labels prometheus.Labels
	all    []prometheus.Collector
}

func (f *factory) add(c prometheus.Collector) { f.all = append(f.all, c) }

func (f *factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: f.labels})
	f.add(c)
	return c
}

func (f *factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: f.labels}, labels)
	f.add(c)
	return c
}

func (f *factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: f.labels})
	f.add(g)
	return g
}

func (f *factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: f.labels, Buckets: buckets})
	f.add(h)
	return h
}

func (f *factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: f.labels, Buckets: buckets}, labels)
	f.add(h)
	return h
}
