package otel_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/otel"
	"github.com/eoskit/eoskit/txn"
)

// TestProcessorOutputContinuesInputTrace: a record copied through a
// txn.Processor (on kfake) yields an output whose traceparent continues
// the input's trace through the handler's span, and the transaction's
// span records its outcome.
func TestProcessorOutputContinuesInputTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"), kfake.SeedTopics(1, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tr, rec, tp := newTracer(t)

	upCtx, upstream := tp.Tracer("upstream").Start(context.Background(), "produce")
	in := &kgo.Record{Topic: "in", Value: []byte("hello")}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(upCtx, carrier)
	in.Headers = append(in.Headers, kgo.RecordHeader{Key: "traceparent", Value: []byte(carrier.Get("traceparent"))})
	upstream.End()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, in).FirstErr(); err != nil {
		t.Fatal(err)
	}

	p, err := txn.New(eoskit.Conn{Brokers: c.ListenAddrs()}, txn.Copy("out"),
		txn.WithGroup("g"), txn.WithTopics("in"), txn.WithTransactionalID("copy-0"), txn.WithHooks(tr))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()

	rd, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("out"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out *kgo.Record
	for out == nil {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no committed output: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = r })
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}

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
