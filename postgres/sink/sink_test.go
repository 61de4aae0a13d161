package sink

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	// pgxpool.New does not connect: a pool that is never used needs no server.
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func noop(context.Context, pgx.Tx, []*kgo.Record) error { return nil }

func TestNewValidatesEveryOptionAtOnce(t *testing.T) {
	_, err := New(eoskit.Conn{}, nil, nil,
		WithMaxBatchRecords(0), WithMaxBatchBytes(0), WithBatchInterval(0), WithHandlerRetries(-1),
		WithRetryBackoff(time.Second), WithMaxBackoff(time.Millisecond),
		WithSessionTimeout(time.Millisecond), WithOffsetsTable("bad name"),
		WithDeadLetterTable("x;drop"), WithInstanceID(""), WithTopics(""))
	if !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidOption", err)
	}
	var oe *eoskit.OptionError
	if !errors.As(err, &oe) || oe.Package != "sink" {
		t.Fatalf("err = %#v, want an *eoskit.OptionError of package sink", err)
	}
	for _, want := range []string{"Brokers", "pool is nil", "handler is nil", "WithGroup is required",
		"empty topic name", "WithMaxBatchRecords(0)", "WithMaxBatchBytes(0)", "WithBatchInterval(0s)", "WithHandlerRetries(-1)",
		"WithMaxBackoff(1ms) is below", "WithSessionTimeout(1ms)", `WithOffsetsTable("bad name")`,
		`WithDeadLetterTable("x;drop")`, "WithInstanceID: empty"} {
		found := false
		for _, p := range oe.Problems {
			if strings.Contains(p, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem mentions %q in %q", want, oe.Problems)
		}
	}
	if len(oe.Problems) != 14 {
		t.Errorf("%d problems, want 14: %q", len(oe.Problems), oe.Problems)
	}
}

func TestNewAcceptsValidOptions(t *testing.T) {
	s, err := New(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}, testPool(t), noop,
		WithGroup("g"), WithTopics("a", "b"), WithOffsetsTable("app.offsets"), WithDeadLetterTable("app.dead"))
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.maxRecords != DefaultMaxBatchRecords || s.cfg.maxBytes != DefaultMaxBatchBytes || s.cfg.interval != DefaultBatchInterval || !s.cfg.mirror {
		t.Fatalf("defaults not applied: %+v", s.cfg)
	}
	if !strings.Contains(s.sql.commit, `UPDATE "app"."offsets"`) || !strings.Contains(s.sql.deadLetter, `INSERT INTO "app"."dead"`) {
		t.Fatalf("statements do not use the configured tables:\n%s\n%s", s.sql.commit, s.sql.deadLetter)
	}
	if st := s.Stats(); st != (Stats{}) {
		t.Fatalf("fresh stats %+v", st)
	}
}

func TestDeadLetterTableMustDifferFromOffsets(t *testing.T) {
	_, err := New(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}, testPool(t), noop,
		WithGroup("g"), WithTopics("a"), WithOffsetsTable("t"), WithDeadLetterTable("t"))
	if err == nil || !strings.Contains(err.Error(), "names the offsets table") {
		t.Fatalf("err = %v", err)
	}
}

func TestSchema(t *testing.T) {
	def, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if def != SchemaSQL {
		t.Fatalf("Schema() differs from SchemaSQL:\n%s", def)
	}
	custom, err := Schema(WithOffsetsTable("ops.positions"), WithDeadLetterTable("poison"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`CREATE TABLE IF NOT EXISTS "ops"."positions"`, `CREATE TABLE IF NOT EXISTS "poison"`, "owner_epoch    bigint"} {
		if !strings.Contains(custom, want) {
			t.Errorf("schema lacks %q:\n%s", want, custom)
		}
	}
	if strings.Contains(custom, "eoskit_offsets") || strings.Contains(custom, "eoskit_dead_letters") {
		t.Errorf("default names left in:\n%s", custom)
	}
	if _, err := Schema(WithOffsetsTable(`a"b`)); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidOption", err)
	}
}

