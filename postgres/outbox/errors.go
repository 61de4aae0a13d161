package outbox

import (
	"errors"
	"fmt"
)

var (
	// ErrNotLogical reports a server whose wal_level is not logical: no
	// replication slot can decode its WAL. Set wal_level = logical (ALTER
	// SYSTEM SET wal_level = logical, or -c wal_level=logical) and restart
	// PostgreSQL; also make sure max_replication_slots and
	// max_wal_senders leave room for the relay.
	ErrNotLogical = errors.New("postgresql: wal_level is not logical")

	// ErrSlotActive reports that another connection (another relay) is
	// streaming from the slot. The relay waits and retries with backoff;
	// GetStatus reports it in Status.SlotActive.
	ErrSlotActive = errors.New("replication slot is in use by another connection")

	// ErrSlotMissing reports a slot that does not exist while
	// WithCreateSlot(false) forbids creating it: run Migrate (eosctl outbox
	// init) first.
	ErrSlotMissing = errors.New("replication slot does not exist")

	// ErrSlotLost reports a slot PostgreSQL invalidated (wal_status lost,
	// for example after max_slot_wal_keep_size removed WAL it still
	// needed): the WAL between its position and now is gone and messages
	// written then can no longer be relayed. Drop the slot and create it
	// again (eosctl outbox init), after deciding what to do about the gap.
	ErrSlotLost = errors.New("replication slot invalidated: WAL it needed was removed")

	// ErrBadMessage reports an outbox message the relay cannot decode (a
	// logical message with the relay's prefix whose payload is not the
	// documented JSON, or a row without a topic). Run stops: skipping it
	// would lose it. Fix the writer.
	ErrBadMessage = errors.New("undecodable outbox message")
)

// WalLevelError reports the server's wal_level. It matches ErrNotLogical.
type WalLevelError struct{ Level string }

func (e *WalLevelError) Error() string {
	return fmt.Sprintf("outbox: wal_level is %q, the relay needs logical: run ALTER SYSTEM SET wal_level = logical (or start postgres with -c wal_level=logical) and restart PostgreSQL", e.Level)
}

// Is reports ErrNotLogical.
func (e *WalLevelError) Is(target error) bool { return target == ErrNotLogical }
