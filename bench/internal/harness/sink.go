package harness

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/eoskit/eoskit/bench/internal/client"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/postgres/sink"
)

// sinkSide is a Kafka -> PostgreSQL side (issue 16): every run gets a
// PostgreSQL server of its own (integration's processes backend: local
// binaries, fsync off), an empty append table, and this binary's client
// command with the DSN. After the run, its gate checks in SQL that the
// table holds every input record exactly once: the row count, the
// distinct positions (partition, offset) and the distinct sequence
// numbers of the values all equal the records asked for.
type sinkSide struct{ goSide }

func newSinkSide(label, kind, impl string, batch int) sinkSide {
	return sinkSide{goClient(label, kind, impl, func(s *client.Spec) { s.RecordSize, s.TxnRecords = 100, batch })}
}

func (s sinkSide) Run(ctx context.Context, e *Env, w Work) (Measurement, error) {
	pg, err := integration.StartPostgres(ctx, integration.WithPostgresBackend(integration.BackendProcesses))
	if err != nil {
		return Measurement{}, fmt.Errorf("postgres: %w", err)
	}
	defer pg.Close()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		return Measurement{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	table := strings.ReplaceAll(w.Group, "-", "_")
	create, err := sink.AppendTableSQL(table)
	if err != nil {
		return Measurement{}, err
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		return Measurement{}, fmt.Errorf("create %s: %w", table, err)
	}
	g := s.goSide
	g.spec.DSN, g.spec.Table = pg.DSN(), table
	m, err := g.Run(ctx, e, w)
	if err != nil {
		return m, err
	}
	return m, sinkGate(ctx, conn, table, w.Records)
}

// sinkGate: rows, distinct positions and distinct value sequence numbers
// all equal want.
func sinkGate(ctx context.Context, conn *pgx.Conn, table string, want int64) error {
	var rows, positions, seqs int64
	err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (partition, "offset")), count(DISTINCT substring(value FROM 1 FOR 16)) FROM `+
		pgx.Identifier{table}.Sanitize()).Scan(&rows, &positions, &seqs)
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	if rows != want || positions != want || seqs != want {
		return fmt.Errorf("gate: table %s holds %d rows, %d distinct positions, %d distinct sequence numbers; want %d of each", table, rows, positions, seqs, want)
	}
	return nil
}

// sinkCase is issue 16's performance case.
func sinkCase(r int64) Case {
	batch := sink.DefaultMaxBatchRecords
	return Case{
		Name: "sink-postgres", Title: "Kafka -> PostgreSQL: exactly-once sink vs at-least-once pgx sink vs COPY (pgx rows; binary, pre-encoded), 100 B values, 6 partitions",
		Settings: fmt.Sprintf("Input written in transactions of 10000 records, read read_committed into an append table (sink.AppendTableSQL: no index) of a fresh local PostgreSQL per run (processes backend, fsync off). "+
			"postgres/sink: sink.AppendHandler (COPY per batch), WithMaxBatchRecords %d, defaults otherwise (offsets fenced in the same transaction, mirrored to the group). "+
			"At-least-once: the same handler and batching (%d records or %v after the first), one DB transaction per batch, then a synchronous Kafka offset commit. "+
			"pgx CopyFrom: the same number of rows of the same shape built in memory as pgx rows, one CopyFrom in one transaction (no Kafka). "+
			"Baseline, binary COPY: the same rows encoded in PostgreSQL's binary COPY format before the clock (as sink.AppendHandler encodes them), sent in one COPY in one transaction: the database's own limit. "+
			"Gate: rows, distinct (partition, offset) and distinct value sequence numbers all equal the records.", batch, batch, sink.DefaultBatchInterval),
		Kind: KindConsume, Partitions: 6, RecordSize: 100, Records: 2 * r, Reference: "at-least-once pgx sink",
		Sides: []Side{
			newSinkSide("eoskit postgres/sink", client.KindSinkEOS, client.ImplEoskit, batch),
			newSinkSide("at-least-once pgx sink", client.KindSinkALO, client.ImplFranz, batch),
			newSinkSide("pgx CopyFrom", client.KindSinkCopy, client.ImplFranz, batch),
			newSinkSide("binary COPY, pre-encoded", client.KindSinkRaw, client.ImplFranz, batch),
		},
	}
}
