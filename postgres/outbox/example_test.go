package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/postgres/outbox"
)

// The DDL to copy into your own migrations (Migrate runs it and also
// creates the slot).
func ExampleMigrationSQL() {
	fmt.Print(outbox.MigrationSQL())
	// Output:
	// CREATE TABLE IF NOT EXISTS "eoskit_outbox" (
	//     id bigserial PRIMARY KEY,
	//     topic text NOT NULL,
	//     key bytea,
	//     value bytea,
	//     headers jsonb,
	//     created_at timestamptz NOT NULL DEFAULT now()
	// );
	// CREATE PUBLICATION "eoskit_outbox_pub" FOR TABLE "eoskit_outbox" WITH (publish = 'insert');
}

// A service writes its change and its message in one transaction.
func ExampleWrite() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@127.0.0.1:5432/shop")
	if err != nil {
		log.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback(ctx) // a rolled-back message is never relayed
	if _, err := tx.Exec(ctx, "UPDATE orders SET state = 'paid' WHERE id = $1", 42); err != nil {
		log.Fatal(err)
	}
	if err := outbox.Write(ctx, tx, outbox.Message{Topic: "orders", Key: []byte("42"), Value: []byte(`{"state":"paid"}`)}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
}

// The relay: one per slot, with a stable transactional ID (the default
// derives it from the slot).
func ExampleNewRelay() {
	ctx := context.Background()
	dsn := "postgres://relay@127.0.0.1:5432/shop"
	if err := outbox.Migrate(ctx, dsn, outbox.WithSlot("shop_outbox")); err != nil {
		log.Fatal(err) // errors.Is(err, outbox.ErrNotLogical): set wal_level = logical
	}
	r, err := outbox.NewRelay(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}, dsn, outbox.WithSlot("shop_outbox"))
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Run(ctx); errors.Is(err, eoskit.ErrFenced) {
		log.Print("another relay took over this slot's transactional ID")
	}
}

// Options are validated once; every problem is reported.
func ExampleNewRelay_invalid() {
	_, err := outbox.NewRelay(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}, "postgres://127.0.0.1/db",
		outbox.WithSlot("Orders-Slot"), outbox.WithMaxTxnMessages(0))
	fmt.Println(errors.Is(err, eoskit.ErrInvalidOption))
	fmt.Println(err)
	// Output:
	// true
	// outbox: invalid options: WithSlot("Orders-Slot"): use 1 to 63 lower-case letters, digits and underscores (PostgreSQL's rule for slot names); WithMaxTxnMessages(0): use 1 or more
}
