package otel_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/otel"
	"github.com/eoskit/eoskit/txn"
)

// kfakeInOut is a one-broker kfake cluster with topics in and out, and
// recs produced to in.
func kfakeInOut(t *testing.T, ctx context.Context, recs ...*kgo.Record) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"), kfake.SeedTopics(1, "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return c
}

// runUntil runs p until n outputs are committed on out, stops it and
// returns them.
func runUntil(t *testing.T, ctx context.Context, c *kfake.Cluster, p *txn.Processor, n int) []*kgo.Record {
	t.Helper()
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()
	rd, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("out"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var outs []*kgo.Record
	for len(outs) < n {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			stop()
			t.Fatalf("%d of %d outputs committed: %v", len(outs), n, err)
		}
		fs.EachRecord(func(r *kgo.Record) { outs = append(outs, r) })
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	return outs
}

// TestProcessorOutputContinuesInputTrace: a record copied through a
// txn.Processor (on kfake) yields an output whose traceparent continues
// the input's trace through the handler's span, and the transaction's
// span records its outcome.
func TestProcessorOutputContinuesInputTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tr, rec, tp := newTracer(t)
	upCtx, upstream := tp.Tracer("upstream").Start(context.Background(), "produce")
	in := &kgo.Record{Topic: "in", Value: []byte("hello")}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(upCtx, carrier)
	in.Headers = append(in.Headers, kgo.RecordHeader{Key: "traceparent", Value: []byte(carrier.Get("traceparent"))})
	upstream.End()
	c := kfakeInOut(t, ctx, in)

	p, err := txn.New(eoskit.Conn{Brokers: c.ListenAddrs()}, txn.Copy("out"),
		txn.WithGroup("g"), txn.WithTopics("in"), txn.WithTransactionalID("copy-0"), txn.WithHooks(tr))
	if err != nil {
		t.Fatal(err)
	}
	out := runUntil(t, ctx, c, p, 1)[0]

	process := byName(t, rec, "in process")
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": header(out, "traceparent")}))
	if sc.TraceID() != upstream.SpanContext().TraceID() || sc.SpanID() != process.SpanContext().SpanID() {
		t.Fatalf("output traceparent %q: want trace %s (the input's) and span %s (the handler's)", header(out, "traceparent"), upstream.SpanContext().TraceID(), process.SpanContext().SpanID())
	}
	if process.Parent().SpanID() != upstream.SpanContext().SpanID() {
		t.Fatalf("handler span's parent %s, want the input's %s", process.Parent().SpanID(), upstream.SpanContext().SpanID())
	}
	if header(out, "eoskit-source") == "" {
		t.Fatalf("output headers %v: the provenance header is missing", out.Headers)
	}
	var committed int
	for _, s := range rec.Ended() {
		if s.Name() == "txn copy-0" && attrs(s)[otel.AttrOutcome].AsString() == "committed" && s.Status().Code != codes.Error {
			committed++
		}
	}
	if committed < 1 {
		t.Fatalf("no committed transaction span among %d spans", len(rec.Ended()))
	}
}

// TestBatchProcessorSpanLinksInputs: records copied through a
// txn.NewBatch processor (on kfake) get one span per batch handler call,
// linking the trace context of each of its records that carries one; the
// handler runs in that span and each output's traceparent names it.
func TestBatchProcessorSpanLinksInputs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tr, rec, tp := newTracer(t)

	// Three traced inputs and one without trace context.
	upstream := map[string]trace.SpanContext{}
	var ins []*kgo.Record
	for _, v := range []string{"a", "b", "c"} {
		upCtx, up := tp.Tracer("upstream").Start(context.Background(), "produce "+v)
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(upCtx, carrier)
		up.End()
		upstream[v] = up.SpanContext()
		ins = append(ins, &kgo.Record{Topic: "in", Value: []byte(v), Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(carrier.Get("traceparent"))}}})
	}
	ins = append(ins, &kgo.Record{Topic: "in", Value: []byte("untraced")})
	c := kfakeInOut(t, ctx, ins...)

	var (
		mu      sync.Mutex
		inCalls []trace.SpanContext // the span each handler call ran in
	)
	copyBatch := func(ctx context.Context, in []*kgo.Record, emit txn.BatchEmit) error {
		mu.Lock()
		inCalls = append(inCalls, trace.SpanContextFromContext(ctx))
		mu.Unlock()
		for _, r := range in {
			emit(r, &kgo.Record{Topic: "out", Value: r.Value, Headers: append([]kgo.RecordHeader(nil), r.Headers...)})
		}
		return nil
	}
	p, err := txn.NewBatch(eoskit.Conn{Brokers: c.ListenAddrs()}, copyBatch,
		txn.WithGroup("g"), txn.WithTopics("in"), txn.WithTransactionalID("batch-0"), txn.WithHooks(tr))
	if err != nil {
		t.Fatal(err)
	}
	outs := map[string]*kgo.Record{}
	for _, r := range runUntil(t, ctx, c, p, len(ins)) {
		outs[string(r.Value)] = r
	}

	// One span per handler call, with the call's record count, linking
	// every traced input of its batch exactly once overall.
	spans := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	records, linkedBy := 0, map[trace.SpanID]trace.SpanID{} // upstream span -> batch span
	for _, s := range rec.Ended() {
		if s.Name() != "in process" {
			continue
		}
		spans[s.SpanContext().SpanID()] = s
		records += int(attrs(s)[otel.AttrBatchCount].AsInt64())
		if a := attrs(s); a[otel.AttrGroup].AsString() != "g" || a[otel.AttrAttempt].AsInt64() < 1 {
			t.Errorf("batch span %s: group %q, attempt %d; want g and at least 1", s.SpanContext().SpanID(), a[otel.AttrGroup].AsString(), a[otel.AttrAttempt].AsInt64())
		}
		for _, l := range s.Links() {
			if _, dup := linkedBy[l.SpanContext.SpanID()]; dup {
				t.Errorf("upstream span %s linked twice", l.SpanContext.SpanID())
			}
			linkedBy[l.SpanContext.SpanID()] = s.SpanContext().SpanID()
		}
	}
	mu.Lock()
	calls := append([]trace.SpanContext(nil), inCalls...)
	mu.Unlock()
	if len(spans) == 0 || len(spans) != len(calls) || records != len(ins) {
		t.Fatalf("%d batch spans counting %d records for %d handler calls on %d records: want one span per call, counting every record", len(spans), records, len(calls), len(ins))
	}
	for _, sc := range calls {
		if _, ok := spans[sc.SpanID()]; !ok {
			t.Fatalf("a handler call ran in span %s, not one of the batch spans", sc.SpanID())
		}
	}
	for v, up := range upstream {
		batch, ok := linkedBy[up.SpanID()]
		if !ok {
			t.Fatalf("input %q: its upstream span %s is linked by no batch span", v, up.SpanID())
		}
		sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": header(outs[v], "traceparent")}))
		if sc.SpanID() != batch || sc.TraceID() != spans[batch].SpanContext().TraceID() {
			t.Fatalf("output %q traceparent %q: want the batch span %s that links its input", v, header(outs[v], "traceparent"), batch)
		}
	}
	if header(outs["untraced"], "traceparent") == "" {
		t.Fatalf("the untraced input's output has no traceparent: it was handled in a batch span")
	}
	var committed int
	for _, s := range rec.Ended() {
		if s.Name() == "txn batch-0" && attrs(s)[otel.AttrOutcome].AsString() == "committed" {
			committed++
		}
	}
	if committed < 1 {
		t.Fatalf("no committed transaction span among %d spans", len(rec.Ended()))
	}
}
