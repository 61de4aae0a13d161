package otel

import (
	"context"
	"math"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	gotel "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/eoskit/eoskit"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/eoskit/eoskit/otel"

// Span attribute keys: the OpenTelemetry messaging conventions where they
// have one, eoskit.* for the transaction.
const (
	AttrMessagingSystem    = "messaging.system" // always "kafka"
	AttrOperationType      = "messaging.operation.type"
	AttrDestination        = "messaging.destination.name"
	AttrPartition          = "messaging.destination.partition.id"
	AttrOffset             = "messaging.kafka.offset"
	AttrGroup              = "messaging.consumer.group.name"
	AttrErrorType          = "error.type"
	AttrTransactionalID    = "eoskit.txn.id"
	AttrOutcome            = "eoskit.txn.outcome" // committed, aborted, unknown, fenced
	AttrReason             = "eoskit.txn.reason"  // why it aborted: rebalance, produce_error, ...
	AttrRecords            = "eoskit.txn.records"
	AttrOutputs            = "eoskit.txn.outputs"
	AttrDeadLettered       = "eoskit.txn.dead_lettered"
	AttrProducerID         = "eoskit.txn.producer_id"
	AttrEpoch              = "eoskit.txn.epoch"
	AttrFlushSeconds       = "eoskit.txn.flush_seconds"
	AttrCommitSeconds      = "eoskit.txn.commit_seconds"
	AttrAttempt            = "eoskit.handler.attempt"
	AttrBatchCount         = "messaging.batch.message_count" // records in a batch handler call
	messagingSystemKafka   = "kafka"
	operationProcess       = "process"
	spanNameTxnPrefix      = "txn "
	spanNameProcessPostfix = " process"
)

// Opt configures New.
type Opt interface{ apply(*Tracer) }

type opt func(*Tracer)

func (o opt) apply(t *Tracer) { o(t) }

// WithTracerProvider sets the provider of the spans' tracer. Default: the
// global one (go.opentelemetry.io/otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Opt {
	return opt(func(t *Tracer) { t.provider = tp })
}

// WithPropagator sets how span contexts go into and out of record
// headers. Default: the global propagator if one is set, else W3C trace
// context (the traceparent and tracestate headers).
func WithPropagator(p propagation.TextMapPropagator) Opt {
	return opt(func(t *Tracer) { t.prop = p })
}

// WithRootSampling starts a handler span for only this fraction (0 to 1)
// of the input records that carry no trace context, deciding by the
// record's partition and offset (not its topic) before any span is made,
// so a record gets the same answer when its handler is retried or it is
// processed again after a crash (a dead-letter replay gives it a new
// offset, and a new answer): the others
// cost a header lookup and get no span and no traceparent. Inputs
// carrying a trace context always get their span (the provider's sampler
// decides whether it records). Default 1: every record. A provider
// sampler (TraceIDRatioBased) makes the same decision after the span's
// IDs are made, at a cost per record that a high-rate processor notices;
// this one is a multiplication.
func WithRootSampling(fraction float64) Opt {
	return opt(func(t *Tracer) {
		switch {
		case fraction <= 0 || math.IsNaN(fraction):
			t.rootAll, t.rootBelow = false, 0
		case fraction >= 1:
			t.rootAll = true
		default:
			t.rootAll, t.rootBelow = false, uint64(math.Ldexp(fraction, 64))
		}
	})
}

// Tracer is an eoskit hook that traces transactions and handler calls
// and carries the trace from input records to output records through
// their headers. Pass it to txn.WithHooks (producer.WithHooks for the
// transactions of a TxProducer). Its methods are safe for concurrent use.
type Tracer struct {
	provider trace.TracerProvider
	prop     propagation.TextMapPropagator
	fields   []string // the propagator's header keys
	tracer   trace.Tracer

	noop bool // the provider is OpenTelemetry's no-op one: no spans
	// An input without a trace context starts a trace when rootAll, or
	// when a random uint64 is below rootBelow (WithRootSampling).
	rootAll   bool
	rootBelow uint64
	// plain is the last context OnEmit found without a span context (a
	// pointer-shaped one: == on it cannot panic), so that the outputs of
	// untraced records, which all come with the caller's one context, skip
	// the walk up its parents.
	plain    atomic.Pointer[plainCtx]
	lastName atomic.Pointer[spanName] // processName's

	mu   sync.Mutex
	txns map[string]trace.Span // the open transaction's span, by transactional ID
	// group is the one consumer group of every transaction begun so far
	// ("" before the first, and for good once two groups were seen:
	// mixed). Handler spans get it at start; OnHandled adds the event's
	// group only where it differs, and since group changes at most twice
	// ("" → G → "" for good), the two decisions agree, except for a span
	// started before any transaction began (a txn.Processor begins its
	// transaction before it calls the handler).
	group string
	mixed bool
}

