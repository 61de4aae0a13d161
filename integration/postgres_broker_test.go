//go:build integration

package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eoskit/eoskit/integration"
)

// TestPostgresFaults runs one server (on the backend $EOSKIT_BACKEND picks,
// as the Kafka suites) with logical replication on, and checks what the
// fault methods do to clients and to committed data.
func TestPostgresFaults(t *testing.T) {
	pg := integration.StartPostgresT(t, integration.WithLogicalReplication())
	ctx := integration.Context(t, 3*time.Minute)
	t.Logf("postgres on %s: %s", pg.Backend(), pg.DSN())

	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())

	var walLevel string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		t.Fatal(err)
	}
	if walLevel != "logical" {
		t.Fatalf("wal_level = %q, want logical", walLevel)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE survivors (id int PRIMARY KEY, v text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO survivors VALUES (1, 'committed before the kill')"); err != nil {
		t.Fatal(err)
	}
	// An open transaction at the kill: its row must not survive.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO survivors VALUES (2, 'never committed')"); err != nil {
		t.Fatal(err)
	}

	var backendPID int
	if err := tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backendPID); err != nil {
		t.Fatal(err)
	}

	if err := pg.Kill(ctx); err != nil {
		t.Fatalf("kill: %v", err)
	}
	// On processes the backend serving tx is a process of this machine, in
	// a session of its own: Kill must have ended it too, or it could still
	// commit tx (it did, once, in CI).
	if pg.Backend() == integration.BackendProcesses && integration.ProcessRunning(backendPID) {
		t.Fatalf("backend process %d of the killed server still runs", backendPID)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("commit on a killed server succeeded")
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = pgx.Connect(cctx, pg.DSN())
	cancel()
	if err == nil {
		t.Fatal("connected to a killed server")
	}

	if err := pg.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	conn2, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	defer conn2.Close(context.Background())
	var ids []int
	rows, err := conn2.Query(ctx, "SELECT id FROM survivors ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != 1 {
		t.Fatalf("rows after kill and restart: ids %v, want [1] (the committed row only)", ids)
	}

	// Stop is a clean shutdown; Restart brings the same data back.
	if err := pg.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := conn2.Ping(ctx); err == nil {
		t.Fatal("ping on a stopped server succeeded")
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatalf("restart after stop: %v", err)
	}
	conn3, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatalf("connect after second restart: %v", err)
	}
	defer conn3.Close(context.Background())
	var n int
	if err := conn3.QueryRow(ctx, "SELECT count(*) FROM survivors").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("rows after stop and restart: %d, want 1", n)
	}
	// A logical replication slot can be created (pgoutput is there).
	var slot string
	if err := conn3.QueryRow(ctx, "SELECT slot_name FROM pg_create_logical_replication_slot('eoskit_test', 'pgoutput')").Scan(&slot); err != nil {
		t.Fatalf("create a logical slot: %v", err)
	}
	if slot != "eoskit_test" {
		t.Fatalf("slot %q", slot)
	}
}

// TestPostgresWithoutLogical checks that the default server is not logical
// (the option is what turns it on) and that two servers run side by side.
func TestPostgresWithoutLogical(t *testing.T) {
	a := integration.StartPostgresT(t)
	b := integration.StartPostgresT(t)
	ctx := integration.Context(t, time.Minute)
	if a.DSN() == b.DSN() {
		t.Fatalf("two servers share %s", a.DSN())
	}
	for _, pg := range []*integration.Postgres{a, b} {
		conn, err := pgx.Connect(ctx, pg.DSN())
		if err != nil {
			t.Fatal(err)
		}
		var walLevel string
		err = conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel)
		_ = conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if walLevel != "replica" {
			t.Fatalf("%s: wal_level = %q, want the default replica", pg.DSN(), walLevel)
		}
	}
}
