//go:build integration

package outbox_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for WriteSQL
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/postgres/outbox"
)

// The suite's shared parts: 3 brokers (the fault suite bounces one) and
// one PostgreSQL server with wal_level=logical.
var (
	shared *integration.Shared
	pg     *integration.Postgres
)

func TestMain(m *testing.M) {
	shared = integration.StartShared(integration.WithNodes(3))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	// wal_sender_timeout 20 s: the server's keepalives come every 10 s
	// (TestRelayIdleOutboxReleasesWAL waits for one); relays report every
	// 10 s at most (DefaultStandbyTimeout).
	pg, err = integration.StartPostgres(ctx, integration.WithLogicalReplication(),
		integration.WithPostgresSetting("max_connections", "300"),
		integration.WithPostgresSetting("wal_sender_timeout", "20s"))
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start postgres: %v\n", err)
		_ = shared.Close()
		os.Exit(1)
	}
	integration.AnnounceSuite("outbox", shared.Cluster)
	fmt.Printf("eoskit-suite-postgres: outbox backend=%s\n", pg.Backend())
	code := shared.Run(m)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "postgres log:\n%s\n", pg.LogTail(context.Background(), 80))
	}
	_ = pg.Close()
	os.Exit(code)
}

func kconn() eoskit.Conn { return eoskit.Conn{Brokers: shared.Bootstrap()} }

// env is one test's outbox: its own table, publication, slot, topics.
type env struct {
	t      *testing.T
	ctx    context.Context
	pool   *pgxpool.Pool
	slot   string
	topic  string
	ptopic string
	opts   []outbox.Option
	logs   *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var seq atomic.Int64

func newEnv(t *testing.T, extra ...outbox.Option) *env {
	t.Helper()
	ctx := integration.Context(t, 4*time.Minute)
	n := fmt.Sprintf("%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
	e := &env{t: t, ctx: ctx, slot: "s_" + n, topic: integration.UniqueName(t, "out"), ptopic: integration.UniqueName(t, "pos"), logs: &syncBuf{}}
	e.opts = append([]outbox.Option{outbox.WithSlot(e.slot), outbox.WithTable("ob_" + n), outbox.WithPublication("pub_" + n),
		outbox.WithPositionsTopic(e.ptopic), outbox.WithStandbyTimeout(time.Second), outbox.WithRetryBackoff(200*time.Millisecond, time.Second)}, extra...)
	pool, err := pgxpool.New(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e.pool = pool
	if err := outbox.Migrate(ctx, pg.DSN(), e.opts...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", e.slot)
	})
	cl, err := shared.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	two := "2"
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": &two}, e.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("EOSKIT_OUTBOX_LOGS") == "1" {
			t.Logf("relay logs:\n%s", e.logs.String())
		}
	})
	return e
}

// relay runs a relay in the background; stop cancels it and returns Run's
// error.
type running struct {
	r      *outbox.Relay
	cancel context.CancelFunc
	done   chan error
}

