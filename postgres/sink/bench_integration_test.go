//go:build integration

package sink_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/postgres/sink"
)

// The benchmarks of issue 16's performance section, on the suite's
// cluster (3 brokers, RF 3) and PostgreSQL: 100 B values into an append
// table, default batches (sink.DefaultMaxBatchRecords), each iteration a fresh table and group over
// the same filled topic. They report rows/s and the client CPU per row
// (this process's user+system time; brokers and PostgreSQL excluded).
//
//	go test -tags integration -run '^$' -bench 'Sink' -benchtime 3x ./postgres/sink/
const benchRecords = 100000

type benchInput struct {
	topic string
	recs  []*kgo.Record // the topic's records, for the COPY side
}

var benchIn *benchInput

func benchSetup(b *testing.B) *benchInput {
	b.Helper()
	if benchIn != nil {
		return benchIn
	}
	ctx := integration.Context(b, 5*time.Minute)
	topic := fmt.Sprintf("bench-sink-%d", time.Now().UnixNano())
	createTopic(b, ctx, topic, 6)
	cl, err := shared.NewClient(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	val := make([]byte, 100)
	for i := range val {
		val[i] = 'a' + byte(i%26)
	}
	const chunk = 5000
	for i := 0; i < benchRecords; i += chunk {
		rs := make([]*kgo.Record, chunk)
		for j := range rs {
			rs[j] = &kgo.Record{Value: val}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	in := &benchInput{topic: topic}
	rd, err := shared.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	for len(in.recs) < benchRecords {
		fs := rd.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		in.recs = append(in.recs, fs.Records()...)
	}
	benchIn = in
	return in
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSide runs one side b.N times; each run returns when all rows are in.
func benchSide(b *testing.B, run func(ctx context.Context, pool *pgxpool.Pool, table string) error) {
	in := benchSetup(b)
	ctx := integration.Context(b, 30*time.Minute)
	pool := newPool(b, ctx)
	if err := sink.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	_ = in
	var wall, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		table := tableName(b)
		sql, _ := sink.AppendTableSQL(table)
		if err := sink.CreateTable(ctx, pool, sql); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0, t0 := cpuTime(), time.Now()
		if err := run(ctx, pool, table); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		b.StopTimer()
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n < benchRecords {
			b.Fatalf("table %s: %d rows (%v), want %d", table, n, err, benchRecords)
		}
		_, _ = pool.Exec(ctx, "DROP TABLE "+table)
		b.StartTimer()
	}
	b.ReportMetric(float64(benchRecords*b.N)/wall.Seconds(), "rows/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(benchRecords*b.N), "cpu-ns/row")
}

// BenchmarkSinkAppend: postgres/sink, append mode.
func BenchmarkSinkAppend(b *testing.B) {
	in := benchSetup(b)
	benchSide(b, func(ctx context.Context, pool *pgxpool.Pool, table string) error {
		h, err := sink.AppendHandler(table)
		if err != nil {
			return err
		}
		s, err := sink.New(conn(), pool, h, sink.WithGroup(fmt.Sprintf("bench-%s", table)), sink.WithTopics(in.topic))
		if err != nil {
			return err
		}
		rctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- s.Run(rctx) }()
		for s.Stats().Records < benchRecords {
			select {
			case err := <-errc:
				cancel()
				return fmt.Errorf("sink stopped early: %w", err)
			case <-time.After(time.Millisecond):
			}
		}
		cancel()
		return <-errc
	})
}

// BenchmarkSinkAtLeastOnce: the hand-written reference with the same
// batching: a DB transaction per poll of up to DefaultMaxBatchRecords records, then a
// synchronous Kafka offset commit.
func BenchmarkSinkAtLeastOnce(b *testing.B) {
	in := benchSetup(b)
	benchSide(b, func(ctx context.Context, pool *pgxpool.Pool, table string) error {
		h, err := sink.AppendHandler(table)
		if err != nil {
			return err
		}
		cl, err := conn().NewClient(kgo.ConsumerGroup("bench-alo-"+table), kgo.ConsumeTopics(in.topic),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			return err
		}
		defer cl.Close()
		for n := 0; n < benchRecords; {
			recs := cl.PollRecords(ctx, sink.DefaultMaxBatchRecords).Records()
			if len(recs) > 0 {
				if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return h(ctx, tx, recs) }); err != nil {
					return err
				}
				if err := cl.CommitRecords(ctx, recs...); err != nil {
					return err
				}
				n += len(recs)
			}
			cl.AllowRebalance()
		}
		return nil
	})
}

// BenchmarkSinkCopy: PostgreSQL's own limit for the same rows, a COPY of
// the records (already in memory) in one transaction from a Go client.
func BenchmarkSinkCopy(b *testing.B) {
	in := benchSetup(b)
	benchSide(b, func(ctx context.Context, pool *pgxpool.Pool, table string) error {
		h, err := sink.AppendHandler(table)
		if err != nil {
			return err
		}
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return h(ctx, tx, in.recs) })
	})
}
