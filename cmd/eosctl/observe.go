package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/internal/health"
	"github.com/eoskit/eoskit/metrics/prom"
)

// observeFlags are the observability flags of long-running commands:
// --metrics-addr (Prometheus /metrics, /healthz, /readyz), --log-format
// and --log-level.
type observeFlags struct {
	metricsAddr string
	linger      time.Duration
	logFormat   string
	logLevel    string
}

func (o *observeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT (default: off)")
	fl.DurationVar(&o.linger, "metrics-linger", 0, "with --metrics-addr: keep serving this long after the command ends, so a last scrape sees the final figures (and /readyz the reason, e.g. fenced)")
	fl.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	fl.StringVar(&o.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
}

// observeScope is what the metrics are about: their constant labels and
// the group whose lag /metrics reports.
type observeScope struct {
	conn   eoskit.Conn
	group  string
	txnID  string
	topics []string
	// collectors are the command's own (outbox relay: slot lag, position age).
	collectors []prometheus.Collector
}

// observed is what start hands the command: the hooks to pass to the
// processor, its logger, franz-go options to add to its Conn, and stop.
type observed struct {
	hooks   []eoskit.Hook
	logger  *slog.Logger
	kgoOpts []kgo.Opt
	addr    string          // the address /metrics listens on ("" when off)
	ready   *health.Tracker // nil when off
	stop    func()          // marks the processor stopped, serves --metrics-linger more, shuts the server down, closes the lag client
}

// ended tells /readyz how Run ended (fenced, or stopped), before stop's
// linger serves the final figures.
func (ob *observed) ended(err error) {
	if ob.ready != nil {
		ob.ready.Ended(err)
	}
}

// logger checks --log-format and --log-level and returns the stderr
// logger, or a usage error.
func (o *observeFlags) logger(e *env) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, usageErr(fmt.Errorf("--log-level %q: use debug, info, warn or error", o.logLevel))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, usageErr(fmt.Errorf("--log-format %q: use text or json", o.logFormat))
}

// start checks the flags and, with --metrics-addr, starts serving. Flag
// problems are usage errors; a listen failure is a failure.
func (o *observeFlags) start(ctx context.Context, e *env, s observeScope) (*observed, error) {
	log, err := o.logger(e)
	if err != nil {
		return nil, err
	}
	ob := &observed{logger: log, stop: func() {}}
	if o.metricsAddr == "" {
		return ob, nil
	}
	if o.linger < 0 {
		return nil, usageErr(fmt.Errorf("--metrics-linger %v: must not be negative", o.linger))
	}
	if _, _, err := net.SplitHostPort(o.metricsAddr); err != nil {
		return nil, usageErr(fmt.Errorf("--metrics-addr %q: use HOST:PORT (for example 127.0.0.1:9464): %w", o.metricsAddr, err))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := prom.New(reg, prom.WithGroup(s.group), prom.WithTransactionalID(s.txnID))
	if err != nil {
		return nil, err
	}
	adm, err := admin.New(s.conn)
	if err != nil {
		return nil, usageErr(err)
	}
	if s.group != "" { // a command without a consumer group (outbox relay) has no group lag
		lag, err := prom.NewLagCollector(adm, s.group, prom.LagTopics(s.topics...))
		if err != nil {
			adm.Close()
			return nil, err
		}
		reg.MustRegister(lag)
	}
	for _, c := range s.collectors {
		reg.MustRegister(c)
	}
	ready := health.New()

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("/healthz", health.Alive)
	mux.Handle("/readyz", ready)
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.metricsAddr)
	if err != nil {
		adm.Close()
		return nil, withCode(exitFailed, fmt.Errorf("--metrics-addr: %w", err))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", eoskit.LogKeyErr, err)
		}
	}()
	ob.addr = ln.Addr().String()
	fmt.Fprintf(e.stderr, "eosctl: serving http://%s/metrics, /healthz and /readyz\n", ob.addr)
	ob.hooks = []eoskit.Hook{m, ready}
	ob.kgoOpts = m.KgoOpts()
	ob.ready = ready
	ob.stop = func() {
		ready.Stopped()
		if o.linger > 0 {
			fmt.Fprintf(e.stderr, "eosctl: serving the final metrics for %v more\n", o.linger)
			time.Sleep(o.linger)
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
		adm.Close()
	}
	return ob, nil
}
