package otel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/otel"
)

func newTracer(t *testing.T) (*otel.Tracer, *tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return otel.New(otel.WithTracerProvider(tp)), rec, tp
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

func byName(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no ended span %q among %d", name, len(rec.Ended()))
	return nil
}

// TestOutputContinuesInputTrace: an input carrying an upstream producer's
// traceparent is handled and copied (the output shares the input's header
// slice, as a copying handler does); the output's traceparent continues
// the upstream trace through the handler span, the input's headers are
// unchanged, and the committed transaction's span records its outcome.
func TestOutputContinuesInputTrace(t *testing.T) {
	tr, rec, tp := newTracer(t)
	upCtx, upstream := tp.Tracer("upstream").Start(context.Background(), "produce")
	in := &kgo.Record{Topic: "in", Partition: 2, Offset: 41, Headers: []kgo.RecordHeader{{Key: "k", Value: []byte("v")}}}
	carrierIn := map[string]string{}
	propagation.TraceContext{}.Inject(upCtx, propagation.MapCarrier(carrierIn))
	in.Headers = append(in.Headers, kgo.RecordHeader{Key: "traceparent", Value: []byte(carrierIn["traceparent"])})
	upstream.End()
	inTraceparent := header(in, "traceparent")

	tr.OnTxnBegin(eoskit.TxnBegin{TransactionalID: "copy-0", Group: "g", At: time.Now()})
	ctx := tr.OnRecordContext(context.Background(), in)
	out := &kgo.Record{Topic: "out", Value: in.Value, Headers: in.Headers[:len(in.Headers):len(in.Headers)]}
	tr.OnEmit(ctx, in, out)
	tr.OnHandled(eoskit.Handled{Group: "g", Record: in, Batch: 1, Attempt: 1, Duration: time.Millisecond, Context: ctx})
	tr.OnTxnEnd(eoskit.TxnEnd{TransactionalID: "copy-0", Group: "g", ProducerID: 7, Epoch: 3, Outcome: eoskit.TxnCommitted,
		Records: 1, Outputs: 1, Began: time.Now().Add(-10 * time.Millisecond), Flush: time.Millisecond, Commit: 2 * time.Millisecond})

	process := byName(t, rec, "in process")
	if process.SpanContext().TraceID() != upstream.SpanContext().TraceID() || process.Parent().SpanID() != upstream.SpanContext().SpanID() {
		t.Fatalf("handler span trace %s parent %s, want the upstream's trace %s and span %s",
			process.SpanContext().TraceID(), process.Parent().SpanID(), upstream.SpanContext().TraceID(), upstream.SpanContext().SpanID())
	}
	outCtx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": header(out, "traceparent")})
	outSC := trace.SpanContextFromContext(outCtx)
	if outSC.TraceID() != upstream.SpanContext().TraceID() || outSC.SpanID() != process.SpanContext().SpanID() {
		t.Fatalf("output traceparent %q: trace %s span %s, want trace %s span %s (the handler's)",
			header(out, "traceparent"), outSC.TraceID(), outSC.SpanID(), upstream.SpanContext().TraceID(), process.SpanContext().SpanID())
	}
	n := 0
	for _, h := range out.Headers {
		if h.Key == "traceparent" {
			n++
		}
	}
	if n != 1 || header(out, "k") != "v" {
		t.Fatalf("output headers %v: want the input's k=v and one traceparent", out.Headers)
	}
	if header(in, "traceparent") != inTraceparent || len(in.Headers) != 2 {
		t.Fatalf("input headers changed: %v", in.Headers)
	}
	a := attrs(process)
	if a[otel.AttrDestination].AsString() != "in" || a[otel.AttrPartition].AsString() != "2" || a[otel.AttrOffset].AsInt64() != 41 ||
		a[otel.AttrGroup].AsString() != "g" || a[otel.AttrMessagingSystem].AsString() != "kafka" || process.SpanKind() != trace.SpanKindConsumer {
		t.Fatalf("handler span attributes %v kind %v", a, process.SpanKind())
	}

	txn := byName(t, rec, "txn copy-0")
	ta := attrs(txn)
	if ta[otel.AttrOutcome].AsString() != "committed" || ta[otel.AttrRecords].AsInt64() != 1 || ta[otel.AttrProducerID].AsInt64() != 7 ||
		ta[otel.AttrEpoch].AsInt64() != 3 || txn.Status().Code != codes.Unset {
		t.Fatalf("transaction span attributes %v status %v", ta, txn.Status())
	}
	if len(process.Links()) != 1 || process.Links()[0].SpanContext.SpanID() != txn.SpanContext().SpanID() {
		t.Fatalf("handler span links %v, want one to the transaction span %s", process.Links(), txn.SpanContext().SpanID())
	}
	if txn.Parent().IsValid() {
		t.Fatalf("transaction span has parent %s, want a root span", txn.Parent().SpanID())
	}
}

// TestAbortAndHandlerErrorAreErrors: a failed handler call and an aborted
// (then a fenced) transaction end with status Error and say why.
func TestAbortAndHandlerErrorAreErrors(t *testing.T) {
	tr, rec, _ := newTracer(t)
	in := &kgo.Record{Topic: "in"} // no trace header: the handler span starts a trace
	tr.OnTxnBegin(eoskit.TxnBegin{TransactionalID: "p-0"})
	ctx := tr.OnRecordContext(context.Background(), in)
	out := &kgo.Record{Topic: "out"}
	tr.OnEmit(ctx, in, out)
	tr.OnHandled(eoskit.Handled{Record: in, Attempt: 2, Err: errors.New("boom"), Context: ctx})
	tr.OnTxnEnd(eoskit.TxnEnd{TransactionalID: "p-0", Outcome: eoskit.TxnAborted, Reason: eoskit.AbortHandlerError, Err: errors.New("boom")})
	tr.OnTxnEnd(eoskit.TxnEnd{TransactionalID: "p-0", Outcome: eoskit.TxnFenced, Err: eoskit.ErrFenced, Duration: time.Millisecond}) // no begin seen

	process := byName(t, rec, "in process")
	if process.Parent().IsValid() || process.Status().Code != codes.Error || attrs(process)[otel.AttrAttempt].AsInt64() != 2 {
		t.Fatalf("handler span parent %v status %v attrs %v: want a root span, Error, attempt 2", process.Parent(), process.Status(), attrs(process))
	}
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": header(out, "traceparent")}))
	if sc.SpanID() != process.SpanContext().SpanID() {
		t.Fatalf("output traceparent %q does not name the handler span %s", header(out, "traceparent"), process.SpanContext().SpanID())
	}
	var outcomes []string
	for _, s := range rec.Ended() {
		if s.Name() != "txn p-0" {
			continue
		}
		a := attrs(s)
		if s.Status().Code != codes.Error {
			t.Errorf("%s transaction: status %v, want Error", a[otel.AttrOutcome].AsString(), s.Status())
		}
		outcomes = append(outcomes, a[otel.AttrOutcome].AsString()+"/"+a[otel.AttrReason].AsString())
	}
	if len(outcomes) != 2 || outcomes[0] != "aborted/handler_error" || outcomes[1] != "fenced/" {
		t.Fatalf("transaction spans %v, want aborted/handler_error then fenced/", outcomes)
	}
}

// TestNoSpanContextNoHeader: without a handler span (no OnRecordContext)
// OnEmit adds nothing.
func TestNoSpanContextNoHeader(t *testing.T) {
	tr, _, _ := newTracer(t)
	out := &kgo.Record{Topic: "out"}
	tr.OnEmit(context.Background(), nil, out)
	tr.OnHandled(eoskit.Handled{}) // no context: ignored
	if len(out.Headers) != 0 {
		t.Fatalf("headers %v, want none", out.Headers)
	}
}

// TestRootSampling: with WithRootSampling(0.25) about one record in four
// without a trace context gets a span (and its outputs a traceparent); a
// record carrying a trace context always does; with 0, none without one;
// with 1, every one.
func TestRootSampling(t *testing.T) {
	for _, c := range []struct {
		fraction float64
		records  int
		min, max int // spans expected: 0.25 of 4000 is 1000, its standard deviation 27
	}{{0.25, 4000, 850, 1150}, {0, 8, 0, 0}, {1, 8, 8, 8}} {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		tr := otel.New(otel.WithTracerProvider(tp), otel.WithRootSampling(c.fraction))
		withHeader := 0
		for i := 0; i < c.records; i++ {
			in := &kgo.Record{Topic: "in", Offset: int64(i)}
			ctx := tr.OnRecordContext(context.Background(), in)
			out := &kgo.Record{Topic: "out"}
			tr.OnEmit(ctx, in, out)
			tr.OnHandled(eoskit.Handled{Record: in, Attempt: 1, Context: ctx})
			if header(out, "traceparent") != "" {
				withHeader++
			}
		}
		if n := len(rec.Ended()); n < c.min || n > c.max || withHeader != n {
			t.Errorf("fraction %v: %d spans, %d outputs with a traceparent of %d records; want as many, %d to %d", c.fraction, n, withHeader, c.records, c.min, c.max)
		}
		// An input with a trace context is traced whatever the fraction.
		upCtx, up := tp.Tracer("up").Start(context.Background(), "produce")
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(upCtx, carrier)
		up.End()
		in := &kgo.Record{Topic: "in", Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(carrier.Get("traceparent"))}}}
		ctx := tr.OnRecordContext(context.Background(), in)
		if !trace.SpanFromContext(ctx).IsRecording() {
			t.Errorf("fraction %v: an input with a trace context got no span", c.fraction)
		}
		// So is one whose record context carries a span (as franz-go's
		// kotel leaves a fetched record), with no header.
		kctx, kspan := tp.Tracer("kotel").Start(context.Background(), "in receive")
		in = &kgo.Record{Topic: "in", Offset: 1 << 40, Context: kctx}
		ctx = tr.OnRecordContext(context.Background(), in)
		if sc := trace.SpanContextFromContext(ctx); !trace.SpanFromContext(ctx).IsRecording() || sc.TraceID() != kspan.SpanContext().TraceID() {
			t.Errorf("fraction %v: an input whose record context carries a span got no span of its trace (%v)", c.fraction, sc)
		}
		kspan.End()
		_ = tp.Shutdown(context.Background())
	}
}

