package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// Ready-made handlers for two common tables (what `eosctl sink postgres`
// runs): append, one row per record; upsert, one row per key.

// AppendTableSQL returns the CREATE TABLE IF NOT EXISTS statement of an
// append table: one row per record, with no unique constraint on the
// position, so that a duplicate would be visible.
func AppendTableSQL(table string) (string, error) {
	if !validTable(table) {
		return "", tableErr(table)
	}
	return `CREATE TABLE IF NOT EXISTS ` + quoteTable(table) + ` (
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    key         bytea,
    value       bytea,
    headers     jsonb       NOT NULL,
    "timestamp" timestamptz
)`, nil
}

// UpsertTableSQL returns the CREATE TABLE IF NOT EXISTS statement of an
// upsert table: one row per record key, holding the latest record's value
// and position.
func UpsertTableSQL(table string) (string, error) {
	if !validTable(table) {
		return "", tableErr(table)
	}
	return `CREATE TABLE IF NOT EXISTS ` + quoteTable(table) + ` (
    key         bytea       PRIMARY KEY,
    value       bytea,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    headers     jsonb       NOT NULL,
    "timestamp" timestamptz
)`, nil
}

func tableErr(table string) error {
	p := eoskit.NewProblems("sink")
	p.Addf("table %q: use a table name of letters, digits and underscores, optionally schema-qualified", table)
	return p.Err()
}

// CreateTable runs sql (AppendTableSQL or UpsertTableSQL) on pool.
func CreateTable(ctx context.Context, pool *pgxpool.Pool, sql string) error {
	if _, err := pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("sink: create table: %w", err)
	}
	return nil
}

// AppendHandler inserts one row per record into an append table (COPY).
// On a table of AppendTableSQL's column types (checked on the first
// batch) the rows go in PostgreSQL's binary COPY format, encoded straight
// from the records; a table whose columns have other types (varchar
// instead of text, json instead of jsonb, ...) is written through
// pgx.CopyFrom's conversions instead.
func AppendHandler(table string) (Handler, error) {
	if !validTable(table) {
		return nil, tableErr(table)
	}
	return newAppendCopy(table).write, nil
}

// ErrNoKey reports a record without a key handed to UpsertHandler: it
// cannot be upserted (dead-letter it, or key the topic's records).
var ErrNoKey = errors.New("record has no key: an upsert table needs one")

// UpsertHandler writes every record by key into an upsert table: the last
// record of a key (by offset, within its partition) wins.
func UpsertHandler(table string) (Handler, error) {
	if !validTable(table) {
		return nil, tableErr(table)
	}
	sql := `INSERT INTO ` + quoteTable(table) + ` AS t (key, value, topic, partition, "offset", headers, "timestamp")
SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::text[], $4::integer[], $5::bigint[], $6::jsonb[], $7::timestamptz[])
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, topic = EXCLUDED.topic, partition = EXCLUDED.partition,
    "offset" = EXCLUDED."offset", headers = EXCLUDED.headers, "timestamp" = EXCLUDED."timestamp"`
	return func(ctx context.Context, tx pgx.Tx, recs []*kgo.Record) error {
		// One row per key per statement (ON CONFLICT cannot touch a row
		// twice): keep each key's last record.
		last := make(map[string]int, len(recs))
		for i, r := range recs {
			if r.Key == nil {
				return &eoskit.PartitionError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: ErrNoKey}
			}
			last[string(r.Key)] = i
		}
		n := len(last)
		keys, values := make([][]byte, 0, n), make([][]byte, 0, n)
		topics, parts, offs := make([]string, 0, n), make([]int32, 0, n), make([]int64, 0, n)
		headers, times := make([]string, 0, n), make([]*time.Time, 0, n)
		for i, r := range recs {
			if last[string(r.Key)] != i {
				continue
			}
			keys, values = append(keys, r.Key), append(values, r.Value)
			topics, parts, offs = append(topics, r.Topic), append(parts, r.Partition), append(offs, r.Offset)
			headers, times = append(headers, string(HeadersJSON(r.Headers))), append(times, nullTime(r.Timestamp))
		}
		_, err := tx.Exec(ctx, sql, keys, values, topics, parts, offs, headers, times)
		return err
	}, nil
}
