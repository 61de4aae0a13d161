package sink

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eoskit/eoskit"
)

// SchemaSQL is the migration for the default table names, for users who
// run their own migration tool (Schema returns it for other names). It is
// idempotent.
const SchemaSQL = `CREATE TABLE IF NOT EXISTS "eoskit_offsets" (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    next_offset    bigint      NOT NULL, -- next offset to consume; -1: none committed yet
    owner_epoch    bigint      NOT NULL, -- bumped by every assignment: the fence
    owner          text        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
CREATE TABLE IF NOT EXISTS "eoskit_dead_letters" (
    id               bigserial   PRIMARY KEY,
    consumer_group   text        NOT NULL,
    topic            text        NOT NULL,
    partition        integer     NOT NULL,
    "offset"         bigint      NOT NULL,
    key              bytea,
    value            bytea,
    headers          jsonb       NOT NULL,
    error            text        NOT NULL,
    record_time      timestamptz,
    dead_lettered_at timestamptz NOT NULL DEFAULT now()
);
`

// quoteTable quotes a validated "table" or "schema.table".
func quoteTable(name string) string { return pgx.Identifier(strings.Split(name, ".")).Sanitize() }

// Schema returns the migration for the table names in opts (WithOffsetsTable,
// WithDeadLetterTable; other options are ignored).
func Schema(opts ...Opt) (string, error) {
	c := defaultConfig()
	for _, o := range opts {
		o.apply(&c)
	}
	if c.deadLetter == "" {
		c.deadLetter = DefaultDeadLetterTable
	}
	p := eoskit.NewProblems("sink")
	c.validateTables(p)
	if err := p.Err(); err != nil {
		return "", err
	}
	s := strings.Replace(SchemaSQL, `"eoskit_offsets"`, quoteTable(c.offsetsTable), 1)
	return strings.Replace(s, `"eoskit_dead_letters"`, quoteTable(c.deadLetter), 1), nil
}

// Migrate creates the offsets and dead-letter tables if they do not exist
// (Schema's SQL, in one transaction). It is safe to run at every start and
// from several sinks at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...Opt) error {
	sql, err := Schema(opts...)
	if err != nil {
		return err
	}
	if pool == nil {
		return fmt.Errorf("sink: migrate: pool is nil: %w", eoskit.ErrInvalidOption)
	}
	// Concurrent CREATE TABLE IF NOT EXISTS can still collide on the type
	// catalog: serialise migrations with an advisory lock.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7310593254)"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql)
		return err
	})
	if err != nil {
		return fmt.Errorf("sink: migrate: %w", err)
	}
	return nil
}

// statements are the sink's SQL for its table names.
type statements struct {
	claim, commit, check, deadLetter string
}

func newStatements(offsets, deadLetter string) statements {
	o := quoteTable(offsets)
	s := statements{
		// One transaction per assignment: bump every assigned partition's
		// epoch (creating its row at -1) and read where it resumes.
		claim: `INSERT INTO ` + o + ` AS o (consumer_group, topic, partition, next_offset, owner_epoch, owner)
SELECT $1, x.t, x.p, -1, 1, $4 FROM unnest($2::text[], $3::integer[]) AS x(t, p)
ON CONFLICT (consumer_group, topic, partition)
DO UPDATE SET owner_epoch = o.owner_epoch + 1, owner = EXCLUDED.owner, updated_at = now()
RETURNING topic, partition, next_offset, owner_epoch`,
		// The fence: a row moves only while this sink's epoch is current and
		// the row is where this sink last left it.
		commit: `UPDATE ` + o + ` AS o SET next_offset = x.n, updated_at = now()
FROM unnest($2::text[], $3::integer[], $4::bigint[], $5::bigint[], $6::bigint[]) AS x(t, p, prev, n, e)
WHERE o.consumer_group = $1 AND o.topic = x.t AND o.partition = x.p
  AND o.owner_epoch = x.e AND o.next_offset = x.prev
RETURNING o.topic, o.partition`,
		check: `SELECT o.topic, o.partition, o.next_offset, o.owner_epoch FROM ` + o + ` AS o
JOIN unnest($2::text[], $3::integer[]) AS x(t, p) ON o.topic = x.t AND o.partition = x.p
WHERE o.consumer_group = $1`,
	}
	if deadLetter != "" {
		s.deadLetter = `INSERT INTO ` + quoteTable(deadLetter) +
			` (consumer_group, topic, partition, "offset", key, value, headers, error, record_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	}
	return s
}