func (e *env) start(name string, extra ...outbox.Option) *running {
	e.t.Helper()
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("relay", name)
	opts := append(append([]outbox.Option{}, e.opts...), outbox.WithLogger(logger))
	r, err := outbox.NewRelay(kconn(), pg.DSN(), append(opts, extra...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	rn := &running{r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rn.done <- r.Run(ctx) }()
	e.t.Cleanup(func() { rn.stop() })
	return rn
}

// ready waits until the relay replicates: the first Kafka transactional
// ID on a fresh cluster waits for __transaction_state, which can take a
// while on a loaded machine.
func (e *env) ready(rn *running) {
	e.t.Helper()
	deadline := time.Now().Add(150 * time.Second)
	for !rn.r.Ready() {
		select {
		case err := <-rn.done:
			rn.done <- err
			e.t.Fatalf("relay stopped before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("relay not ready after 150 s: %+v", rn.r.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (rn *running) stop() error {
	rn.cancel()
	select {
	case err := <-rn.done:
		rn.done <- err
		return err
	case <-time.After(time.Minute):
		return errors.New("relay did not stop within 1 min")
	}
}

// write commits (or rolls back) one database transaction of msgs.
func (e *env) write(commit bool, msgs ...outbox.Message) {
	e.t.Helper()
	w, err := outbox.NewWriter(e.opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.Write(e.ctx, tx, msgs...); err != nil {
		e.t.Fatal(err)
	}
	if commit {
		err = tx.Commit(e.ctx)
	} else {
		err = tx.Rollback(e.ctx)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

func msg(topic, key, value string) outbox.Message {
	return outbox.Message{Topic: topic, Key: []byte(key), Value: []byte(value),
		Headers: []kgo.RecordHeader{{Key: "v", Value: []byte(value)}}}
}

// waitFor polls cond for up to 90 s; the relays' stats are in the
// failure.
func (e *env) waitFor(what string, cond func() bool, relays ...*running) {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			var st []outbox.Stats
			for _, r := range relays {
				st = append(st, r.r.Stats())
			}
			e.t.Fatalf("timed out waiting for %s; relays: %+v", what, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readAll reads the topic read_committed to its last stable offset, again
// until it holds at least n records or 30 s passed: a committed
// transaction's markers are written after the commit returns, so the
// last stable offset can lag behind for a moment.
func (e *env) readAll(topic string, n int) []*kgo.Record {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs := e.readOnce(topic)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) readOnce(topic string) []*kgo.Record {
	e.t.Helper()
	cl, err := shared.NewClient()
	if err != nil {
		e.t.Fatal(err)
	}
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(e.ctx, topic)
	cl.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	rd, err := shared.NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rd.Close()
	next := map[int32]int64{}
	var out []*kgo.Record
	behind := func() bool {
		for p, w := range want {
			if next[p] < w {
				return true
			}
		}
		return false
	}
	for behind() {
		fs := rd.PollFetches(e.ctx)
		if e.ctx.Err() != nil {
			e.t.Fatalf("reading %s: %v", topic, e.ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() && r.Offset < want[r.Partition] {
				out = append(out, r)
			}
		})
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// assertOnce checks that recs are exactly want (values), once each, and
// per key in want's order; it returns the records by value.
func assertOnce(t *testing.T, recs []*kgo.Record, want []outbox.Message) map[string]*kgo.Record {
	t.Helper()
	byValue := map[string]*kgo.Record{}
	perKey := map[string][]string{}
	for _, r := range recs {
		v := string(r.Value)
		if _, dup := byValue[v]; dup {
			t.Errorf("message %q relayed twice", v)
		}
		byValue[v] = r
		perKey[string(r.Key)] = append(perKey[string(r.Key)], v)
		if got := header(r, "v"); got != v {
			t.Errorf("message %q: header v = %q, want the value", v, got)
		}
		if header(r, outbox.PositionHeader) == "" {
			t.Errorf("message %q has no %s header", v, outbox.PositionHeader)
		}
	}
	wantKey := map[string][]string{}
	for _, m := range want {
		wantKey[string(m.Key)] = append(wantKey[string(m.Key)], string(m.Value))
		if _, ok := byValue[string(m.Value)]; !ok {
			t.Errorf("message %q never relayed", m.Value)
		}
	}
	if len(recs) != len(want) {
		t.Errorf("%d records in Kafka, want %d", len(recs), len(want))
	}
	for k, w := range wantKey {
		if got := perKey[k]; strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("key %q: order %v, want commit order %v", k, got, w)
		}
	}
	return byValue
}

func slotConfirmed(t *testing.T, ctx context.Context, pool *pgxpool.Pool, slot string) pglogrepl.LSN {
	t.Helper()
	var l pglogrepl.LSN
	if err := pool.QueryRow(ctx, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRelayCommitOrder: only committed transactions, in commit order (a
// transaction that inserted first but committed last comes last), several
// messages per commit LSN, a database/sql writer, and the stored position.
func TestRelayCommitOrder(t *testing.T) {
	e := newEnv(t)
	var want []outbox.Message
	// A inserts first (lower ids), B inserts and commits, then A commits.
	txA, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := outbox.NewWriter(e.opts...)
	aMsgs := []outbox.Message{msg(e.topic, "k0", "a-0"), msg(e.topic, "k1", "a-1")}
	if err := w.Write(e.ctx, txA, aMsgs...); err != nil {
		t.Fatal(err)
	}
	bMsgs := []outbox.Message{msg(e.topic, "k0", "b-0"), msg(e.topic, "k1", "b-1"), msg(e.topic, "k2", "b-2")}
	e.write(true, bMsgs...)
	if err := txA.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	want = append(append(want, bMsgs...), aMsgs...)
	rolledBack := 0
	for i := range 30 {
		ms := []outbox.Message{msg(e.topic, fmt.Sprintf("k%d", i%4), fmt.Sprintf("m-%d-0", i)),
			msg(e.topic, fmt.Sprintf("k%d", (i+1)%4), fmt.Sprintf("m-%d-1", i))}
		commit := i%5 != 3
		e.write(commit, ms...)
		if commit {
			want = append(want, ms...)
		} else {
			rolledBack += len(ms)
		}
	}
	// database/sql
	db, err := sql.Open("pgx", pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stx, err := db.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sqlMsgs := []outbox.Message{msg(e.topic, "k3", "sql-0"), {Topic: e.topic, Key: nil, Value: []byte("sql-nil-key")}}
	if err := w.WriteSQL(e.ctx, stx, sqlMsgs...); err != nil {
		t.Fatal(err)
	}
	if err := stx.Commit(); err != nil {
		t.Fatal(err)
	}
	want = append(want, sqlMsgs[0])

	rn := e.start("r1")
	e.ready(rn)
	total := len(want) + 1
	e.waitFor(fmt.Sprintf("%d relayed", total), func() bool { return rn.r.Stats().Relayed == int64(total) }, rn)
	recs := e.readAll(e.topic, total)
	var nilKey *kgo.Record
	var rest []*kgo.Record
	for _, r := range recs {
		if string(r.Value) == "sql-nil-key" {
			nilKey = r
			continue
		}
		rest = append(rest, r)
	}
	if nilKey == nil || nilKey.Key != nil || len(nilKey.Headers) != 1 {
		t.Errorf("message with a NULL key and no headers: %+v, want a null key and only the position header", nilKey)
	}
	byValue := assertOnce(t, rest, want)
	for _, r := range recs {
		if strings.HasPrefix(string(r.Value), "m-3-") || strings.HasPrefix(string(r.Value), "m-8-") {
			t.Errorf("rolled-back message %q reached Kafka", r.Value)
		}
	}
	// B's three messages share a commit LSN with indexes 0, 1, 2.
	lsnB := strings.SplitN(header(byValue["b-0"], outbox.PositionHeader), "#", 2)[0]
	for i, v := range []string{"b-0", "b-1", "b-2"} {
		if got := header(byValue[v], outbox.PositionHeader); got != fmt.Sprintf("%s#%d", lsnB, i) {
			t.Errorf("%s: position %q, want %s#%d", v, got, lsnB, i)
		}
	}
	st := rn.r.Stats()
	if st.DBTxns != 1+1+24+1 || st.KafkaTxns < 1 || st.KafkaTxns > st.DBTxns || st.Skipped != 0 || st.SplitTxns != 0 {
		t.Errorf("stats %+v: want 27 database transactions in 1 to 27 Kafka transactions, nothing skipped or split", st)
	}
	// The stored position is the last message's; the slot confirmed it.
	e.waitFor("confirmed flush past the last commit", func() bool {
		return slotConfirmed(t, e.ctx, e.pool, e.slot) > st.LastCommitLSN
	})
	status, err := outbox.GetStatus(e.ctx, kconn(), pg.DSN(), e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	wantPos := header(nilKey, outbox.PositionHeader)
	if !status.HasPosition || status.Position.String() != wantPos || !status.Position.Complete ||
		status.Position.LSN != st.Position.LSN || status.Position.Index != st.Position.Index || !status.Position.At.Equal(st.Position.At) {
		t.Errorf("stored position %+v (has %v), want %s complete (relay: %+v)", status.Position, status.HasPosition, wantPos, st.Position)
	}
	if !status.Active || status.WALStatus != "reserved" || status.ConfirmedFlushLSN <= status.Position.LSN ||
		status.RetainedWALBytes <= 0 || status.LagBytes < 0 || status.RetainedWALBytes < status.LagBytes || status.PositionAge <= 0 {
		t.Errorf("status %+v: want an active reserved slot confirmed past the position, retained WAL > 0 >= lag", status)
	}
	t.Logf("relayed %d committed messages (%d rolled back never reached Kafka) in %d Kafka transactions; status %+v",
		st.Relayed, rolledBack, st.KafkaTxns, status)
	if err := rn.stop(); err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	// The server's WAL sender ends a moment after the relay hung up.
	e.waitFor("the slot inactive after stop", func() bool {
		status, err = outbox.GetStatus(e.ctx, kconn(), pg.DSN(), e.opts...)
		return err == nil && !status.Active && status.ActivePID == 0
	})
}

// TestRelaySplitResume: a database transaction of 10 messages split into
// Kafka transactions of 3; the relay stops after the first part. A new
// relay skips the 3 already in Kafka and relays the 7 others: each
// message once, in order.
func TestRelaySplitResume(t *testing.T) {
	e := newEnv(t, outbox.WithMaxTxnMessages(3))
	var want []outbox.Message
	for i := range 10 {
		want = append(want, msg(e.topic, "k", fmt.Sprintf("big-%d", i)))
	}
	e.write(true, want...)
	before := slotConfirmed(t, e.ctx, e.pool, e.slot)

	var stopOnce sync.Once
	var first *running
	stopper := hookFunc(func(ev eoskit.TxnEnd) {
		if ev.Outcome == eoskit.TxnCommitted && ev.Outputs == 4 {
			stopOnce.Do(func() { first.cancel() })
		}
	})
	first = e.start("first", outbox.WithHooks(stopper))
	select {
	case err := <-first.done: // the hook cancelled it after the first part
		first.done <- err
		if err != nil {
			t.Fatalf("first relay: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the first relay never committed a part")
	}
	st1 := first.r.Stats()
	if st1.Relayed != 3 || st1.KafkaTxns != 1 || st1.Position.Index != 2 || st1.Position.Complete {
		t.Fatalf("first relay stats %+v: want 3 messages in 1 Kafka transaction, position index 2, incomplete", st1)
	}
	if got := slotConfirmed(t, e.ctx, e.pool, e.slot); got != before || got == 0 {
		t.Errorf("confirmed_flush_lsn %s after a partial transaction, want it unchanged at %s (nonzero)", got, before)
	}
	status, err := outbox.GetStatus(e.ctx, kconn(), pg.DSN(), e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if status.Position.LSN != st1.Position.LSN || status.Position.Index != 2 || status.Position.Complete {
		t.Errorf("stored position %+v, want %s index 2 incomplete", status.Position, st1.Position.LSN)
	}

	second := e.start("second")
	e.waitFor("the rest relayed", func() bool { return second.r.Stats().Relayed == 7 }, second)
	st2 := second.r.Stats()
	if st2.Skipped != 3 || st2.KafkaTxns != 3 || st2.SplitTxns != 1 || st2.Position.Index != 9 || !st2.Position.Complete ||
		st2.Position.LSN != st1.Position.LSN {
		t.Errorf("second relay stats %+v: want 3 skipped, 7 relayed in 3 Kafka transactions, position %s#9 complete", st2, st1.Position.LSN)
	}
	recs := e.readAll(e.topic, len(want))
	assertOnce(t, recs, want)
	for i, r := range recs {
		if got, wantPos := header(r, outbox.PositionHeader), fmt.Sprintf("%s#%d", st1.Position.LSN, i); got != wantPos {
			t.Errorf("record %d: position %s, want %s", i, got, wantPos)
		}
	}
	e.waitFor("the transaction confirmed", func() bool { return slotConfirmed(t, e.ctx, e.pool, e.slot) > st1.Position.LSN })
	t.Logf("first relay: %d relayed; second: %d skipped, %d relayed in %d Kafka transactions", st1.Relayed, st2.Skipped, st2.Relayed, st2.KafkaTxns)
}

type hookFunc func(eoskit.TxnEnd)

func (f hookFunc) OnTxnEnd(e eoskit.TxnEnd) { f(e) }

// TestRelayFencedWhileSlotBusy: a second relay on the same slot fences the
// first (its Run returns ErrFenced), waits while the first still holds the
// slot, and then carries on from the stored position.
func TestRelayFencedWhileSlotBusy(t *testing.T) {
	e := newEnv(t)
	var want []outbox.Message
	for i := range 5 {
		m := msg(e.topic, fmt.Sprintf("k%d", i%2), fmt.Sprintf("before-%d", i))
		e.write(true, m)
		want = append(want, m)
	}
	first := e.start("first", outbox.WithStandbyTimeout(2*time.Second))
	e.waitFor("first relays 5", func() bool { return first.r.Stats().Relayed == 5 }, first)
	second := e.start("second")
	var firstErr error
	select {
	case firstErr = <-first.done:
		first.done <- firstErr
	case <-time.After(90 * time.Second):
		t.Fatal("the first relay was never fenced")
	}
	if !errors.Is(firstErr, eoskit.ErrFenced) {
		t.Fatalf("first relay's Run: %v, want ErrFenced", firstErr)
	}
	st2 := second.r.Stats()
	if st2.Sessions != 0 && st2.SlotBusy == 0 {
		t.Errorf("second relay %+v: it replicated before the first released the slot", st2)
	}
	e.waitFor("second relay ready", second.r.Ready)
	if st2 := second.r.Stats(); st2.SlotBusy < 1 {
		t.Errorf("second relay never waited for the slot: %+v", st2)
	}
	for i := range 5 {
		m := msg(e.topic, fmt.Sprintf("k%d", i%2), fmt.Sprintf("after-%d", i))
		e.write(true, m)
		want = append(want, m)
	}
	e.waitFor("second relays 5", func() bool { return second.r.Stats().Relayed == 5 }, second)
	assertOnce(t, e.readAll(e.topic, len(want)), want)
	if !strings.Contains(e.logs.String(), "slot is in use") {
		t.Errorf("the second relay did not log its wait for the slot")
	}
	t.Logf("first: %v; second: %+v", firstErr, second.r.Stats())
}

// TestRelayLogicalMessages: pg_logical_emit_message mode; rolled-back
// messages and other prefixes are never relayed.
func TestRelayLogicalMessages(t *testing.T) {
	e := newEnv(t, outbox.WithLogicalMessages("eoskit-test"))
	var want []outbox.Message
	for i := range 12 {
		ms := []outbox.Message{msg(e.topic, fmt.Sprintf("k%d", i%3), fmt.Sprintf("lm-%d-0", i)), msg(e.topic, fmt.Sprintf("k%d", i%3), fmt.Sprintf("lm-%d-1", i))}
		commit := i%4 != 1
		e.write(commit, ms...)
		if commit {
			want = append(want, ms...)
		}
	}
	if _, err := e.pool.Exec(e.ctx, "SELECT pg_logical_emit_message(true, 'other-prefix', 'not for the relay')"); err != nil {
		t.Fatal(err)
	}
	// Another language's writer: the documented JSON, as text.
	payload, _ := json.Marshal(map[string]any{"topic": e.topic, "key": []byte("k0"), "value": []byte("from-sql"),
		"headers": []map[string]any{{"key": "v", "value": []byte("from-sql")}}})
	if _, err := e.pool.Exec(e.ctx, "SELECT pg_logical_emit_message(true, 'eoskit-test', $1::text)", string(payload)); err != nil {
		t.Fatal(err)
	}
	want = append(want, msg(e.topic, "k0", "from-sql"))
	rn := e.start("logical")
	e.waitFor(fmt.Sprintf("%d relayed", len(want)), func() bool { return rn.r.Stats().Relayed == int64(len(want)) }, rn)
	assertOnce(t, e.readAll(e.topic, len(want)), want)
	var rows int
	if err := e.pool.QueryRow(e.ctx, "SELECT count(*) FROM pg_tables WHERE tablename = $1", "ob_"+strings.TrimPrefix(e.slot, "s_")).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("logical mode created a table (%d, %v)", rows, err)
	}
	t.Logf("relayed %+v", rn.r.Stats())
}

// TestRelayAtLeastOnceMode: the control relays in order, confirms the
// flush LSN and stores no position.
func TestRelayAtLeastOnceMode(t *testing.T) {
	e := newEnv(t, outbox.WithAtLeastOnce())
	var want []outbox.Message
	for i := range 10 {
		m := msg(e.topic, "k", fmt.Sprintf("alo-%d", i))
		e.write(true, m)
		want = append(want, m)
	}
	rn := e.start("alo")
	e.waitFor("10 relayed", func() bool { return rn.r.Stats().Relayed == 10 }, rn)
	assertOnce(t, e.readAll(e.topic, len(want)), want)
	last := rn.r.Stats().LastCommitLSN
	e.waitFor("flush confirmed", func() bool { return slotConfirmed(t, e.ctx, e.pool, e.slot) > last })
	status, err := outbox.GetStatus(e.ctx, kconn(), pg.DSN(), e.opts...)
	if err != nil || status.HasPosition {
		t.Errorf("status %+v, %v: want no stored position", status, err)
	}
}

// TestNotLogical: a server with wal_level=replica is refused with an
// error that says how to fix it.
func TestNotLogical(t *testing.T) {
	plain := integration.StartPostgresT(t)
	ctx := integration.Context(t, time.Minute)
	err := outbox.Migrate(ctx, plain.DSN())
	var wl *outbox.WalLevelError
	if !errors.Is(err, outbox.ErrNotLogical) || !errors.As(err, &wl) || wl.Level != "replica" || !strings.Contains(err.Error(), "wal_level = logical") {
		t.Fatalf("Migrate on wal_level=replica: %v, want ErrNotLogical naming the fix", err)
	}
	r, err := outbox.NewRelay(kconn(), plain.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); !errors.Is(err, outbox.ErrNotLogical) {
		t.Fatalf("Run on wal_level=replica: %v, want ErrNotLogical", err)
	}
	var n int
	pool, err := pgx.Connect(ctx, plain.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close(ctx)
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'eoskit_outbox'").Scan(&n); err != nil || n != 0 {
		t.Errorf("Migrate created the table on a server it refused (%d, %v)", n, err)
	}
}

// TestRelayIdleOutboxReleasesWAL: the database is busy, the outbox idle.
// The relay confirms the server's keepalive position (nothing is in
// flight), so the slot's confirmed_flush_lsn moves past WAL that carried
// no outbox message instead of pinning it.
func TestRelayIdleOutboxReleasesWAL(t *testing.T) {
	e := newEnv(t)
	m := msg(e.topic, "k", "only")
	e.write(true, m)
	rn := e.start("idle")
	e.waitFor("1 relayed", func() bool { return rn.r.Stats().Relayed == 1 }, rn)
	other := "busy_" + strings.TrimPrefix(e.slot, "s_")
	if _, err := e.pool.Exec(e.ctx, fmt.Sprintf("CREATE TABLE %s (v text)", pgx.Identifier{other}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := e.pool.Exec(e.ctx, fmt.Sprintf("INSERT INTO %s VALUES ($1)", pgx.Identifier{other}.Sanitize()), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	var after pglogrepl.LSN
	if err := e.pool.QueryRow(e.ctx, "SELECT pg_current_wal_lsn()").Scan(&after); err != nil {
		t.Fatal(err)
	}
	last := rn.r.Stats().LastCommitLSN
	e.waitFor("confirmed_flush_lsn past the busy table's WAL", func() bool {
		return slotConfirmed(t, e.ctx, e.pool, e.slot) >= after
	}, rn)
	st := rn.r.Stats()
	if st.Relayed != 1 || st.LastCommitLSN != last || st.ConfirmedLSN < after {
		t.Errorf("stats %+v: want 1 relayed, the position unchanged at %s, confirmed at or past %s", st, last, after)
	}
	assertOnce(t, e.readAll(e.topic, 1), []outbox.Message{m})
	t.Logf("position %s; confirmed %s past the busy table's WAL end %s", last, st.ConfirmedLSN, after)
}
