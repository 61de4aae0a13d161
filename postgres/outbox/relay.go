package outbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/eoskit/eoskit"
)

// Log keys the relay adds to eoskit's.
const (
	LogKeySlot = "slot"
	LogKeyLSN  = "lsn"
)

// Stats are a relay's counters since NewRelay.
type Stats struct {
	Relayed   int64 // messages produced in committed Kafka transactions (at-least-once: acknowledged)
	KafkaTxns int64 // committed Kafka transactions that carried messages
	IdleTxns  int64 // position-only Kafka transactions committed while idle (they detect a fence)
	Skipped   int64 // messages at or below the stored position (already in Kafka)
	DBTxns    int64 // database transactions with messages relayed (or skipped) in full
	SplitTxns int64 // database transactions split over several Kafka transactions (WithMaxTxnMessages)
	Sessions  int64 // replication sessions started (1 + reconnections)
	SlotBusy  int64 // session attempts refused because another connection held the slot

	// LastCommitLSN is the commit LSN of the last message committed to
	// Kafka; Position its full position.
	LastCommitLSN pglogrepl.LSN
	Position      Position
	// ConfirmedLSN is the flush LSN last confirmed to PostgreSQL.
	ConfirmedLSN pglogrepl.LSN
}

// Relay moves committed outbox messages from PostgreSQL to Kafka. Build it
// with NewRelay; Run it once. Stats and Ready are safe to call from any
// goroutine.
type Relay struct {
	conn eoskit.Conn
	dsn  string
	cfg  config

	running atomic.Bool
	ready   atomic.Bool

	mu    sync.Mutex
	stats Stats
}

// NewRelay validates everything at once and returns a relay for conn (the
// Kafka cluster) and dsn (the PostgreSQL database: an ordinary connection
// string; the relay adds replication=database for its replication
// connection). It connects to nothing: Run does. Errors are an
// *eoskit.OptionError.
func NewRelay(conn eoskit.Conn, dsn string, opts ...Option) (*Relay, error) {
	c := newConfig(opts)
	p := eoskit.NewProblems("outbox")
	p.Add(conn.Validate())
	if dsn == "" {
		p.Addf("empty DSN: pass a PostgreSQL connection string (postgres://user@host:5432/db)")
	} else if _, err := pgconn.ParseConfig(dsn); err != nil {
		p.Addf("DSN: %v", err)
	}
	c.validateRelay(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &Relay{conn: conn, dsn: dsn, cfg: c}, nil
}

// Ready reports whether the relay is replicating: its producer is
// initialised, its position read and the slot's stream started.
func (r *Relay) Ready() bool { return r.ready.Load() }

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

func (r *Relay) update(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

// ErrRunning reports a second call of Run on the same Relay.
var ErrRunning = errors.New("outbox: Run is already running on this relay")

// Run relays until ctx is done (it returns nil) or a failure no retry can
// fix: an error matching eoskit.ErrFenced (another relay initialised the
// same transactional ID: this one is a zombie and stops), ErrNotLogical,
// ErrSlotLost, ErrSlotMissing, ErrBadMessage, eoskit.ErrAccessDenied or
// eoskit.ErrInvalidOption. Any other failure (a lost connection, a broker
// or PostgreSQL restart, a Kafka commit of unknown outcome, the slot held
// by another relay: ErrSlotActive) ends the session: Run logs it, waits
// (WithRetryBackoff, doubling) and starts a new session from the positions
// topic, so nothing is lost or sent twice.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer r.running.Store(false)
	log := r.cfg.logger.With(LogKeySlot, r.cfg.slot)
	backoff := r.cfg.retryBackoff
	for {
		progressed, err := r.session(ctx)
		r.ready.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if fatal(err) {
			return err
		}
		if progressed {
			backoff = r.cfg.retryBackoff
		}
		if errors.Is(err, ErrSlotActive) {
			r.update(func(s *Stats) { s.SlotBusy++ })
			log.Info("outbox relay waits: the slot is in use by another connection", eoskit.LogKeyErr, err, "retry_in", backoff)
		} else {
			log.Warn("outbox relay session ended; starting a new one", eoskit.LogKeyErr, err, "retry_in", backoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.cfg.maxBackoff)
	}
}

func fatal(err error) bool {
	for _, target := range []error{eoskit.ErrFenced, ErrNotLogical, ErrSlotLost, ErrSlotMissing, ErrBadMessage,
		eoskit.ErrAccessDenied, eoskit.ErrInvalidOption, ErrPublicationMissing} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// ErrPublicationMissing reports that the publication the relay decodes
// does not exist: run Migrate (eosctl outbox init), or create it from
// MigrationSQL.
var ErrPublicationMissing = errors.New("publication does not exist")
