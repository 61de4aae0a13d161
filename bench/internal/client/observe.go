package client

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/metrics/prom"
	"github.com/eoskit/eoskit/otel"
)

// observeHooks are the hooks of an Observe run: metrics/prom on a registry
// nobody scrapes (the cost is in the updates) with kprom through the
// returned kgo options, and the otel tracer starting a trace for the
// fraction s.TraceRoots of the records (otel.WithRootSampling; the inputs
// carry no trace context) on an SDK provider with no exporter.
func observeHooks(s Spec) ([]eoskit.Hook, []kgo.Opt, error) {
	m, err := prom.New(prometheus.NewRegistry(), prom.WithGroup(s.Group), prom.WithTransactionalID(s.TxnID))
	if err != nil {
		return nil, nil, err
	}
	tr := otel.New(otel.WithTracerProvider(sdktrace.NewTracerProvider()), otel.WithRootSampling(s.TraceRoots))
	return []eoskit.Hook{m, tr}, m.KgoOpts(), nil
}
