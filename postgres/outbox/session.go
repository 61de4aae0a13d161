package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/producer"
)

// PositionHeader is the header every relayed record carries: its position
// "LSN#index" (for example "0/16B3748#2"), so that a reader can check
// order and uniqueness.
const PositionHeader = "eoskit-outbox-position"

// session is one replication session: a producer (transactional, or
// idempotent for WithAtLeastOnce), the stored position, and the slot's
// stream. Any failure ends it; Run starts a new one.
type session struct {
	r    *Relay
	log  *slog.Logger
	repl *pgconn.PgConn
	dec  *decoder

	txp *producer.TxProducer // exactly-once
	ap  *producer.Producer   // at-least-once

	pos       Position      // last position committed to Kafka
	confirmed pglogrepl.LSN // flush LSN confirmed to PostgreSQL

	// The open batch: a Kafka transaction (exactly-once) or buffered
	// records (at-least-once) holding the messages of one or more
	// database transactions, the last of which may still be open.
	tx         *producer.Tx
	txCount    int
	buf        []*kgo.Record
	txBegan    time.Time
	lastLSN    pglogrepl.LSN // the batch's last message
	lastIdx    int
	pendingEnd pglogrepl.LSN // end LSN of the last database transaction completed in the batch
	split      bool          // the current database transaction spans several batches
	dbSeen     bool          // the current database transaction had messages (relayed or skipped)
	lastKTxn   time.Time
	progress   bool
}

// slotInfo is the slot's row in pg_replication_slots.
type slotInfo struct {
	confirmed pglogrepl.LSN
	active    bool
	activePID int32
}

func (r *Relay) prepareDB(ctx context.Context) (slotInfo, error) {
	conn, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return slotInfo{}, fmt.Errorf("outbox: connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := checkWalLevel(ctx, conn); err != nil {
		return slotInfo{}, err
	}
	var havePub bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", r.cfg.publication).Scan(&havePub); err != nil {
		return slotInfo{}, fmt.Errorf("outbox: look up publication %q: %w", r.cfg.publication, err)
	}
	if !havePub {
		return slotInfo{}, fmt.Errorf("outbox: publication %q: %w: run outbox.Migrate (eosctl outbox init) or apply MigrationSQL", r.cfg.publication, ErrPublicationMissing)
	}
	if _, err := ensureSlot(ctx, conn, r.cfg.slot, r.cfg.createSlot); err != nil {
		return slotInfo{}, err
	}
	var si slotInfo
	var pid *int32
	if err := conn.QueryRow(ctx, "SELECT confirmed_flush_lsn, active, active_pid FROM pg_replication_slots WHERE slot_name = $1", r.cfg.slot).
		Scan(&si.confirmed, &si.active, &pid); err != nil {
		return slotInfo{}, fmt.Errorf("outbox: read slot %q: %w", r.cfg.slot, err)
	}
	if pid != nil {
		si.activePID = *pid
	}
	return si, nil
}

func (r *Relay) session(ctx context.Context) (progressed bool, err error) {
	s := &session{r: r, log: r.cfg.logger.With(LogKeySlot, r.cfg.slot), dec: newDecoder(&r.cfg)}
	defer s.close(ctx)
	si, err := r.prepareDB(ctx)
	if err != nil {
		return false, err
	}
	if si.active {
		s.log.Info("outbox relay: the slot is held by another connection; fencing its transactional ID, then waiting for the slot",
			"active_pid", si.activePID)
	}
	if err := s.openKafka(ctx); err != nil {
		return false, err
	}
	if err := s.startReplication(ctx, si.confirmed); err != nil {
		return false, err
	}
	r.update(func(st *Stats) {
		st.Sessions++
		st.ConfirmedLSN = s.confirmed
		st.Position = s.pos
		st.LastCommitLSN = s.pos.LSN
	})
	r.ready.Store(true)
	s.log.Info("outbox relay ready", LogKeyLSN, s.confirmed.String(), "position", s.pos.String())
	err = s.loop(ctx)
	return s.progress, err
}

func (s *session) openKafka(ctx context.Context) error {
	c := &s.r.cfg
	popts := []producer.Opt{producer.WithLogger(c.logger), producer.WithHooks(c.hooks...)}
	if c.atLeastOnce {
		p, err := producer.New(s.r.conn, popts...)
		if err != nil {
			return fmt.Errorf("outbox: producer: %w", err)
		}
		s.ap = p
		return nil
	}
	if err := ensurePositionsTopic(ctx, s.r.conn, c.positionsTopic); err != nil {
		return err
	}
	// Initialising the transactional ID fences an older relay and aborts
	// its open transaction, so the positions topic can be read to its end.
	// A produce right after a commit can be answered CONCURRENT_TRANSACTIONS
	// while the previous transaction's markers are written (transaction
	// version 2); franz-go retries it after a metadata refresh, which its
	// default MetadataMinAge (5 s) delays: the relay refreshes sooner.
	conn := s.r.conn
	conn.KgoOpts = append([]kgo.Opt{kgo.MetadataMinAge(100 * time.Millisecond)}, conn.KgoOpts...)
	txp, err := producer.NewTransactional(ctx, conn, c.txnID, popts...)
	if err != nil {
		return fmt.Errorf("outbox: transactional producer %q: %w", c.txnID, err)
	}
	s.txp = txp
	pos, _, err := readPosition(ctx, s.r.conn, c.positionsTopic, c.slot)
	if err != nil {
		return err
	}
	s.pos = pos
	return nil
}