// TestUnsampledParentNoSpan: an input whose trace context is not sampled
// gets no handler span (as a ParentBased sampler decides) and its outputs
// carry that context unchanged; with the no-op provider no span is made
// and a record without trace context costs no allocation.
func TestUnsampledParentNoSpan(t *testing.T) {
	tr, rec, _ := newTracer(t)
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	const unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	in := &kgo.Record{Topic: "in", Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(unsampled)}}}
	ctx := tr.OnRecordContext(context.Background(), in)
	if trace.SpanFromContext(ctx).IsRecording() {
		t.Fatal("a handler span was started for an unsampled parent")
	}
	out := &kgo.Record{Topic: "out"}
	tr.OnEmit(ctx, in, out)
	tr.OnHandled(eoskit.Handled{Record: in, Attempt: 1, Context: ctx})
	if got := header(out, "traceparent"); got != unsampled {
		t.Fatalf("output traceparent %q, want the input's %q", got, unsampled)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.TraceID() != tid || sc.SpanID() != sid {
		t.Fatalf("handler context %v, want the input's trace %s span %s", sc, tid, sid)
	}
	if n := len(rec.Ended()) + len(rec.Started()); n != 0 {
		t.Fatalf("%d spans recorded, want none", n)
	}

	// No span, no allocation for an input without trace context: on the
	// no-op provider, and on the SDK's when WithRootSampling leaves it out.
	_, _, tp := newTracer(t)
	// Offset 1 hashes to 0.618 of the range: not among the 1 % roots.
	plain := &kgo.Record{Topic: "in", Offset: 1}
	bg := context.Background()
	for name, tr := range map[string]*otel.Tracer{
		"no-op provider":      otel.New(otel.WithTracerProvider(noop.NewTracerProvider())),
		"root sampling 0":     otel.New(otel.WithTracerProvider(tp), otel.WithRootSampling(0)),
		"root sampling 1/100": otel.New(otel.WithTracerProvider(tp), otel.WithRootSampling(0.01)),
	} {
		allocs := testing.AllocsPerRun(100, func() {
			c := tr.OnRecordContext(bg, plain)
			tr.OnEmit(c, plain, &kgo.Record{})
			tr.OnHandled(eoskit.Handled{Record: plain, Attempt: 1, Context: c})
		})
		if allocs != 1 { // the output record itself
			t.Errorf("%s: %v allocations per record, want only the output's", name, allocs)
		}
		if c := tr.OnRecordContext(bg, plain); c != bg {
			t.Errorf("%s: the handler context changed", name)
		}
	}
}

