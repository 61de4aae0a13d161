package prom_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/hooks"
	"github.com/eoskit/eoskit/metrics/prom"
	"github.com/eoskit/eoskit/otel"
)

// BenchmarkHookCostPerRecord is what a txn.Processor's hooks cost per
// copied record: RecordContext, Handled, Emit and Produce per record, a
// TxnBegin and TxnEnd per 500 records, dispatched through internal/hooks as
// the processor does. none: no hook (the processor skips building the
// events); prom: metrics/prom; prom+otel: plus the tracer on a sampling
// SDK provider that keeps every span and exports none; prom+otel-1%: the
// same sampling 1 % of the traces (ParentBased(TraceIDRatioBased(0.01)));
// prom+otel-root1%: a trace for 1 % of the records decided before any span
// is made (otel.WithRootSampling(0.01)).
func BenchmarkHookCostPerRecord(b *testing.B) {
	m, err := prom.New(prometheus.NewRegistry(), prom.WithGroup("g"), prom.WithTransactionalID("x"))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	tr := otel.New(otel.WithTracerProvider(tp))
	tp1 := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01))))
	defer tp1.Shutdown(context.Background())
	tr1 := otel.New(otel.WithTracerProvider(tp1))
	trRoot := otel.New(otel.WithTracerProvider(tp), otel.WithRootSampling(0.01))
	for _, c := range []struct {
		name  string
		hooks []eoskit.Hook
	}{{"none", nil}, {"prom", []eoskit.Hook{m}}, {"prom+otel", []eoskit.Hook{m, tr}}, {"prom+otel-1%", []eoskit.Hook{m, tr1}}, {"prom+otel-root1%", []eoskit.Hook{m, trRoot}}} {
		b.Run(c.name, func(b *testing.B) {
			hs := hooks.New(c.hooks)
			in := &kgo.Record{Topic: "in", Partition: 3, Offset: 1, Value: []byte("v")}
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%500 == 0 {
					hs.TxnBegin(eoskit.TxnBegin{TransactionalID: "x", Group: "g", At: time.Now()})
				}
				hctx := hs.RecordContext(ctx, in)
				out := &kgo.Record{Topic: "out", Value: in.Value}
				if hs.HasHandled() {
					hs.Handled(eoskit.Handled{Group: "g", Record: in, Batch: 1, Attempt: 1, Duration: time.Microsecond, Context: hctx})
				}
				hs.Emit(hctx, in, out)
				if hs.HasProduce() {
					hs.Produce(eoskit.Produced{Record: out})
				}
				if i%500 == 499 {
					hs.TxnEnd(eoskit.TxnEnd{TransactionalID: "x", Group: "g", Outcome: eoskit.TxnCommitted, Records: 500, Outputs: 500})
				}
			}
		})
	}
}

// BenchmarkHookCostConsume is the consume case: one Handled per record
// (consumer.Run calls no produce hook), metrics/prom against none; as
// consumer.Run, the handler is timed only when a hook observes it.
func BenchmarkHookCostConsume(b *testing.B) {
	m, err := prom.New(prometheus.NewRegistry(), prom.WithGroup("g"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		hooks []eoskit.Hook
		timed bool // time the handler although no hook observes it: the clock's share of the cost
	}{{"none", nil, false}, {"clock-only", nil, true}, {"prom", []eoskit.Hook{m}, false}} {
		b.Run(c.name, func(b *testing.B) {
			hs := hooks.New(c.hooks)
			in := &kgo.Record{Topic: "in", Partition: 3, Offset: 1, Value: []byte("v")}
			var took time.Duration
			b.ReportAllocs()
			for b.Loop() {
				if !hs.HasHandled() && !c.timed {
					continue
				}
				began := time.Now()
				took += time.Since(began)
				if hs.HasHandled() {
					hs.Handled(eoskit.Handled{Group: "g", Record: in, Batch: 1, Attempt: 1, Duration: took})
				}
			}
		})
	}
}
