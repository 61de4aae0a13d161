package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/postgres/sink"
)

// envPostgresDSN is --dsn's default.
const envPostgresDSN = "EOSKIT_POSTGRES_DSN"

func newSinkCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Consume topics into a database exactly once",
	}
	cmd.AddCommand(newSinkPostgresCmd(e))
	return cmd
}

type sinkPostgresFlags struct {
	from, group, dsn, table, mode, deadLetter, start string
	maxRecords, maxBytes                             int
	interval, sessionTimeout                         time.Duration
	output                                           outputFlag
	obs                                              observeFlags // --metrics-addr, --log-format, --log-level
}

func newSinkPostgresCmd(e *env) *cobra.Command {
	var (
		cf clusterFlags
		f  sinkPostgresFlags
	)
	cmd := &cobra.Command{
		Use:   "postgres --from TOPIC --group GROUP --dsn DSN --table TABLE",
		Short: "Write a topic into a PostgreSQL table exactly once (postgres/sink)",
		Long: `Consume --from in consumer group --group (read_committed) and write its records
into --table, exactly once: each batch's rows and the consumed offsets commit in one
database transaction, fenced by a per-partition owner epoch (table eoskit_offsets,
created if missing, as is --table).

--mode append (default) inserts one row per record: topic, partition, offset, key,
value, headers (jsonb) and timestamp, with no unique constraint on the position, so
that a duplicate would be visible. --mode upsert keeps one row per record key, the
last record's (records without a key stop the sink, or go to --dead-letter-table).

Run several with the same --group to share the work. Offsets are mirrored to the
Kafka group as a hint for lag tools; the database is what a sink resumes from.
Ctrl-C or SIGTERM stops it; the counters are then printed on stdout.

--metrics-addr serves /metrics, /healthz and /readyz as for copy: each batch is a
transaction in eoskit's metrics (eoskit_txn_committed_total, eoskit_txn_records: rows
committed in its _sum, eoskit_txn_end_duration_seconds{phase="total"}: batch commit
duration, eoskit_txn_aborted_total{reason="rebalance"}: batches the fence refused),
and eoskit_lag_to_lso_records is the group's lag from the mirrored offsets.`,
		Example: `  eosctl sink postgres --brokers 127.0.0.1:9092 --from orders --group orders-pg \
      --dsn postgres://app@127.0.0.1:5432/app --table orders_log
  eosctl sink postgres --from users --group users-pg --table users --mode upsert`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSinkPostgres(cmd.Context(), e, &cf, &f) },
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "input topic")
	fl.StringVar(&f.group, "group", "", "consumer group shared by the sinks (and their key in eoskit_offsets)")
	fl.StringVar(&f.dsn, "dsn", os.Getenv(envPostgresDSN), "PostgreSQL connection string ($"+envPostgresDSN+")")
	fl.StringVar(&f.table, "table", "", "output table, optionally schema-qualified (created if missing)")
	fl.StringVar(&f.mode, "mode", "append", "append (one row per record) or upsert (one row per key, last value wins)")
	fl.StringVar(&f.deadLetter, "dead-letter-table", "", "table for records that cannot be written (default: stop)")
	fl.StringVar(&f.start, "start", "earliest", "where a partition without a committed position starts: earliest or latest")
	fl.IntVar(&f.maxRecords, "max-batch-records", sink.DefaultMaxBatchRecords, "records per database transaction at most")
	fl.IntVar(&f.maxBytes, "max-batch-bytes", sink.DefaultMaxBatchBytes, "bytes of keys, values and headers per database transaction at most (one poll past it)")
	fl.DurationVar(&f.interval, "batch-interval", sink.DefaultBatchInterval, "close a batch this long after its first record")
	fl.DurationVar(&f.sessionTimeout, "session-timeout", sink.DefaultSessionTimeout, "consumer group session timeout")
	f.obs.register(cmd)
	f.output.register(cmd)
	return cmd
}