func TestStatementsFence(t *testing.T) {
	st := newStatements("eoskit_offsets", "")
	for _, want := range []string{"o.owner_epoch = x.e", "o.next_offset = x.prev", "RETURNING o.topic, o.partition"} {
		if !strings.Contains(st.commit, want) {
			t.Errorf("commit statement lacks %q:\n%s", want, st.commit)
		}
	}
	if !strings.Contains(st.claim, "owner_epoch = o.owner_epoch + 1") {
		t.Errorf("claim does not bump the epoch:\n%s", st.claim)
	}
	if st.deadLetter != "" {
		t.Errorf("dead-letter statement without a table: %s", st.deadLetter)
	}
}

func TestHeadersJSON(t *testing.T) {
	got := string(HeadersJSON([]kgo.RecordHeader{{Key: "a", Value: []byte("x")}, {Key: "b", Value: []byte{0xff, 0}}}))
	want := `[{"key":"a","value":"x"},{"key":"b","value_base64":"/wA="}]`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got := string(HeadersJSON(nil)); got != "[]" {
		t.Fatalf("no headers: %s", got)
	}
}

func TestIsTransient(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},  // admin_shutdown
		{&pgconn.PgError{Code: "40001"}, true},  // serialization_failure
		{&pgconn.PgError{Code: "08006"}, true},  // connection_failure
		{&pgconn.PgError{Code: "23505"}, false}, // unique_violation: the data
		{&pgconn.PgError{Code: "22P02"}, false}, // invalid text representation
		{errors.New("handler: bad record"), false},
		{nil, false},
	}
	for _, c := range cases {
		if got := isTransient(c.err, nil); got != c.want {
			t.Errorf("isTransient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestBatchWithout(t *testing.T) {
	b := &batch{parts: map[tp]*batchPart{{"t", 0}: {next: 2}, {"t", 1}: {next: 1}}}
	b.recs = []*kgo.Record{{Topic: "t", Partition: 0, Offset: 0}, {Topic: "t", Partition: 1, Offset: 0}, {Topic: "t", Partition: 0, Offset: 1}}
	nb := b.without(map[tp]bool{{"t", 1}: true})
	if len(nb.recs) != 2 || len(nb.parts) != 1 || nb.parts[tp{"t", 0}] == nil {
		t.Fatalf("without: %d records, parts %v", len(nb.recs), nb.parts)
	}
	for _, r := range nb.recs {
		if r.Partition != 0 {
			t.Fatalf("record of a dropped partition kept: %+v", r)
		}
	}
	if got := nb.offsets(); got["t"][0] != 2 || len(got["t"]) != 1 {
		t.Fatalf("offsets %v", got)
	}
}

func TestKeepDropsUnownedAndHandedOut(t *testing.T) {
	s := &Sink{owned: map[tp]*partState{{"t", 0}: {epoch: 3, committed: 5, next: 7}}}
	fs := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{
		{Partition: 0, Records: []*kgo.Record{{Topic: "t", Partition: 0, Offset: 6}, {Topic: "t", Partition: 0, Offset: 7}, {Topic: "t", Partition: 0, Offset: 8}}},
		{Partition: 1, Records: []*kgo.Record{{Topic: "t", Partition: 1, Offset: 0}}},
	}}}}, {Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{ // a second fetch of partition 0, overlapping
		{Partition: 0, Records: []*kgo.Record{{Topic: "t", Partition: 0, Offset: 8}, {Topic: "t", Partition: 0, Offset: 9}}},
	}}}}}
	b := &batch{parts: map[tp]*batchPart{}}
	s.keep(fs, b)
	if len(b.recs) != 3 || b.recs[0].Offset != 7 || b.recs[1].Offset != 8 || b.recs[2].Offset != 9 {
		t.Fatalf("kept %d records", len(b.recs))
	}
	bp := b.parts[tp{"t", 0}]
	// Offsets 5 and 6 are in a batch still committing (the pipeline): it
	// leaves the row at 7, which is what this batch's fence expects.
	if bp == nil || bp.epoch != 3 || bp.prev != 7 || bp.next != 10 {
		t.Fatalf("batch part %+v, want epoch 3 prev 7 next 10", bp)
	}
	if s.Stats().Dropped != 3 {
		t.Fatalf("dropped %d, want 3 (offset 6 handed out before; partition 1 not owned; offset 8 fetched twice)", s.Stats().Dropped)
	}
}

