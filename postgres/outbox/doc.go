// Package outbox publishes messages from PostgreSQL to Kafka exactly once:
// the transactional outbox. A service writes its messages in the same
// database transaction as its own changes (Write); a Relay decodes the
// committed transactions from a logical replication slot (pgoutput,
// github.com/jackc/pglogrepl) and produces each one's messages in a Kafka
// transaction whose last record stores the relay's position.
//
// # Writing
//
//	tx, _ := pool.Begin(ctx)
//	_, _ = tx.Exec(ctx, "UPDATE orders SET state = 'paid' WHERE id = $1", id)
//	_ = outbox.Write(ctx, tx, outbox.Message{Topic: "orders", Key: []byte(id), Value: event})
//	_ = tx.Commit(ctx) // the message is relayed if and only if this commits
//
// The table (default DefaultTable) is plain SQL, so services in any
// language can write to it:
//
//	CREATE TABLE eoskit_outbox (id bigserial PRIMARY KEY, topic text NOT NULL,
//	    key bytea, value bytea, headers jsonb, created_at timestamptz NOT NULL DEFAULT now());
//	CREATE PUBLICATION eoskit_outbox_pub FOR TABLE eoskit_outbox WITH (publish = 'insert');
//
// headers is a JSON array [{"key":"k","value":"<base64>"}]. Only inserts
// are published: delete relayed rows whenever you like (for example
// DELETE FROM eoskit_outbox WHERE created_at < now() - interval '1 day'),
// the relay never sees it. Rows are relayed in commit order, and within
// a transaction in insert order; the id column plays no part (sequences
// are assigned at insert, not at commit, which is why polling by id skips
// rows).
//
// # Table or logical messages
//
// WithLogicalMessages(prefix) writes each message with
// pg_logical_emit_message(true, prefix, payload) instead: a transactional
// message in the WAL, decoded like a row, committed or rolled back with
// the transaction, and no table at all. The payload is the JSON object
// EncodeLogical writes:
//
//	{"topic":"orders","key":"<base64>"|null,"value":"<base64>"|null,"headers":[{"key":"k","value":"<base64>"}]}
//
// The trade-off: the table is inspectable and queryable (what was sent,
// when, by whom; a message can be found and replayed by hand) but it
// grows until rows are deleted, and deleted rows leave dead tuples for
// autovacuum. Logical messages leave nothing to bloat or clean up, but
// once the WAL is recycled they exist only in Kafka: you cannot SELECT
// them, and only a logical decoding client can read them at all. Writing
// a non-transactional message (pg_logical_emit_message(false, ...)) with
// the relay's prefix stops the relay with ErrBadMessage: it is sent even
// if its transaction rolls back.
//
// # Relaying exactly once
//
//	r, err := outbox.NewRelay(conn, dsn, outbox.WithSlot("orders_outbox"))
//	err = r.Run(ctx) // nil after ctx is cancelled; errors.Is(err, eoskit.ErrFenced) when another relay took over
//
// Each session of Run:
//
//  1. checks wal_level (ErrNotLogical says how to fix it), the
//     publication, and the slot (created with pgoutput unless
//     WithCreateSlot(false));
//  2. initialises the transactional producer (WithTransactionalID,
//     default DefaultTransactionalIDPrefix + slot): this fences an older
//     relay with the same ID, whose next transaction fails with
//     eoskit.ErrFenced, and aborts its open transaction;
//  3. reads the positions topic (WithPositionsTopic, compacted, created if
//     missing) read_committed to its end: the last position stored under
//     the slot's name;
//  4. starts replication (proto_version 1, no streaming of in-progress
//     transactions: only committed transactions arrive, in commit order)
//     at the slot's confirmed_flush_lsn. While another connection streams
//     from the slot PostgreSQL answers "replication slot ... is active":
//     the session ends with ErrSlotActive and Run retries with backoff,
//     logging it, so two relays never produce side by side;
//  5. produces the messages of back-to-back database transactions in one
//     Kafka transaction (each record carries PositionHeader, "LSN#index"),
//     the last record of which is the position of its last message
//     (commit LSN, index) in the positions topic, keyed by slot:
//     {"lsn":"0/16B3748","index":2,"complete":true,"at":"2026-01-02T15:04:05Z"}.
//     The Kafka transaction commits when no further database transaction
//     arrives within 2 ms, after WithBatchInterval, or at
//     WithMaxTxnMessages messages; a database transaction with more is
//     split over several Kafka transactions ("complete":false on all but
//     the last);
//  6. after the Kafka commit, and only then, confirms the end LSN of the
//     last database transaction it completed to PostgreSQL (a standby status update whose flush position
//     is set explicitly: pglogrepl's zero flush position would default to
//     the write position and confirm WAL never delivered). When idle it
//     also confirms the server's sent position from its keepalives, so a
//     busy database with an idle outbox does not pin WAL.
//
// On restart the slot may resend transactions the previous session
// committed to Kafka but had not confirmed yet: every message at or below
// the stored position is skipped (Stats.Skipped), including the first
// part of a split transaction, so that a restart between two parts
// resumes at the next index, never re-sends and never skips. Several
// messages share one commit LSN; the index tells them apart.
//
// When idle for WithStandbyTimeout the relay commits a transaction holding
// only its position again (Stats.IdleTxns): an idle relay that a newer
// one fenced learns it within that time and releases the slot.
//
// Any other failure (a connection lost, PostgreSQL or a broker restarted,
// a Kafka commit of unknown outcome) ends the session; the next one
// starts from the positions topic again. Run returns only for ctx (nil)
// or a failure no retry fixes (see Run).
//
// WithAtLeastOnce is a control for tests and benchmarks, NOT exactly-once:
// a plain idempotent producer, the end LSN confirmed after the messages
// are acknowledged, no positions topic. A relay killed between the
// acknowledgement and the confirmation sends those messages again.
//
// # WAL retention
//
// A slot keeps every WAL segment from its restart_lsn on, whether or not
// anything reads it. A relay that is stopped, stuck or failing (say on a
// message it cannot produce) makes the slot never advance, and the WAL
// grows until the disk is full and PostgreSQL stops. Bound it with
// max_slot_wal_keep_size (PostgreSQL 13+): past that much retained WAL
// the server invalidates the slot (wal_status "unreserved", then "lost")
// instead of filling the disk; a lost slot cannot be resumed
// (ErrSlotLost) and messages written since are never relayed unless you
// recover them by hand (table mode: they are still in the table). Watch
// GetStatus (eosctl outbox status): RetainedWALBytes
// (pg_current_wal_lsn() - restart_lsn), LagBytes (to
// confirmed_flush_lsn), WALStatus, and the stored Kafka position's age.
// Drop the slot of a relay you retire (SELECT
// pg_drop_replication_slot('name')).
//
// # Requirements
//
// wal_level = logical, a free replication slot and WAL sender
// (max_replication_slots, max_wal_senders), a role with REPLICATION (or
// superuser) for the relay and for Migrate, and Kafka transactions
// (transaction.version 1 or 2) for the relay's transactional ID.
//
// # Concurrency
//
// Writer, Write and WriteSQL are safe for concurrent use. A Relay runs
// once (Run returns ErrRunning if called again while running); Stats and
// Ready are safe from any goroutine. Run one relay per slot: a second one
// fences the first (by transactional ID) and waits for the slot.
package outbox
