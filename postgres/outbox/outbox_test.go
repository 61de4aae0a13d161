package outbox_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/postgres/outbox"
)

func TestNewRelayReportsEveryProblem(t *testing.T) {
	_, err := outbox.NewRelay(eoskit.Conn{}, "",
		outbox.WithSlot(""), outbox.WithTable(`bad"; DROP TABLE x`), outbox.WithPublication("1pub"),
		outbox.WithPositionsTopic("bad topic"), outbox.WithTransactionalID(""), outbox.WithMaxTxnMessages(0),
		outbox.WithStandbyTimeout(0), outbox.WithLogger(nil))
	var oe *eoskit.OptionError
	if !errors.Is(err, eoskit.ErrInvalidOption) || !errors.As(err, &oe) {
		t.Fatalf("err %v, want an *eoskit.OptionError", err)
	}
	for _, want := range []string{"Brokers", "DSN", "WithSlot", "WithTable", "WithPublication", "WithPositionsTopic",
		"WithTransactionalID", "WithMaxTxnMessages(0)", "WithStandbyTimeout", "WithLogger"} {
		found := false
		for _, p := range oe.Problems {
			found = found || strings.Contains(p, want)
		}
		if !found {
			t.Errorf("no problem names %s: %q", want, oe.Problems)
		}
	}
	if len(oe.Problems) != 10 {
		t.Errorf("%d problems, want 10: %q", len(oe.Problems), oe.Problems)
	}
}

func TestNewRelayDefaults(t *testing.T) {
	r, err := outbox.NewRelay(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}, "postgres://u@127.0.0.1:5432/db")
	if err != nil || r.Ready() || r.Stats() != (outbox.Stats{}) {
		t.Fatalf("NewRelay: %v (ready %v, stats %+v)", err, r.Ready(), r.Stats())
	}
	if _, err := outbox.NewRelay(eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}, "postgres://u@127.0.0.1:5432/db",
		outbox.WithSlot("UPPER"), outbox.WithMaxTxnMessages(-1)); err == nil || !strings.Contains(err.Error(), "WithSlot") ||
		!strings.Contains(err.Error(), "WithMaxTxnMessages(-1)") {
		t.Fatalf("upper-case slot and n<0: %v", err)
	}
}

func TestNewWriter(t *testing.T) {
	if _, err := outbox.NewWriter(outbox.WithTable("a.b.c")); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Errorf("three-part table: %v", err)
	}
	if _, err := outbox.NewWriter(outbox.WithLogicalMessages("")); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Errorf("empty prefix: %v", err)
	}
	if _, err := outbox.NewWriter(outbox.WithTable("app.events")); err != nil {
		t.Errorf("schema-qualified table: %v", err)
	}
}

func TestMigrationSQLQuotesIdentifiers(t *testing.T) {
	got := outbox.MigrationSQL(outbox.WithTable("App.Outbox"), outbox.WithPublication("Pub"))
	for _, want := range []string{`CREATE TABLE IF NOT EXISTS "App"."Outbox"`, `topic text NOT NULL`, `key bytea`, `value bytea`, `headers jsonb`,
		`CREATE PUBLICATION "Pub" FOR TABLE "App"."Outbox" WITH (publish = 'insert')`} {
		if !strings.Contains(got, want) {
			t.Errorf("MigrationSQL lacks %q:\n%s", want, got)
		}
	}
	if got := outbox.MigrationSQL(outbox.WithLogicalMessages("p")); got != "CREATE PUBLICATION \"eoskit_outbox_pub\";\n" {
		t.Errorf("logical mode: %q", got)
	}
	if got := outbox.MigrationSQL(outbox.WithTable("x;y")); got != "" {
		t.Errorf("invalid table: %q, want empty", got)
	}
}

func TestPositionJSONAndOrder(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	p := outbox.Position{LSN: 0x16B3748, Index: 2, Complete: false, At: at}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"lsn":"0/16B3748","index":2,"complete":false,"at":"2026-01-02T15:04:05Z"}` {
		t.Errorf("JSON %s", b)
	}
	var q outbox.Position
	if err := json.Unmarshal(b, &q); err != nil || q.LSN != p.LSN || q.Index != 2 || q.Complete || !q.At.Equal(at) {
		t.Errorf("round trip %+v, %v", q, err)
	}
	for _, bad := range []string{`{"lsn":"x","index":0}`, `{"lsn":"0/1","index":-1}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &q); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	cases := []struct {
		lsn   pglogrepl.LSN
		index int
		after bool
	}{
		{0x16B3748, 2, false}, // the stored message itself
		{0x16B3748, 1, false},
		{0x16B3748, 3, true}, // the rest of a split transaction
		{0x16B3747, 9, false},
		{0x16B3749, 0, true},
	}
	for _, c := range cases {
		if got := p.After(c.lsn, c.index); got != c.after {
			t.Errorf("After(%s, %d) = %v, want %v", c.lsn, c.index, got, c.after)
		}
	}
	if !(outbox.Position{}).After(1, 0) || (outbox.Position{}).After(0, 0) {
		t.Error("the zero position must skip nothing real")
	}
}

func TestLogicalEncoding(t *testing.T) {
	m := outbox.Message{Topic: "t", Key: []byte{0, 1}, Value: nil, Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}}
	b, err := outbox.EncodeLogical(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"topic":"t","key":"AAE=","value":null,"headers":[{"key":"h","value":"dg=="}]}` {
		t.Errorf("payload %s", b)
	}
	got, err := outbox.DecodeLogical(b)
	if err != nil || got.Topic != "t" || string(got.Key) != "\x00\x01" || got.Value != nil || len(got.Headers) != 1 || string(got.Headers[0].Value) != "v" {
		t.Errorf("decoded %+v, %v", got, err)
	}
	if _, err := outbox.EncodeLogical(outbox.Message{}); !errors.Is(err, outbox.ErrBadMessage) {
		t.Errorf("no topic: %v", err)
	}
	if _, err := outbox.DecodeLogical([]byte(`{"key":null}`)); !errors.Is(err, outbox.ErrBadMessage) {
		t.Errorf("no topic: %v", err)
	}
}

func TestWalLevelErrorSaysHowToFix(t *testing.T) {
	err := error(&outbox.WalLevelError{Level: "replica"})
	if !errors.Is(err, outbox.ErrNotLogical) || !strings.Contains(err.Error(), "wal_level = logical") || !strings.Contains(err.Error(), "restart") {
		t.Errorf("%v", err)
	}
}
