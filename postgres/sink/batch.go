package sink

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
)

// batch is the records of one database transaction and, per partition,
// what the fence checks.
type batch struct {
	recs   []*kgo.Record
	bytes  int // of recs' keys, values and headers
	parts  map[tp]*batchPart
	mirror map[string]map[int32]kgo.EpochOffset // set by advance
}

type batchPart struct {
	epoch       int64 // the owner epoch the records were fetched under
	prev        int64 // the table's next_offset before this batch (-1: none)
	next        int64 // the next offset after this batch
	leaderEpoch int32 // of the last record, for the Kafka mirror
}

// without returns the batch minus the partitions in drop.
func (b *batch) without(drop map[tp]bool) *batch {
	nb := &batch{parts: map[tp]*batchPart{}}
	for k, p := range b.parts {
		if !drop[k] {
			nb.parts[k] = p
		}
	}
	for _, r := range b.recs {
		if !drop[tp{r.Topic, r.Partition}] {
			nb.recs = append(nb.recs, r)
		}
	}
	return nb
}

// errTransient marks a database failure that a retry of the whole batch
// may fix (connection lost, server restarting, serialization failure).
type errTransient struct{ err error }

func (e errTransient) Error() string { return e.err.Error() }
func (e errTransient) Unwrap() error { return e.err }

// errHandler is a handler failure that is not a database outage.
type errHandler struct{ err error }

func (e errHandler) Error() string { return e.err.Error() }
func (e errHandler) Unwrap() error { return e.err }

// isTransient classifies a database error: true for failures of the
// connection or the server rather than of the statement or the data.
func isTransient(err error, tx pgx.Tx) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.SQLState()[:2] {
		case "08", "40", "53", "57", "58": // connection, rollback (serialization, deadlock), resources, operator intervention, system
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	return tx != nil && tx.Conn() != nil && tx.Conn().IsClosed()
}

// process commits b, retrying database failures with backoff until ctx
// ends, dropping partitions the fence refuses, and falling back to one
// record at a time when the handler fails.
func (s *Sink) process(ctx context.Context, b *batch) (*batch, error) {
	backoff := s.cfg.retryBackoff
	perRecord := false
	for {
		// Partitions lost or refused since the records were fetched
		// (an earlier batch's fence, a lost session) are not committed.
		b = s.stillHeld(b)
		if len(b.recs) == 0 {
			return nil, nil
		}
		refused, err := s.commit(ctx, b, perRecord)
		switch {
		case err == nil && len(refused) == 0:
			s.advance(b)
			return b, nil
		case err == nil:
			b = b.without(refused)
			continue
		case ctx.Err() != nil:
			return nil, nil
		}
		var he errHandler
		if errors.As(err, &he) && !perRecord {
			perRecord = true
			continue
		}
		var te errTransient
		if !errors.As(err, &te) {
			return nil, err
		}
		s.stats.dbRetries.Add(1)
		s.log.Warn("batch transaction failed; retrying", "err", err, "records", len(b.recs), "backoff", backoff)
		if !sleep(ctx, backoff) {
			return nil, nil
		}
		backoff = min(2*backoff, s.cfg.maxBackoff)
	}
}