// New returns a Tracer.
func New(opts ...Opt) *Tracer {
	t := &Tracer{txns: map[string]trace.Span{}, rootAll: true}
	for _, o := range opts {
		o.apply(t)
	}
	if t.provider == nil {
		t.provider = gotel.GetTracerProvider()
	}
	if t.prop == nil {
		t.prop = gotel.GetTextMapPropagator()
		if len(t.prop.Fields()) == 0 { // the global default is a no-op
			t.prop = propagation.TraceContext{}
		}
	}
	t.fields = t.prop.Fields()
	t.tracer = t.provider.Tracer(ScopeName)
	_, t.noop = t.provider.(noop.TracerProvider)
	return t
}

// OnTxnBegin implements eoskit.HookTxnBegin: it starts the transaction's
// span, "txn <transactional ID>", a root span (a transaction gathers
// records of many traces; each handler span links to it).
func (t *Tracer) OnTxnBegin(e eoskit.TxnBegin) {
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	_, span := t.tracer.Start(context.Background(), spanNameTxnPrefix+e.TransactionalID,
		trace.WithNewRoot(), trace.WithTimestamp(at), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String(AttrTransactionalID, e.TransactionalID), attribute.String(AttrMessagingSystem, messagingSystemKafka)))
	if e.Group != "" {
		span.SetAttributes(attribute.String(AttrGroup, e.Group))
	}
	t.mu.Lock()
	old := t.txns[e.TransactionalID]
	t.txns[e.TransactionalID] = span
	switch {
	case e.Group == "" || t.mixed || e.Group == t.group:
	case t.group == "":
		t.group = e.Group
	default:
		t.group, t.mixed = "", true
	}
	t.mu.Unlock()
	if old != nil { // its end was never reported
		old.SetStatus(codes.Error, "no end reported")
		old.End()
	}
}

// OnTxnEnd implements eoskit.HookTxnEnd: it ends the transaction's span
// with its outcome (status Error unless committed). A transaction whose
// begin was not seen gets a span from TxnEnd.Began.
func (t *Tracer) OnTxnEnd(e eoskit.TxnEnd) {
	t.mu.Lock()
	span := t.txns[e.TransactionalID]
	delete(t.txns, e.TransactionalID)
	t.mu.Unlock()
	if span == nil {
		start := e.Began
		if start.IsZero() {
			start = time.Now().Add(-e.Duration)
		}
		_, span = t.tracer.Start(context.Background(), spanNameTxnPrefix+e.TransactionalID,
			trace.WithNewRoot(), trace.WithTimestamp(start),
			trace.WithAttributes(attribute.String(AttrTransactionalID, e.TransactionalID), attribute.String(AttrMessagingSystem, messagingSystemKafka)))
	}
	span.SetAttributes(
		attribute.String(AttrOutcome, e.Outcome.String()),
		attribute.Int(AttrRecords, e.Records),
		attribute.Int(AttrOutputs, e.Outputs),
		attribute.Int(AttrDeadLettered, e.DeadLettered),
		attribute.Int64(AttrProducerID, e.ProducerID),
		attribute.Int(AttrEpoch, int(e.Epoch)),
		attribute.Float64(AttrFlushSeconds, e.Flush.Seconds()),
		attribute.Float64(AttrCommitSeconds, e.Commit.Seconds()),
	)
	if e.Reason != eoskit.AbortNone {
		span.SetAttributes(attribute.String(AttrReason, e.Reason.String()))
	}
	if e.Err != nil {
		span.RecordError(e.Err)
	}
	if e.Outcome != eoskit.TxnCommitted {
		span.SetAttributes(attribute.String(AttrErrorType, e.Outcome.String()))
		span.SetStatus(codes.Error, e.Outcome.String())
	}
	span.End()
}

// OnRecordContext implements eoskit.HookRecordContext: it starts the
// handler's span, "<topic> process", continuing the trace of the input's
// headers (or of the record's own context, as franz-go's kotel leaves it)
// and linked to the open transaction's span when exactly one is open.
//
// No span is made, and nothing allocated, for a record whose trace
// context is not sampled (as the SDK's default ParentBased sampler
// decides; the context still goes to the outputs unchanged), for a record
// without trace context that WithRootSampling leaves out, or when the
// provider is OpenTelemetry's no-op one.
func (t *Tracer) OnRecordContext(ctx context.Context, in *kgo.Record) context.Context {
	if len(in.Headers) == 0 && in.Context == nil { // no trace context: a root or nothing
		if t.noop || !t.root(in) {
			return ctx
		}
		return t.startProcess(ctx, in)
	}
	parent, psc := t.extract(ctx, in)
	if psc.IsValid() {
		if t.noop || !psc.IsSampled() {
			return parent
		}
	} else if t.noop || !t.root(in) {
		return ctx
	}
	return t.startProcess(parent, in)
}