func (s *session) startReplication(ctx context.Context, start pglogrepl.LSN) error {
	c := &s.r.cfg
	pc, err := pgconn.ParseConfig(s.r.dsn)
	if err != nil {
		return fmt.Errorf("outbox: DSN: %w: %w", eoskit.ErrInvalidOption, err)
	}
	pc.RuntimeParams["replication"] = "database"
	repl, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("outbox: replication connection: %w", err)
	}
	s.repl = repl
	args := []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", c.publication)}
	if c.logical {
		args = append(args, "messages 'true'")
	}
	if err := pglogrepl.StartReplication(ctx, repl, c.slot, start, pglogrepl.StartReplicationOptions{PluginArgs: args}); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55006" { // object_in_use: "replication slot ... is active for PID n"
			return fmt.Errorf("outbox: start replication on slot %q: %w: %s", c.slot, ErrSlotActive, pe.Message)
		}
		return fmt.Errorf("outbox: start replication on slot %q at %s: %w", c.slot, start, err)
	}
	s.confirmed = start
	return nil
}

func (s *session) close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if s.txp != nil {
		_ = s.txp.Close(cctx) // aborts an open transaction
	}
	if s.ap != nil {
		_ = s.ap.Close(cctx)
	}
	if s.repl != nil {
		_ = s.repl.Close(cctx)
	}
}

// sendStatus confirms s.confirmed as written, flushed and applied. Every
// field is set explicitly: pglogrepl would replace a zero flush position
// with the write position.
func (s *session) sendStatus(ctx context.Context) error {
	l := s.confirmed
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: l, WALFlushPosition: l, WALApplyPosition: l, ClientTime: time.Now(),
	})
	if err != nil {
		return fmt.Errorf("outbox: send standby status: %w", err)
	}
	s.r.update(func(st *Stats) { st.ConfirmedLSN = l })
	return nil
}

// confirmAfterFinish is when to confirm the flush LSN after messages
// were relayed: at once when exactly-once (the Kafka commit is done), at
// the standby interval in at-least-once mode (as Kafka Connect flushes
// source offsets on an interval): a relay that dies before then sends
// everything since its last confirmation again.
func (s *session) confirmAfterFinish(next time.Time) time.Time {
	if s.ap != nil {
		return next
	}
	return time.Time{}
}

func (s *session) idle() bool { return !s.dec.inTxn && !s.open() }

// open reports a batch with messages.
func (s *session) open() bool { return s.txCount > 0 }

// batchGap is how long the relay waits for the next database transaction
// before it commits the open batch: back-to-back transactions share a
// Kafka transaction, a lone one waits at most this long.
const batchGap = 2 * time.Millisecond

func (s *session) loop(ctx context.Context) error {
	standby := s.r.cfg.standbyTimeout
	next := time.Now().Add(standby)
	s.lastKTxn = time.Now()
	for {
		now := time.Now()
		if s.open() && !s.dec.inTxn && !now.Before(s.txBegan.Add(s.r.cfg.batchInterval)) {
			if err := s.finish(ctx); err != nil {
				return err
			}
			next = s.confirmAfterFinish(next)
		}
		if !now.Before(next) {
			if s.txp != nil && s.idle() && now.Sub(s.lastKTxn) >= standby {
				// Idle: a position-only transaction finds out at once
				// whether a newer relay fenced this one.
				if err := s.probe(ctx); err != nil {
					return err
				}
			}
			if err := s.sendStatus(ctx); err != nil {
				return err
			}
			next = time.Now().Add(standby)
		}
		deadline := next
		batchWait := s.open() && !s.dec.inTxn
		if batchWait {
			deadline = time.Now().Add(batchGap)
			if end := s.txBegan.Add(s.r.cfg.batchInterval); end.Before(deadline) {
				deadline = end
			}
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		raw, err := s.repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				if batchWait { // nothing more right now: commit the batch
					if err := s.finish(ctx); err != nil {
						return err
					}
					next = s.confirmAfterFinish(next)
				}
				continue
			}
			return fmt.Errorf("outbox: receive: %w", err)
		}
		switch m := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("outbox: replication stream: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				k, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return fmt.Errorf("outbox: keepalive: %w", err)
				}
				// With nothing in flight, everything the server decoded up
				// to its sent position is relayed (or had nothing for the
				// outbox): confirming it lets the slot advance while the
				// database is busy and the outbox idle.
				if s.idle() && k.ServerWALEnd > s.confirmed {
					s.confirmed = k.ServerWALEnd
				}
				if k.ReplyRequested {
					next = time.Time{}
				}
			case pglogrepl.XLogDataByteID:
				x, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return fmt.Errorf("outbox: XLogData: %w", err)
				}
				ev, err := s.dec.decode(x.WALData)
				if err != nil {
					return err
				}
				confirmed := s.confirmed
				if err := s.handle(ctx, ev); err != nil {
					return err
				}
				if s.confirmed != confirmed {
					next = s.confirmAfterFinish(next)
				}
			}
		}
	}
}