func runSinkPostgres(ctx context.Context, e *env, cf *clusterFlags, f *sinkPostgresFlags) error {
	if err := f.output.validate(); err != nil {
		return err
	}
	conn, err := cf.config()
	if err != nil {
		return err
	}
	conn.ClientID = "eosctl-sink"
	var missing []string
	for _, req := range [][2]string{{"--from", f.from}, {"--group", f.group}, {"--dsn", f.dsn}, {"--table", f.table}} {
		if req[1] == "" {
			missing = append(missing, req[0])
		}
	}
	if len(missing) > 0 {
		return usageErr(fmt.Errorf("missing %v: sink postgres needs --from, --group, --dsn and --table", missing))
	}
	var tableSQL func(string) (string, error)
	var handler func(string) (sink.Handler, error)
	switch f.mode {
	case "append":
		tableSQL, handler = sink.AppendTableSQL, sink.AppendHandler
	case "upsert":
		tableSQL, handler = sink.UpsertTableSQL, sink.UpsertHandler
	default:
		return usageErr(fmt.Errorf("--mode %q: use append or upsert", f.mode))
	}
	start := kgo.NewOffset().AtStart()
	switch f.start {
	case "earliest":
	case "latest":
		start = kgo.NewOffset().AtEnd()
	default:
		return usageErr(fmt.Errorf("--start %q: use earliest or latest", f.start))
	}
	if _, err := f.obs.logger(e); err != nil {
		return err
	}
	create, err := tableSQL(f.table)
	if err != nil {
		return usageErr(err)
	}
	h, err := handler(f.table)
	if err != nil {
		return usageErr(err)
	}
	pcfg, err := pgxpool.ParseConfig(f.dsn)
	if err != nil {
		return usageErr(fmt.Errorf("--dsn: %w", err))
	}
	ob, err := f.obs.start(ctx, e, observeScope{conn: conn, group: f.group, topics: []string{f.from}})
	if err != nil {
		return err
	}
	defer ob.stop()
	conn.KgoOpts = append(conn.KgoOpts, ob.kgoOpts...)
	opts := []sink.Opt{
		sink.WithGroup(f.group), sink.WithTopics(f.from), sink.WithStartOffset(start),
		sink.WithMaxBatchRecords(f.maxRecords), sink.WithMaxBatchBytes(f.maxBytes), sink.WithBatchInterval(f.interval),
		sink.WithSessionTimeout(f.sessionTimeout),
		sink.WithLogger(ob.logger), sink.WithHooks(ob.hooks...),
	}
	if f.deadLetter != "" {
		opts = append(opts, sink.WithDeadLetterTable(f.deadLetter))
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer pool.Close()
	s, err := sink.New(conn, pool, h, opts...)
	if err != nil {
		return usageErr(err)
	}
	sctx, cancel := cf.withTimeout(ctx)
	err = sink.Migrate(sctx, pool, opts...)
	if err == nil {
		err = sink.CreateTable(sctx, pool, create)
	}
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "eosctl: sinking %s into %s (%s mode); Ctrl-C stops\n", f.from, f.table, f.mode)
	runErr := s.Run(ctx)
	ob.ended(runErr)
	if err := printSinkStats(e, f.output.format, s.Stats()); err != nil {
		return err
	}
	if errors.Is(runErr, eoskit.ErrInvalidOption) {
		return usageErr(runErr)
	}
	return runErr
}

func printSinkStats(e *env, format string, st sink.Stats) error {
	if format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]int64{
			"batches": st.Batches, "records": st.Records, "dead_lettered": st.DeadLettered,
			"fence_refusals": st.FenceRefusals, "claims": st.Claims, "db_retries": st.DBRetries, "dropped": st.Dropped,
		})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "BATCHES\tRECORDS\tDEAD-LETTERED\tFENCE-REFUSALS\tCLAIMS\tDB-RETRIES\n%d\t%d\t%d\t%d\t%d\t%d\n",
		st.Batches, st.Records, st.DeadLettered, st.FenceRefusals, st.Claims, st.DBRetries)
	return tw.Flush()
}
