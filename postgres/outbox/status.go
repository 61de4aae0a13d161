package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/eoskit/eoskit"
)

// Status is a slot's state in PostgreSQL and the relay's position in
// Kafka, for monitoring (eosctl outbox status).
type Status struct {
	Slot      string `json:"slot"`
	Active    bool   `json:"active"`     // a connection (a relay) is streaming from the slot
	ActivePID int32  `json:"active_pid"` // its server process ID (0 if none)

	CurrentLSN        pglogrepl.LSN `json:"current_lsn"`         // pg_current_wal_lsn()
	RestartLSN        pglogrepl.LSN `json:"restart_lsn"`         // the oldest WAL the slot retains
	ConfirmedFlushLSN pglogrepl.LSN `json:"confirmed_flush_lsn"` // what the relay confirmed
	// WALStatus is pg_replication_slots.wal_status: reserved, extended,
	// unreserved (max_slot_wal_keep_size is about to remove WAL the slot
	// needs) or lost (removed: the slot is invalid).
	WALStatus string `json:"wal_status"`
	// RetainedWALBytes is pg_current_wal_lsn() - restart_lsn: the WAL the
	// slot keeps on disk.
	RetainedWALBytes int64 `json:"retained_wal_bytes"`
	// LagBytes is pg_current_wal_lsn() - confirmed_flush_lsn: WAL written
	// after the relay's last confirmation.
	LagBytes int64 `json:"lag_bytes"`

	// Position is the position stored in the positions topic (zero, with
	// HasPosition false, if none: a new slot or WithAtLeastOnce).
	Position    Position `json:"position"`
	HasPosition bool     `json:"has_position"`
	// PositionAge is how long ago that position was committed.
	PositionAge time.Duration `json:"position_age"`
}

// GetStatus reads the slot's row in pg_replication_slots and the position
// stored in the positions topic (read_committed). dsn is an ordinary
// connection string. It returns an error matching ErrSlotMissing when the
// slot does not exist; options are the relay's (WithSlot,
// WithPositionsTopic), errors for them an *eoskit.OptionError. With
// WithAtLeastOnce, Kafka is not read.
func GetStatus(ctx context.Context, conn eoskit.Conn, dsn string, opts ...Option) (Status, error) {
	c := newConfig(opts)
	p := eoskit.NewProblems("outbox")
	if !c.atLeastOnce {
		p.Add(conn.Validate())
	}
	if dsn == "" {
		p.Addf("empty DSN: pass a PostgreSQL connection string (postgres://user@host:5432/db)")
	}
	c.validateRelay(p)
	if err := p.Err(); err != nil {
		return Status{}, err
	}
	st, err := slotStatus(ctx, dsn, c.slot)
	if err != nil {
		return st, err
	}
	if c.atLeastOnce {
		return st, nil
	}
	pos, ok, err := readPosition(ctx, conn, c.positionsTopic, c.slot)
	if err != nil {
		return st, err
	}
	st.Position, st.HasPosition = pos, ok
	if ok && !pos.At.IsZero() {
		st.PositionAge = time.Since(pos.At)
	}
	return st, nil
}

// slotStatus reads the slot's row.
func slotStatus(ctx context.Context, dsn, slot string) (Status, error) {
	st := Status{Slot: slot}
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return st, fmt.Errorf("outbox: status: connect to PostgreSQL: %w", err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	var restart, confirmed *pglogrepl.LSN
	var walStatus *string
	var pid *int32
	var retained, lag *int64
	err = db.QueryRow(ctx, `SELECT pg_current_wal_lsn(), restart_lsn, confirmed_flush_lsn, wal_status, active, active_pid,
    (pg_current_wal_lsn() - restart_lsn)::bigint, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint
  FROM pg_replication_slots WHERE slot_name = $1`, slot).
		Scan(&st.CurrentLSN, &restart, &confirmed, &walStatus, &st.Active, &pid, &retained, &lag)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("outbox: status: slot %q: %w: run eosctl outbox init (outbox.Migrate)", slot, ErrSlotMissing)
	}
	if err != nil {
		return st, fmt.Errorf("outbox: status: read slot %q: %w", slot, err)
	}
	if restart != nil {
		st.RestartLSN = *restart
	}
	if confirmed != nil {
		st.ConfirmedFlushLSN = *confirmed
	}
	if walStatus != nil {
		st.WALStatus = *walStatus
	}
	if pid != nil {
		st.ActivePID = *pid
	}
	if retained != nil {
		st.RetainedWALBytes = *retained
	}
	if lag != nil {
		st.LagBytes = *lag
	}
	return st, nil
}

// Status is GetStatus for this relay without reading Kafka: the slot's
// row in PostgreSQL and the position this relay last committed (zero,
// HasPosition false, before its first Kafka transaction in this process).
// Cheap enough for every metrics scrape.
func (r *Relay) Status(ctx context.Context) (Status, error) {
	st, err := slotStatus(ctx, r.dsn, r.cfg.slot)
	if err != nil {
		return st, err
	}
	if pos := r.Stats().Position; !pos.At.IsZero() {
		st.Position, st.HasPosition, st.PositionAge = pos, true, time.Since(pos.At)
	}
	return st, nil
}