// commit runs one batch transaction: the handler, dead letters, the fenced
// offsets update, COMMIT. It returns the partitions the fence refused
// (the transaction then rolled back) or an error: errTransient, errHandler
// (batch mode only), or a poison-record error.
func (s *Sink) commit(ctx context.Context, b *batch, perRecord bool) (map[tp]bool, error) {
	began := time.Now()
	ev := BatchCommit{Group: s.cfg.group, Partitions: len(b.parts)}
	var written time.Time // the handler's writes done: the fence and COMMIT follow
	committing := false   // COMMIT sent: a failure leaves the outcome unknown
	end := func(err error) {
		ev.Duration = time.Since(began)
		ev.Err = err
		for _, h := range s.own.batch {
			h.OnBatchCommit(ev)
		}
		if s.hooks.HasTxnEnd() {
			s.hooks.TxnEnd(txnEndOf(ctx, ev, began, written, committing))
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		err = errTransient{fmt.Errorf("sink: begin: %w", err)}
		end(err)
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	dead := 0
	if !perRecord {
		t0 := time.Now()
		herr := s.h(ctx, tx, b.recs)
		ev.Handle = time.Since(t0)
		s.handled(b.recs[0], len(b.recs), 1, ev.Handle, herr)
		if herr != nil {
			if isTransient(herr, tx) {
				err = errTransient{fmt.Errorf("sink: handler: %w", herr)}
			} else {
				err = errHandler{herr}
			}
			end(err)
			return nil, err
		}
	} else {
		for _, r := range b.recs {
			d, err := s.handleOne(ctx, tx, r)
			if err != nil {
				end(err)
				return nil, err
			}
			dead += d
		}
	}

	written = time.Now()
	refused, err := s.fence(ctx, tx, b)
	if errors.Is(err, errAlreadyCommitted) {
		s.log.Info("batch found committed by an earlier attempt", "records", len(b.recs))
		ev.Records, ev.Offsets = len(b.recs), b.offsets()
		end(nil)
		return nil, nil
	}
	if err != nil {
		end(err)
		return nil, err
	}
	if len(refused) > 0 {
		err := fmt.Errorf("sink: %d partition(s) refused: %w", len(refused), ErrOwnershipLost)
		end(err)
		return refused, nil
	}
	committing = true
	if err := tx.Commit(ctx); err != nil {
		// The outcome may be unknown (the answer was lost): the retry's
		// fence tells, since a committed batch moved the rows past prev.
		err = errTransient{fmt.Errorf("sink: commit: %w", err)}
		end(err)
		return nil, err
	}
	ev.Records, ev.DeadLettered = len(b.recs), dead
	if len(s.own.batch) > 0 || s.hooks.HasTxnEnd() {
		ev.Offsets = b.offsets()
	}
	end(nil)
	return nil, nil
}

// errAlreadyCommitted reports a batch whose rows already moved under this
// sink's epochs: an earlier COMMIT of it succeeded though its answer was lost.
var errAlreadyCommitted = errors.New("batch already committed")

// fence moves the offsets rows, conditioned on this sink's epochs and
// the rows' previous positions, and reports the refused partitions.
func (s *Sink) fence(ctx context.Context, tx pgx.Tx, b *batch) (map[tp]bool, error) {
	n := len(b.parts)
	topics, parts := make([]string, 0, n), make([]int32, 0, n)
	prevs, nexts, epochs := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	for k, p := range b.parts {
		topics, parts = append(topics, k.topic), append(parts, k.partition)
		prevs, nexts, epochs = append(prevs, p.prev), append(nexts, p.next), append(epochs, p.epoch)
	}
	rows, err := tx.Query(ctx, s.sql.commit, s.cfg.group, topics, parts, prevs, nexts, epochs)
	if err != nil {
		return nil, s.dbErr("update offsets", err, tx)
	}
	moved := map[tp]bool{}
	var t string
	var p int32
	if _, err := pgx.ForEachRow(rows, []any{&t, &p}, func() error { moved[tp{t, p}] = true; return nil }); err != nil {
		return nil, s.dbErr("update offsets", err, tx)
	}
	if len(moved) == n {
		return nil, nil
	}
	// Why not moved: another epoch (fenced), or this batch committed
	// already (a COMMIT whose answer was lost).
	rows, err = tx.Query(ctx, s.sql.check, s.cfg.group, topics, parts)
	if err != nil {
		return nil, s.dbErr("read offsets", err, tx)
	}
	cur := map[tp][2]int64{}
	var next, epoch int64
	if _, err := pgx.ForEachRow(rows, []any{&t, &p, &next, &epoch}, func() error {
		cur[tp{t, p}] = [2]int64{next, epoch}
		return nil
	}); err != nil {
		return nil, s.dbErr("read offsets", err, tx)
	}
	refused := map[tp]bool{}
	already := 0
	for k, bp := range b.parts {
		if moved[k] {
			continue
		}
		c, ok := cur[k]
		if ok && c[1] == bp.epoch && c[0] == bp.next {
			already++
			continue
		}
		current := int64(-1)
		if ok {
			current = c[1]
		}
		refused[k] = true
		s.refuse(k, bp, current)
	}
	if len(refused) == 0 && already > 0 {
		return nil, errAlreadyCommitted
	}
	return refused, nil
}

func (s *Sink) dbErr(what string, err error, tx pgx.Tx) error {
	err = fmt.Errorf("sink: %s: %w", what, err)
	if isTransient(err, tx) {
		return errTransient{err}
	}
	return err
}

// refuse records a fence refusal and forgets the partition, unless it was
// claimed again since (a newer epoch of this very sink).
func (s *Sink) refuse(k tp, bp *batchPart, current int64) {
	s.stats.fenced.Add(1)
	s.mu.Lock()
	if st := s.owned[k]; st != nil && st.epoch == bp.epoch {
		delete(s.owned, k)
	}
	s.mu.Unlock()
	s.log.Warn("commit refused by the fence: partition owned by another sink now",
		"topic", k.topic, "partition", k.partition, "epoch", bp.epoch, "current_epoch", current,
		"err", &FenceRefusedError{Group: s.cfg.group, Topic: k.topic, Partition: k.partition, Epoch: bp.epoch, Current: current})
	ev := FenceRefused{Group: s.cfg.group, Topic: k.topic, Partition: k.partition, Epoch: bp.epoch, Current: current}
	for _, h := range s.own.fence {
		h.OnFenceRefused(ev)
	}
}

// handleOne runs the handler on one record inside a savepoint, with
// retries and backoff; a record that keeps failing is dead-lettered (1)
// or stops the sink.
func (s *Sink) handleOne(ctx context.Context, tx pgx.Tx, r *kgo.Record) (int, error) {
	backoff := s.cfg.retryBackoff
	var herr error
	for attempt := 1; attempt <= s.cfg.retries+1; attempt++ {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return 0, s.dbErr("savepoint", err, tx)
		}
		t0 := time.Now()
		herr = s.h(ctx, sp, []*kgo.Record{r})
		s.handled(r, 1, attempt, time.Since(t0), herr)
		if herr == nil {
			if err := sp.Commit(ctx); err != nil {
				return 0, s.dbErr("release savepoint", err, tx)
			}
			return 0, nil
		}
		if err := sp.Rollback(ctx); err != nil || isTransient(herr, tx) {
			return 0, errTransient{fmt.Errorf("sink: handler: %w", errors.Join(herr, err))}
		}
		s.log.Warn("handler failed", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "attempt", attempt, "err", herr)
		if attempt <= s.cfg.retries && !sleep(ctx, backoff) {
			return 0, errTransient{ctx.Err()}
		}
		backoff = min(2*backoff, s.cfg.maxBackoff)
	}
	if s.cfg.deadLetter == "" {
		return 0, &eoskit.PartitionError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Err: fmt.Errorf("%w after %d attempts (fix the handler or the data, or set WithDeadLetterTable): %w", ErrPoisonRecord, s.cfg.retries+1, herr)}
	}
	_, err := tx.Exec(ctx, s.sql.deadLetter, s.cfg.group, r.Topic, r.Partition, r.Offset,
		r.Key, r.Value, HeadersJSON(r.Headers), herr.Error(), nullTime(r.Timestamp))
	if err != nil {
		return 0, s.dbErr("insert dead letter", err, tx)
	}
	s.stats.dead.Add(1)
	s.log.Warn("record dead-lettered", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", herr)
	s.hooks.DeadLetter(eoskit.DeadLetter{Group: s.cfg.group, Record: r, To: s.cfg.deadLetter, Err: herr})
	return 1, nil
}

func (s *Sink) handled(r *kgo.Record, n, attempt int, d time.Duration, err error) {
	if s.hooks.HasHandled() {
		s.hooks.Handled(eoskit.Handled{Group: s.cfg.group, Record: r, Batch: n, Attempt: attempt, Duration: d, Err: err})
	}
}

// advance records a COMMIT in the partitions' state and returns what to
// mirror to the Kafka group.
func (s *Sink) advance(b *batch) map[string]map[int32]kgo.EpochOffset {
	s.stats.batches.Add(1)
	s.stats.records.Add(int64(len(b.recs)))
	// The mirror holds every owned partition, not only this batch's: a
	// kgo commit cancels the one in flight before it.
	mirror := map[string]map[int32]kgo.EpochOffset{}
	s.mu.Lock()
	for k, bp := range b.parts {
		if st := s.owned[k]; st != nil && st.epoch == bp.epoch {
			st.committed = bp.next
			st.leaderEpoch = bp.leaderEpoch
		}
	}
	for k, st := range s.owned {
		if st.committed < 0 {
			continue
		}
		if mirror[k.topic] == nil {
			mirror[k.topic] = map[int32]kgo.EpochOffset{}
		}
		mirror[k.topic][k.partition] = kgo.EpochOffset{Epoch: st.leaderEpoch, Offset: st.committed}
	}
	s.mu.Unlock()
	b.mirror = mirror
	return mirror
}

// mirrorOffsets commits the positions to the Kafka group, asynchronously,
// as a hint for lag tools.
func (s *Sink) mirrorOffsets(ctx context.Context, cl *kgo.Client, m map[string]map[int32]kgo.EpochOffset) {
	if !s.cfg.mirror || len(m) == 0 {
		return
	}
	cl.CommitOffsets(ctx, m, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		if err != nil && ctx.Err() == nil {
			s.log.Debug("mirroring offsets to the group failed (a hint only)", "err", err)
		}
	})
}

func (b *batch) offsets() map[string]map[int32]int64 {
	m := map[string]map[int32]int64{}
	for k, p := range b.parts {
		if m[k.topic] == nil {
			m[k.topic] = map[int32]int64{}
		}
		m[k.topic][k.partition] = p.next
	}
	return m
}

// HeadersJSON renders record headers as a JSON array of {"key", "value"}
// objects, the value as text when it is UTF-8, else as "value_base64".
// The dead-letter table and `eosctl sink postgres` store headers this way.
func HeadersJSON(hs []kgo.RecordHeader) []byte {
	type h struct {
		Key    string  `json:"key"`
		Value  *string `json:"value,omitempty"`
		Base64 *string `json:"value_base64,omitempty"`
	}
	if len(hs) == 0 {
		return []byte("[]")
	}
	out := make([]h, 0, len(hs))
	for _, x := range hs {
		v := string(x.Value)
		if utf8.ValidString(v) {
			out = append(out, h{Key: x.Key, Value: &v})
		} else {
			b := base64.StdEncoding.EncodeToString(x.Value)
			out = append(out, h{Key: x.Key, Base64: &b})
		}
	}
	j, _ := json.Marshal(out)
	return j
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
