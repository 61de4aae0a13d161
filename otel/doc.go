// Package otel traces eoskit with OpenTelemetry (go.opentelemetry.io/otel).
// It lives in its own package so that programs that do not trace never
// import it.
//
// New returns a *Tracer, an eoskit hook; pass it to txn.WithHooks:
//
//	tr := otel.New(otel.WithTracerProvider(tp))
//	p, err := txn.New(conn, handler, txn.WithHooks(tr), ...)
//
// It makes three kinds of span:
//
//   - "txn <transactional ID>": one per transaction, from TxnBegin to
//     TxnEnd, a root span with the outcome (eoskit.txn.outcome committed,
//     aborted, unknown, fenced; eoskit.txn.reason for an abort), records,
//     outputs, producer ID and epoch, and the flush and commit phase
//     times; status Error unless committed.
//   - "<topic> process": one per handler call (HookRecordContext starts it
//     and hands its context to the handler, HookHandled ends it), a
//     consumer span continuing the trace found in the input record's
//     headers (W3C traceparent by default), linked to the open
//     transaction's span; attributes follow OpenTelemetry's messaging
//     conventions (messaging.system kafka, messaging.destination.name,
//     messaging.destination.partition.id, messaging.kafka.offset,
//     messaging.consumer.group.name).
//   - "<topic> process" for a batch handler (txn.NewBatch): one per
//     handler call (HookBatchContext starts it, HookHandled ends it),
//     linked (span links, not a parent: a batch has many) to the trace
//     context of each of its records that carries one, with
//     messaging.batch.message_count; named "process" when the batch
//     holds several topics.
//   - none per output: HookEmit writes the handler span's context into
//     every output's headers, so a reader of the output continues the
//     input's trace. A trace header the handler copied from the input is
//     replaced, and the input's headers are never modified.
//
// # Sampling and cost
//
// An input whose trace context is not sampled gets no span (the decision
// of the SDK's default ParentBased sampler, taken before any span is
// made); its outputs carry its context unchanged. An input without trace
// context starts a trace for the fraction WithRootSampling gives (default
// every one; the provider's sampler then decides, after making the span's
// IDs), chosen by a hash of the record's partition and offset, so that a
// retried record, or one processed again after a crash, is traced again
// or not at all; a batch call
// without a sampled record is such a root, chosen by its first record.
// With OpenTelemetry's no-op provider no span is made at all. An
// input without trace context that gets no span costs a few nanoseconds
// (a header lookup when it has headers) and no allocation; a traced one
// about 2 µs in the SDK. bench's observe-copy case: metrics and 0.1 % of
// the records traced cost a copy 1.02× its CPU, 1 % traced 1.05×.
//
// NewMeter returns a *Meter, a hook recording metrics/prom's figures as
// OpenTelemetry instruments instead (eoskit.txn.committed,
// eoskit.txn.end.duration, ...: an OpenTelemetry Prometheus exporter
// exposes them under metrics/prom's names); the lag figures come only
// from metrics/prom's LagCollector.
//
// For franz-go's own client spans (produce and fetch requests) add
// github.com/twmb/franz-go/plugin/kotel to eoskit.Conn.KgoOpts; both use
// the same headers. Spans are ended on the client's goroutines as the
// hooks are called; Tracer's methods are safe for concurrent use.
package otel