// startProcess starts in's handler span as a child of parent's span
// context (a root when it has none), and returns its context.
func (t *Tracer) startProcess(parent context.Context, in *kgo.Record) context.Context {
	l, group, linked := t.txnLink()
	ctx, span := t.tracer.Start(parent, t.processName(in.Topic), consumerKind)
	if !span.IsRecording() { // not sampled: its context still goes to the outputs
		return ctx
	}
	// Every attribute in one call, so the SDK sizes the span's attribute
	// slice once: the attempt is 1 unless OnHandled says otherwise, the
	// group the transactions' (Tracer.group). (Not pooled: the API does not say
	// that a Span may not keep the slice.)
	attrs := [7]attribute.KeyValue{
		attribute.String(AttrMessagingSystem, messagingSystemKafka),
		attribute.String(AttrOperationType, operationProcess),
		attribute.String(AttrDestination, in.Topic),
		attribute.String(AttrPartition, strconv.Itoa(int(in.Partition))),
		attribute.Int64(AttrOffset, in.Offset),
		attribute.Int(AttrAttempt, 1),
	}
	n := 6
	if group != "" {
		attrs[n] = attribute.String(AttrGroup, group)
		n++
	}
	span.SetAttributes(attrs[:n]...)
	if linked {
		span.AddLink(l)
	}
	return ctx
}

// OnBatchContext implements eoskit.HookBatchContext: it starts one span
// per batch handler call, "<topic> process" ("process" when the batch
// spans topics), linked to the trace context of every record that
// carries one (span links: a batch has many parents) and to the open
// transaction's span. The call's outputs carry this span's context. A
// batch with a sampled record context is always traced; one without is
// a root, decided by WithRootSampling (per call, not per record).
func (t *Tracer) OnBatchContext(ctx context.Context, recs []*kgo.Record) context.Context {
	if t.noop || len(recs) == 0 {
		return ctx
	}
	var links []trace.Link
	sampled := false
	for _, r := range recs {
		if _, sc := t.extract(ctx, r); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
			sampled = sampled || sc.IsSampled()
		}
	}
	if !sampled && !t.root(recs[0]) {
		return ctx
	}
	l, group, linked := t.txnLink()
	if linked {
		links = append(links, l)
	}
	name, topic := operationProcess, recs[0].Topic
	for _, r := range recs[1:] {
		if r.Topic != topic {
			topic = ""
			break
		}
	}
	if topic != "" {
		name = topic + spanNameProcessPostfix
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...))
	if !span.IsRecording() {
		return ctx
	}
	// As OnRecordContext: attempt 1 and the transactions' group at start,
	// which OnHandled then only corrects.
	attrs := [6]attribute.KeyValue{
		attribute.String(AttrMessagingSystem, messagingSystemKafka),
		attribute.String(AttrOperationType, operationProcess),
		attribute.Int(AttrBatchCount, len(recs)),
		attribute.Int(AttrAttempt, 1),
	}
	n := 4
	if topic != "" {
		attrs[n] = attribute.String(AttrDestination, topic)
		n++
	}
	if group != "" {
		attrs[n] = attribute.String(AttrGroup, group)
		n++
	}
	span.SetAttributes(attrs[:n]...)
	return ctx
}

// extract returns the trace context of in's headers (or of in.Context),
// as a context derived from ctx, and its span context (invalid: none, and
// the context is ctx).
func (t *Tracer) extract(ctx context.Context, in *kgo.Record) (context.Context, trace.SpanContext) {
	if t.carried(in) {
		parent := t.prop.Extract(ctx, headerCarrier{in})
		if sc := trace.SpanContextFromContext(parent); sc.IsValid() {
			return parent, sc
		}
	}
	if in.Context != nil {
		if sc := trace.SpanContextFromContext(in.Context); sc.IsValid() {
			return trace.ContextWithSpanContext(ctx, sc), sc
		}
	}
	return ctx, trace.SpanContext{}
}

// carried reports whether in has a header of the propagator's (a
// record without one skips the propagator: no interface calls, no
// parsing).
func (t *Tracer) carried(in *kgo.Record) bool {
	for _, h := range in.Headers {
		for _, f := range t.fields {
			if h.Key == f {
				return true
			}
		}
	}
	return false
}