func TestTableSQL(t *testing.T) {
	a, err := AppendTableSQL("app.log")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a, `CREATE TABLE IF NOT EXISTS "app"."log"`) || strings.Contains(a, "PRIMARY KEY") || strings.Contains(a, "UNIQUE") {
		t.Fatalf("append table must have no unique constraint on the position:\n%s", a)
	}
	u, err := UpsertTableSQL("latest")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, "key         bytea       PRIMARY KEY") {
		t.Fatalf("upsert table is not keyed by the record key:\n%s", u)
	}
	for _, f := range []func(string) (string, error){AppendTableSQL, UpsertTableSQL} {
		if _, err := f("x; DROP TABLE y"); !errors.Is(err, eoskit.ErrInvalidOption) {
			t.Fatalf("err = %v, want ErrInvalidOption", err)
		}
	}
	if _, err := AppendHandler("a b"); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("AppendHandler err = %v", err)
	}
	if _, err := UpsertHandler("a b"); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("UpsertHandler err = %v", err)
	}
}

func TestStillHeldDropsLostAndReclaimed(t *testing.T) {
	s := &Sink{owned: map[tp]*partState{{"t", 0}: {epoch: 3}, {"t", 1}: {epoch: 5}}}
	b := &batch{parts: map[tp]*batchPart{{"t", 0}: {epoch: 3, next: 2}, {"t", 1}: {epoch: 4, next: 1}, {"t", 2}: {epoch: 1, next: 1}}}
	b.recs = []*kgo.Record{{Topic: "t", Partition: 0, Offset: 0}, {Topic: "t", Partition: 1, Offset: 0}, {Topic: "t", Partition: 0, Offset: 1}, {Topic: "t", Partition: 2, Offset: 0}}
	nb := s.stillHeld(b)
	if len(nb.recs) != 2 || len(nb.parts) != 1 || nb.parts[tp{"t", 0}] == nil {
		t.Fatalf("kept %d records, parts %v: want partition 0 only (1 was claimed again under a newer epoch, 2 is not held)", len(nb.recs), nb.parts)
	}
	if s.Stats().Dropped != 2 {
		t.Fatalf("dropped %d, want 2", s.Stats().Dropped)
	}
	if got := s.stillHeld(nb); got != nb {
		t.Fatal("a batch of held partitions only was copied")
	}
}

// TestCollectStopsAtMaxBatchBytes: a batch closes once its records' bytes
// reach WithMaxBatchBytes, without waiting for the record bound or the
// batch interval (10 s here, past the test's deadline); with the byte
// bound out of reach it waits for more records until the interval.
func TestCollectStopsAtMaxBatchBytes(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for range 50 {
		rs = append(rs, &kgo.Record{Key: []byte("k"), Value: bytes.Repeat([]byte{'v'}, 999), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}})
	}
	if err := pcl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pcl.Close()
	for _, maxBytes := range []int{10_000, 1 << 30} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset().AtStart()}}))
		if err != nil {
			t.Fatal(err)
		}
		s := &Sink{cfg: defaultConfig(), owned: map[tp]*partState{{"t", 0}: {next: 0}}, log: slog.New(slog.DiscardHandler)}
		s.cfg.maxBytes, s.cfg.interval = maxBytes, 10*time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		b, err := s.collect(ctx, cl)
		cancel()
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case maxBytes < 1<<30 && (b == nil || len(b.recs) != 50 || b.bytes != 50*(1+999+2)):
			t.Errorf("max %d bytes: batch %v, want the 50 records of %d bytes closed at once", maxBytes, b, 50*(1+999+2))
		case maxBytes == 1<<30 && b != nil:
			t.Errorf("max %d bytes: a batch of %d records before the interval, want none (the test's deadline first)", maxBytes, len(b.recs))
		}
	}
}
