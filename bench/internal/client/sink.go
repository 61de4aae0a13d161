package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/pgcopy"
	"github.com/eoskit/eoskit/postgres/sink"
)

// Sink workloads (Kafka -> PostgreSQL, issue 16): Topic into the append
// table Table (sink.AppendTableSQL, created by the harness) of the
// database at DSN, TxnRecords records per database transaction.
const (
	KindSinkEOS  = "sink-eos"  // postgres/sink with sink.AppendHandler (Impl eoskit)
	KindSinkALO  = "sink-alo"  // hand-written at-least-once: a DB transaction per batch, then a synchronous Kafka offset commit (Impl franz-go)
	KindSinkCopy = "sink-copy" // one pgx CopyFrom of the same rows, built in memory as pgx rows (Impl franz-go)
	KindSinkRaw  = "sink-raw"  // one binary COPY of the same rows, encoded in memory before the clock: PostgreSQL's own limit (Impl franz-go)
)

func sinkPool(ctx context.Context, s Spec) (*pgxpool.Pool, error) {
	if s.DSN == "" || s.Table == "" {
		return nil, fmt.Errorf("sink workload %s needs dsn and table", s.Kind)
	}
	return pgxpool.New(ctx, s.DSN)
}

func sinkBatch(s Spec) int {
	if s.TxnRecords > 0 {
		return s.TxnRecords
	}
	return sink.DefaultMaxBatchRecords
}

func sinkWorkload(ctx context.Context, s Spec) (Result, error) {
	pool, err := sinkPool(ctx, s)
	if err != nil {
		return Result{}, err
	}
	defer pool.Close()
	switch s.Kind {
	case KindSinkEOS:
		return sinkEOS(ctx, s, pool)
	case KindSinkALO:
		return sinkALO(ctx, s, pool)
	case KindSinkRaw:
		return sinkRaw(ctx, s, pool)
	}
	return sinkCopy(ctx, s, pool)
}

// sinkEOS runs postgres/sink until s.Records records are committed; the
// clock starts before Run (the group join), as the consumers'.
func sinkEOS(ctx context.Context, s Spec, pool *pgxpool.Pool) (Result, error) {
	h, err := sink.AppendHandler(s.Table)
	if err != nil {
		return Result{}, err
	}
	all := &committedRows{want: s.Records, done: make(chan struct{})}
	sk, err := sink.New(eoskit.Conn{Brokers: s.Brokers}, pool, h, sink.WithGroup(s.Group), sink.WithTopics(s.Topic),
		sink.WithMaxBatchRecords(sinkBatch(s)), sink.WithHooks(all))
	if err != nil {
		return Result{}, err
	}
	if err := sink.Migrate(ctx, pool); err != nil {
		return Result{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- sk.Run(rctx) }()
	select {
	case err := <-errc:
		return Result{Records: sk.Stats().Records}, fmt.Errorf("sink stopped early: %w", err)
	case <-all.done:
	}
	took := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		return Result{Records: sk.Stats().Records}, err
	}
	st := sk.Stats()
	if st.FenceRefusals != 0 || st.DBRetries != 0 {
		return Result{Records: st.Records}, fmt.Errorf("sink: %d fence refusals, %d database retries in a fault-free run", st.FenceRefusals, st.DBRetries)
	}
	return Result{Records: st.Records, Seconds: took.Seconds()}, nil
}

// committedRows closes done once want records are committed (a hook: no
// polling of Stats, whose wake-ups would count as the sink's CPU).
type committedRows struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *committedRows) OnBatchCommit(e sink.BatchCommit) {
	if e.Err != nil {
		return
	}
	if n := c.n.Add(int64(e.Records)); n >= c.want && n-int64(e.Records) < c.want {
		close(c.done)
	}
}

// sinkALO is the hand-written reference: batches gathered as the sink's
// (TxnRecords records or 100 ms after the first), written with the same
// handler in one DB transaction, then the offsets committed to Kafka
// synchronously. A crash between the two duplicates the batch.
func sinkALO(ctx context.Context, s Spec, pool *pgxpool.Pool) (Result, error) {
	h, err := sink.AppendHandler(s.Table)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	cl, err := kgo.NewClient(append(consumeOpts(s), kgo.BlockRebalanceOnPoll())...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	limit := sinkBatch(s)
	var n int64
	for n < s.Records {
		var recs []*kgo.Record
		var deadline time.Time
		for len(recs) < limit {
			pctx, cancel := ctx, context.CancelFunc(func() {})
			if !deadline.IsZero() {
				if !time.Now().Before(deadline) {
					break
				}
				pctx, cancel = context.WithDeadline(ctx, deadline)
			}
			fs := cl.PollRecords(pctx, limit-len(recs))
			cancel()
			if err := ctx.Err(); err != nil {
				return Result{Records: n}, err
			}
			fs.EachError(func(t string, p int32, ferr error) {
				if err == nil && !errors.Is(ferr, context.DeadlineExceeded) {
					err = fmt.Errorf("fetch %s/%d: %w", t, p, ferr)
				}
			})
			if err != nil {
				return Result{Records: n}, err
			}
			got := fs.Records()
			if len(got) > 0 && deadline.IsZero() {
				deadline = time.Now().Add(sink.DefaultBatchInterval)
			}
			recs = append(recs, got...)
		}
		if len(recs) > 0 {
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return h(ctx, tx, recs) }); err != nil {
				return Result{Records: n}, err
			}
			if err := cl.CommitRecords(ctx, recs...); err != nil {
				return Result{Records: n}, err
			}
			n += int64(len(recs))
		}
		cl.AllowRebalance()
	}
	return Result{Records: n, Seconds: time.Since(start).Seconds()}, nil
}

// sinkCopy writes s.Records rows of the append table's shape (the input
// topic's name, 6 partitions' positions, RecordSize-byte Payload values,
// empty headers, a timestamp) with one COPY in one transaction. The rows
// are built before the clock starts: this is the database's own limit,
// without Kafka.
func sinkCopy(ctx context.Context, s Spec, pool *pgxpool.Pool) (Result, error) {
	size := max(s.RecordSize, 32)
	now := time.Now()
	rows := make([][]any, s.Records)
	for i := range rows {
		rows[i] = []any{s.Topic, int32(i % 6), int64(i / 6), []byte(nil), Payload(int64(i), size), []byte("[]"), &now}
	}
	start := time.Now()
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		n, err = tx.CopyFrom(ctx, pgx.Identifier(strings.Split(s.Table, ".")),
			[]string{"topic", "partition", "offset", "key", "value", "headers", "timestamp"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Records: n, Seconds: time.Since(start).Seconds()}, nil
}

// sinkRaw writes the rows of sinkCopy with one COPY in PostgreSQL's binary
// format, encoded (internal/pgcopy, as sink.AppendHandler does) before the
// clock starts: the client only sends bytes, so this is the database's
// own limit for these rows.
func sinkRaw(ctx context.Context, s Spec, pool *pgxpool.Pool) (Result, error) {
	size := max(s.RecordSize, 32)
	now := time.Now()
	recs := make([]*kgo.Record, s.Records)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: s.Topic, Partition: int32(i % 6), Offset: int64(i / 6), Value: Payload(int64(i), size), Timestamp: now}
	}
	data, err := io.ReadAll(pgcopy.NewRows(recs, sink.HeadersJSON))
	if err != nil {
		return Result{}, err
	}
	recs = nil
	sql := pgcopy.CopySQL(pgx.Identifier(strings.Split(s.Table, ".")))
	start := time.Now()
	var n int64
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), sql)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Records: n, Seconds: time.Since(start).Seconds()}, nil
}
