package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/eoskit/eoskit"
)

// MigrationSQL returns the DDL of the outbox table and its publication
// (inserts only: deleting relayed rows never reaches the relay), for your
// own migrations. The replication slot is not in it: Migrate or the relay
// creates it. With WithLogicalMessages there is no table: the publication
// still exists (pgoutput needs one) but publishes no table. It returns ""
// for invalid options (Migrate reports them).
func MigrationSQL(opts ...Option) string {
	c := newConfig(opts)
	p := eoskit.NewProblems("outbox")
	c.validateDB(p)
	if p.Err() != nil {
		return ""
	}
	return migrationSQL(&c)
}

func migrationSQL(c *config) string {
	pub := pgx.Identifier{c.publication}.Sanitize()
	if c.logical {
		return fmt.Sprintf("CREATE PUBLICATION %s;\n", pub)
	}
	t := tableIdent(c.table).Sanitize()
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    key bytea,
    value bytea,
    headers jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE PUBLICATION %s FOR TABLE %s WITH (publish = 'insert');
`, t, pub, t)
}

// Migrate creates the outbox table, the publication and the replication
// slot (pgoutput) when they are missing; it is idempotent. dsn is an
// ordinary connection string (a role allowed to create replication slots:
// REPLICATION or superuser). It fails with an error matching ErrNotLogical
// when the server's wal_level is not logical, saying how to fix it.
func Migrate(ctx context.Context, dsn string, opts ...Option) error {
	c := newConfig(opts)
	p := eoskit.NewProblems("outbox")
	c.validateDB(p)
	if err := p.Err(); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("outbox: migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := checkWalLevel(ctx, conn); err != nil {
		return err
	}
	if !c.logical {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
    id bigserial PRIMARY KEY, topic text NOT NULL, key bytea, value bytea, headers jsonb,
    created_at timestamptz NOT NULL DEFAULT now())`, tableIdent(c.table).Sanitize())); err != nil {
			return fmt.Errorf("outbox: migrate: create table %s: %w", c.table, err)
		}
	}
	var havePub bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", c.publication).Scan(&havePub); err != nil {
		return fmt.Errorf("outbox: migrate: look up publication %s: %w", c.publication, err)
	}
	if !havePub {
		q := fmt.Sprintf("CREATE PUBLICATION %s", pgx.Identifier{c.publication}.Sanitize())
		if !c.logical {
			q += fmt.Sprintf(" FOR TABLE %s WITH (publish = 'insert')", tableIdent(c.table).Sanitize())
		}
		if _, err := conn.Exec(ctx, q); err != nil && !isDuplicate(err) {
			return fmt.Errorf("outbox: migrate: create publication %s: %w", c.publication, err)
		}
	}
	if _, err := ensureSlot(ctx, conn, c.slot, true); err != nil {
		return err
	}
	return nil
}

// checkWalLevel fails with a *WalLevelError unless wal_level is logical.
func checkWalLevel(ctx context.Context, conn *pgx.Conn) error {
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("outbox: read wal_level: %w", err)
	}
	if level != "logical" {
		return &WalLevelError{Level: level}
	}
	return nil
}

// ensureSlot makes sure the slot exists (creating it with pgoutput when
// create is true) and returns whether it was created.
func ensureSlot(ctx context.Context, conn *pgx.Conn, slot string, create bool) (bool, error) {
	var plugin, status string
	err := conn.QueryRow(ctx, "SELECT plugin, coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&plugin, &status)
	switch {
	case err == nil:
		if plugin != "pgoutput" {
			return false, fmt.Errorf("outbox: slot %q decodes with %q, not pgoutput: %w: use another slot name (WithSlot), or drop that slot", slot, plugin, eoskit.ErrInvalidOption)
		}
		if status == "lost" {
			return false, fmt.Errorf("outbox: slot %q: %w", slot, ErrSlotLost)
		}
		return false, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return false, fmt.Errorf("outbox: look up slot %q: %w", slot, err)
	case !create:
		return false, fmt.Errorf("outbox: slot %q: %w: run Migrate (eosctl outbox init) or allow WithCreateSlot(true)", slot, ErrSlotMissing)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot); err != nil && !isDuplicate(err) {
		return false, fmt.Errorf("outbox: create slot %q: %w", slot, err)
	}
	return true, nil
}

// isDuplicate reports SQLSTATE 42710 duplicate_object (a concurrent
// Migrate created it first).
func isDuplicate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42710" || pe.Code == "23505")
}
