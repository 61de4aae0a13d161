package otel_test

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/otel"
)

// The Tracer is a hook: txn.Processor calls OnRecordContext before the
// handler, OnEmit for each output and OnHandled after; here by hand.
func ExampleNew() {
	spans := tracetest.NewSpanRecorder()
	tr := otel.New(otel.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))

	in := &kgo.Record{Topic: "words", Value: []byte("hello")}
	ctx := tr.OnRecordContext(context.Background(), in)
	out := &kgo.Record{Topic: "shout", Value: []byte("HELLO")}
	tr.OnEmit(ctx, in, out)
	tr.OnHandled(eoskit.Handled{Record: in, Attempt: 1, Context: ctx})

	fmt.Println(spans.Ended()[0].Name(), out.Headers[0].Key)
	// Output: words process traceparent
}