// unhashableCtx is a context of a non-comparable value type: == on two
// of them panics, so OnEmit must never compare it.
type unhashableCtx struct {
	context.Context
	tags []string
}

// TestEmitRemembersPlainContext: OnEmit remembers the last context it
// found without a span context, and that never hides a span context: a
// context derived from the remembered one with a span still gets its
// traceparent, another plain one none, and non-comparable contexts work.
func TestEmitRemembersPlainContext(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	tr := otel.New(otel.WithTracerProvider(tp))
	plain, cancel := context.WithCancel(context.Background())
	defer cancel()
	traced, span := tp.Tracer("t").Start(plain, "handler")
	defer span.End()
	other, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	for i, c := range []struct {
		ctx    context.Context
		header bool
	}{
		{plain, false}, {plain, false}, {traced, true}, {plain, false},
		{other, false}, {traced, true},
		{unhashableCtx{plain, nil}, false}, {unhashableCtx{plain, nil}, false},
		{unhashableCtx{traced, nil}, true},
	} {
		out := &kgo.Record{Topic: "out"}
		tr.OnEmit(c.ctx, nil, out)
		if got := header(out, "traceparent") != ""; got != c.header {
			t.Errorf("emit %d: traceparent %v, want %v", i, got, c.header)
		}
	}
}