func (s *session) handle(ctx context.Context, ev event) error {
	switch ev.kind {
	case evBegin:
		s.split, s.dbSeen = false, false
	case evMessage:
		s.dbSeen = true
		if !s.pos.After(ev.lsn, ev.index) {
			s.r.update(func(st *Stats) { st.Skipped++ })
			return nil
		}
		return s.add(ctx, ev)
	case evCommit:
		if s.dbSeen {
			split := s.split
			s.r.update(func(st *Stats) {
				st.DBTxns++
				if split {
					st.SplitTxns++
				}
			})
		}
		if !s.open() {
			// Nothing of it is in flight (no messages, or all at or
			// below the stored position): confirm it now.
			if ev.endLSN > s.confirmed {
				s.confirmed = ev.endLSN
			}
			return nil
		}
		s.pendingEnd = ev.endLSN
		if s.txCount >= s.r.cfg.maxTxnMessages {
			return s.finish(ctx)
		}
	}
	return nil
}

func (s *session) record(ev event) *kgo.Record {
	m := ev.msg
	hs := make([]kgo.RecordHeader, 0, len(m.Headers)+1)
	hs = append(hs, m.Headers...)
	hs = append(hs, kgo.RecordHeader{Key: PositionHeader, Value: []byte(fmt.Sprintf("%s#%d", ev.lsn, ev.index))})
	return &kgo.Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Headers: hs}
}

// add puts one message in the batch, after committing the batch when it
// is full (in the middle of a database transaction: a split).
func (s *session) add(ctx context.Context, ev event) error {
	if s.txCount >= s.r.cfg.maxTxnMessages {
		if err := s.finish(ctx); err != nil {
			return err
		}
	}
	if s.txCount == 0 {
		s.txBegan = time.Now()
	}
	if s.ap != nil {
		s.buf = append(s.buf, s.record(ev))
	} else {
		if s.tx == nil {
			tx, err := s.txp.Begin()
			if err != nil {
				return fmt.Errorf("outbox: begin Kafka transaction: %w", err)
			}
			s.tx = tx
		}
		s.tx.ProduceAsync(ctx, s.record(ev), nil)
	}
	s.txCount++
	s.lastLSN, s.lastIdx = ev.lsn, ev.index
	return nil
}

// finish commits the batch: with its position as the Kafka transaction's
// last record (at-least-once: once every record is acknowledged), then
// confirms the end LSN of the last database transaction it completed.
func (s *session) finish(ctx context.Context) error {
	n := s.txCount
	if n == 0 {
		return nil
	}
	midTxn := s.dec.inTxn && s.dec.lsn == s.lastLSN
	pos := Position{LSN: s.lastLSN, Index: s.lastIdx, Complete: !midTxn, At: time.Now()}
	cctx := context.WithoutCancel(ctx) // a cancelled commit is an unknown outcome
	if s.ap != nil {
		err := s.ap.Produce(cctx, s.buf...)
		clear(s.buf)
		s.buf = s.buf[:0]
		if err != nil {
			return fmt.Errorf("outbox: produce %d messages up to %s: %w", n, pos, err)
		}
	} else {
		if err := s.commit(cctx, pos); err != nil {
			return fmt.Errorf("outbox: commit %d messages up to %s: %w", n, pos, err)
		}
	}
	s.txCount = 0
	s.pos = pos
	s.progress = true
	s.lastKTxn = time.Now()
	if midTxn {
		s.split = true
	}
	if s.pendingEnd > s.confirmed {
		s.confirmed = s.pendingEnd
	}
	s.pendingEnd = 0
	s.r.update(func(st *Stats) {
		st.Relayed += int64(n)
		st.KafkaTxns++
		st.Position, st.LastCommitLSN = pos, pos.LSN
	})
	return nil
}

// commit writes pos as the open transaction's last record and commits.
func (s *session) commit(ctx context.Context, pos Position) error {
	tx := s.tx
	s.tx = nil
	b, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	tx.ProduceAsync(ctx, &kgo.Record{Topic: s.r.cfg.positionsTopic, Key: []byte(s.r.cfg.slot), Value: b}, nil)
	return tx.Commit(ctx)
}

// probe commits a transaction holding only the current position again.
func (s *session) probe(ctx context.Context) error {
	tx, err := s.txp.Begin()
	if err != nil {
		return fmt.Errorf("outbox: begin Kafka transaction: %w", err)
	}
	s.tx = tx
	if err := s.commit(context.WithoutCancel(ctx), s.pos); err != nil {
		return fmt.Errorf("outbox: idle position transaction: %w", err)
	}
	s.lastKTxn = time.Now()
	s.r.update(func(st *Stats) { st.IdleTxns++ })
	return nil
}
