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
				in.Offset = int64(i) // root sampling picks records by position
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

// BenchmarkHandlerPath is the observability cost of one handler call as
// consumer and txn make it (internal/hooks: the handler-call clock, then
// the events), off (no hook: the libraries skip the clock and the events)
// and on (metrics/prom and the otel tracer on an SDK provider with no
// exporter, a trace for 1 % of the records as bench's observe cases),
// side by side in one run: consume (Handled per timed record, HandledRun
// per 256 for the others: every hook takes runs), copy (txn's
// per-record path: RecordContext, Handled (or a run) and Emit per record,
// TxnBegin, ProducedRun and TxnEnd per 500 records) and batch
// (txn.NewBatch: one BatchContext and Handled per 500-record call, Emit
// per record). ns/op and allocs/op are per record; the handler itself does
// nothing (copy and batch build the output record on both sides).
func BenchmarkHandlerPath(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	on := func(b *testing.B) []eoskit.Hook {
		m, err := prom.New(prometheus.NewRegistry(), prom.WithGroup("g"), prom.WithTransactionalID("x"))
		if err != nil {
			b.Fatal(err)
		}
		return []eoskit.Hook{m, otel.New(otel.WithTracerProvider(tp), otel.WithRootSampling(0.01))}
	}
	const txnRecords = 500
	handler := func(context.Context, *kgo.Record) error { return nil }
	for _, side := range []string{"off", "on"} {
		// hooksOf returns the side's hooks and starts counting allocations.
		hooksOf := func(b *testing.B) hooks.Set {
			b.ReportAllocs()
			if side == "off" {
				return hooks.New(nil)
			}
			return hooks.New(on(b))
		}
		in := &kgo.Record{Topic: "in", Partition: 3, Value: []byte("v")}
		ctx := context.Background()
		b.Run("consume/"+side, func(b *testing.B) {
			hs := hooksOf(b)
			var clock hooks.Clock
			runs, quiet := hs.HandledRuns(), 0
			for i := 0; b.Loop(); i++ { // consumer/part.go handle, handleBatch
				if !hs.HasHandled() {
					_ = handler(ctx, in)
					continue
				}
				began := clock.Start()
				err := handler(ctx, in)
				took, untimed := hooks.Took(began)
				if untimed && err == nil && runs {
					quiet++
				} else {
					hs.Handled(eoskit.Handled{Group: "g", Record: in, Batch: 1, Attempt: 1, Duration: took, Untimed: untimed, Err: err})
				}
				if i%256 == 255 { // the worker's mark
					hs.HandledRun(eoskit.HandledRun{Group: "g", Calls: quiet, Last: in})
					quiet = 0
				}
			}
		})
		b.Run("copy/"+side, func(b *testing.B) {
			hs := hooksOf(b)
			var clock hooks.Clock
			runs, quiet := hs.HandledRuns(), 0
			ctx, cancel := context.WithCancel(ctx) // a Processor's session context: a pointer
			defer cancel()
			for i := 0; b.Loop(); i++ { // txn/process.go handleRecord, flushRun, transaction.go produced
				in.Offset = int64(i) // root sampling picks records by position
				if i%txnRecords == 0 {
					hs.TxnBegin(eoskit.TxnBegin{TransactionalID: "x", Group: "g", At: time.Now()})
				}
				hctx := hs.RecordContext(ctx, in)
				var began time.Time
				if hs.HasHandled() {
					began = clock.Start()
				}
				out := &kgo.Record{Topic: "out", Value: in.Value}
				err := handler(hctx, in)
				if hs.HasHandled() {
					took, untimed := hooks.Took(began)
					if untimed && err == nil && runs && hctx == ctx { // no span started for the call
						quiet++
					} else {
						hs.Handled(eoskit.Handled{Group: "g", Record: in, Batch: 1, Attempt: 1, Duration: took, Untimed: untimed, Err: err, Context: hctx})
					}
				}
				if emitted(&hs, hctx, in, out, i, txnRecords) && quiet > 0 {
					hs.HandledRun(eoskit.HandledRun{Group: "g", Calls: quiet, Last: in})
					quiet = 0
				}
			}
		})
		b.Run("batch/"+side, func(b *testing.B) {
			hs := hooksOf(b)
			recs := make([]*kgo.Record, txnRecords)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: "in", Partition: 3, Offset: int64(i), Value: []byte("v")}
			}
			ctx := ctx
			for i := 0; b.Loop(); i++ { // txn/process.go handleBatch, one call per txnRecords records
				in := recs[i%txnRecords]
				in.Offset = int64(i) // root sampling picks a batch by its first record's position
				if i%txnRecords == 0 {
					hs.TxnBegin(eoskit.TxnBegin{TransactionalID: "x", Group: "g", At: time.Now()})
					hctx := hs.BatchContext(ctx, recs)
					began := time.Now() // every batch call is timed; off, txn skips it (2 clock reads per 500 records)
					_ = handler(hctx, in)
					if hs.HasHandled() {
						hs.Handled(eoskit.Handled{Group: "g", Record: recs[0], Batch: len(recs), Attempt: 1, Duration: time.Since(began), Context: hctx})
					}
					ctx = hctx
				}
				if emitted(&hs, ctx, in, &kgo.Record{Topic: "out", Value: in.Value}, i, txnRecords) {
					ctx = context.Background()
				}
			}
		})
	}
}

// emitted is what txn does for output out of input in, the i-th record of
// transactions of n records: the Emit hook, the Produce hook (its
// callback; when every produce hook takes runs, one ProducedRun per
// transaction instead), and TxnEnd after the last (true).
func emitted(hs *hooks.Set, ctx context.Context, in, out *kgo.Record, i, n int) bool {
	if hs.HasEmit() {
		hs.Emit(ctx, in, out)
	}
	if hs.HasProduce() && !hs.ProducedRuns() {
		hs.Produce(eoskit.Produced{Record: out})
	}
	if i%n != n-1 {
		return false
	}
	if hs.ProducedRuns() {
		hs.ProducedRun(eoskit.ProducedRun{TransactionalID: "x", Records: n})
	}
	hs.TxnEnd(eoskit.TxnEnd{TransactionalID: "x", Group: "g", Outcome: eoskit.TxnCommitted, Records: n, Outputs: n})
	return true
}