// TestRootSamplingByPosition: the root decision is a function of the
// record's partition and offset: about the fraction on every partition,
// and a record handled again (a retry, a replay) gets the same answer.
func TestRootSamplingByPosition(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	tr := otel.New(otel.WithTracerProvider(tp), otel.WithRootSampling(0.1))
	bg := context.Background()
	traced := func(r *kgo.Record) bool {
		ctx := tr.OnRecordContext(bg, r)
		defer tr.OnHandled(eoskit.Handled{Record: r, Attempt: 1, Context: ctx})
		return ctx != bg
	}
	for p := int32(0); p < 4; p++ {
		n := 0
		for off := int64(0); off < 1000; off++ {
			r := &kgo.Record{Topic: "in", Partition: p, Offset: off}
			first := traced(r)
			if again := traced(r); again != first {
				t.Fatalf("partition %d offset %d: traced %v, then %v when handled again", p, off, first, again)
			}
			// Neither a header that carries no trace context nor a record
			// context without a span changes the answer (the tracer takes
			// another path for them).
			other := &kgo.Record{Topic: "in", Partition: p, Offset: off, Headers: []kgo.RecordHeader{{Key: "k", Value: []byte("v")}}, Context: bg}
			if got := traced(other); got != first {
				t.Fatalf("partition %d offset %d: traced %v, but %v with an unrelated header and a plain record context", p, off, first, got)
			}
			if first {
				n++
			}
		}
		if n < 80 || n > 120 { // 0.1 of 1000
			t.Errorf("partition %d: %d of 1000 records traced, want about 100", p, n)
		}
	}
}

// TestSpanNamePerTopic: handler spans are named after their record's
// topic when the topics alternate (the name is remembered per last topic).
func TestSpanNamePerTopic(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := otel.New(otel.WithTracerProvider(tp))
	topics := []string{"a", "b", "b", "a"}
	for i, topic := range topics {
		in := &kgo.Record{Topic: topic, Offset: int64(i)}
		ctx := tr.OnRecordContext(context.Background(), in)
		tr.OnHandled(eoskit.Handled{Record: in, Attempt: 1, Context: ctx})
	}
	ended := rec.Ended()
	if len(ended) != len(topics) {
		t.Fatalf("%d spans, want %d", len(ended), len(topics))
	}
	for i, s := range ended {
		if want := topics[i] + " process"; s.Name() != want {
			t.Errorf("span %d: name %q, want %q", i, s.Name(), want)
		}
	}
}

// TestHandlerSpanGroup: a handler span carries its call's group, with one
// group per Tracer (set at start) and once transactions of two groups
// share the Tracer, also for a span started before the second group's
// transaction began.
func TestHandlerSpanGroup(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := otel.New(otel.WithTracerProvider(tp))
	bg := context.Background()
	tr.OnTxnBegin(eoskit.TxnBegin{TransactionalID: "a", Group: "A"})
	one := &kgo.Record{Topic: "in", Offset: 1}
	ctx := tr.OnRecordContext(bg, one)
	tr.OnHandled(eoskit.Handled{Group: "A", Record: one, Attempt: 1, Context: ctx})
	early := &kgo.Record{Topic: "in", Offset: 2}
	earlyCtx := tr.OnRecordContext(bg, early) // group A at start
	tr.OnTxnBegin(eoskit.TxnBegin{TransactionalID: "b", Group: "B"})
	late := &kgo.Record{Topic: "in", Offset: 3}
	lateCtx := tr.OnRecordContext(bg, late) // two groups: none at start
	tr.OnHandled(eoskit.Handled{Group: "B", Record: early, Attempt: 1, Context: earlyCtx})
	tr.OnHandled(eoskit.Handled{Group: "B", Record: late, Attempt: 1, Context: lateCtx})
	want := []string{"A", "B", "B"}
	ended := rec.Ended()
	if len(ended) != len(want) {
		t.Fatalf("%d spans, want %d", len(ended), len(want))
	}
	for i, s := range ended {
		if g := attrs(s)[otel.AttrGroup].AsString(); g != want[i] {
			t.Errorf("span %d: group %q, want %q", i, g, want[i])
		}
	}
}