// root reports whether an input (or a batch, by its first record)
// without a sampled trace context starts a trace (WithRootSampling): a hash
// of the record's partition and offset below the fraction's share of the
// uint64 range. Consecutive offsets hash evenly over the range (Fibonacci
// hashing), so the fraction holds over any run of a partition, and a
// record gets the same answer whenever it is handled again at the same
// offset (a retry, reprocessing after a crash); no state is shared
// between callers.
func (t *Tracer) root(r *kgo.Record) bool {
	if t.rootAll || t.rootBelow == 0 {
		return t.rootAll
	}
	h := (uint64(r.Offset) ^ uint64(uint32(r.Partition))<<48) * 0x9e3779b97f4a7c15
	return h < t.rootBelow
}

// consumerKind is the handler spans' kind, made once (an option is an
// interface value: made per span, it is allocated per span).
var consumerKind = trace.WithSpanKind(trace.SpanKindConsumer)

// processName is "<topic> process", the handler spans' name, remembered
// for the last topic (a high-rate processor reads one or a few topics).
func (t *Tracer) processName(topic string) string {
	if n := t.lastName.Load(); n != nil && n.topic == topic {
		return n.name
	}
	n := &spanName{topic, topic + spanNameProcessPostfix}
	t.lastName.Store(n)
	return n.name
}

// spanName is a topic and its handler spans' name.
type spanName struct{ topic, name string }

// txnLink is a link to the open transaction's span, when exactly one is
// open, and the group of every transaction (Tracer.group).
func (t *Tracer) txnLink() (trace.Link, string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.txns) != 1 {
		return trace.Link{}, t.group, false
	}
	for _, s := range t.txns {
		return trace.Link{SpanContext: s.SpanContext()}, t.group, true
	}
	return trace.Link{}, t.group, false
}

// OnHandled implements eoskit.HookHandled: it ends the handler's span
// (from Handled.Context) with the call's error.
func (t *Tracer) OnHandled(e eoskit.Handled) {
	if e.Context == nil {
		return
	}
	span := trace.SpanFromContext(e.Context)
	if !span.IsRecording() {
		return
	}
	// OnRecordContext set attempt 1 and the transactions' group.
	if e.Attempt != 1 {
		span.SetAttributes(attribute.Int(AttrAttempt, e.Attempt))
	}
	if e.Group != "" {
		if _, g, _ := t.txnLink(); g != e.Group {
			span.SetAttributes(attribute.String(AttrGroup, e.Group))
		}
	}
	if e.Err != nil {
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
		span.SetAttributes(attribute.String(AttrErrorType, "handler_error"))
	}
	span.End()
}

// OnHandledRun implements eoskit.HookHandledRun. A run's calls had no
// span of the tracer's: a Processor puts a call in a run only when
// OnRecordContext returned the handler's context unchanged (no span
// started), and a consumer.Consumer gives handlers no span.
func (*Tracer) OnHandledRun(eoskit.HandledRun) {}

// OnEmit implements eoskit.HookEmit: it writes the handler span's context
// into the output's headers (W3C traceparent by default), replacing any
// trace header the output copied from its input, so the output continues
// the input's trace through the handler's span (a batch call's outputs:
// through the batch span; a batch call without span gives its outputs
// no trace context).
func (t *Tracer) OnEmit(ctx context.Context, _, out *kgo.Record) {
	if ctx == nil {
		return
	}
	if p := t.plain.Load(); p != nil && p.ctx == ctx { // p.ctx is a pointer: no panic
		return
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		if reflect.TypeOf(ctx).Kind() == reflect.Pointer {
			t.plain.Store(&plainCtx{ctx})
		}
		return
	}
	t.prop.Inject(ctx, headerCarrier{out})
}

// plainCtx holds a context without a span context (Tracer.plain). A
// context never gains values, so the answer holds as long as the context.
type plainCtx struct{ ctx context.Context }

// headerCarrier is a propagation.TextMapCarrier over a record's headers,
// as franz-go's kotel.RecordCarrier, except that Set never writes into the
// existing header slice: an output whose handler copied its input's
// headers shares their backing array, and the input must not change.
type headerCarrier struct{ r *kgo.Record }

func (c headerCarrier) Get(key string) string {
	for _, h := range c.r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, val string) {
	hs := make([]kgo.RecordHeader, 0, len(c.r.Headers)+1)
	for _, h := range c.r.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	c.r.Headers = append(hs, kgo.RecordHeader{Key: key, Value: []byte(val)})
}

func (c headerCarrier) Keys() []string {
	out := make([]string, len(c.r.Headers))
	for i, h := range c.r.Headers {
		out[i] = h.Key
	}
	return out
}
