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
//   - none per output: HookEmit writes the handler span's context into
//     every output's headers, so a reader of the output continues the
//     input's trace. A trace header the handler copied from the input is
//     replaced, and the input's headers are never modified.
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
