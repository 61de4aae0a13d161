//go:build integration

package sink_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/postgres/sink"
)

// TestAppendHandlerColumns: AppendHandler writes the same rows into a
// table of AppendTableSQL's types (its binary COPY encoder) and into one
// of other types (text as varchar, bigint partition, json headers:
// pgx.CopyFrom's conversions), and every column reads back as the record
// had it: NULL and empty keys and values, headers (one not UTF-8), a zero
// timestamp as NULL, timestamps before 1970 and at microsecond precision,
// batches larger than one 64 KiB CopyData message.
func TestAppendHandlerColumns(t *testing.T) {
	ctx := integration.Context(t, 2*time.Minute)
	pool := newPool(t, ctx)
	binT, genT := tableName(t), tableName(t)
	sql, err := sink.AppendTableSQL(binT)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.CreateTable(ctx, pool, sql); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE `+genT+` (topic varchar(200) NOT NULL, partition bigint NOT NULL, "offset" bigint NOT NULL,
		key bytea, value bytea, headers json NOT NULL, "timestamp" timestamptz)`); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 2, 10, 11, 12, 345678000, time.UTC)
	var recs []*kgo.Record
	for i := range 3000 {
		r := &kgo.Record{Topic: fmt.Sprintf("topic-%d", i%3), Partition: int32(i % 7), Offset: int64(1<<40 + i),
			Key: []byte(fmt.Sprintf("k%d", i)), Value: bytes.Repeat([]byte{byte(i)}, i%300), Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
		switch i % 10 {
		case 1:
			r.Key = nil
		case 2:
			r.Key = []byte{}
		case 3:
			r.Value = nil
		case 4:
			r.Timestamp = time.Time{}
		case 5:
			r.Timestamp = time.Date(1960, 5, 6, 7, 8, 9, 123456000, time.UTC)
		case 6:
			r.Headers = []kgo.RecordHeader{{Key: "a", Value: []byte("x\"y")}, {Key: "bin", Value: []byte{0xff, 0}}, {Key: "nil"}}
		}
		recs = append(recs, r)
	}
	for table, want := range map[string]string{binT: "binary", genT: "generic"} {
		h, path := sink.AppendHandlerPath(table)
		for _, batch := range [][]*kgo.Record{recs[:1], recs[1:2000], recs[2000:]} {
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return h(ctx, tx, batch) }); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
		}
		if got := path(); got != want {
			t.Errorf("table %s: the %s COPY path, want %s", table, got, want)
		}
	}
	for _, table := range []string{binT, genT} {
		rows, err := pool.Query(ctx, `SELECT topic, partition, "offset", key, value, headers::text, "timestamp" FROM `+table+` ORDER BY "offset"`)
		if err != nil {
			t.Fatal(err)
		}
		var (
			topic, headers string
			part, off      int64
			key, value     []byte
			ts             *time.Time
		)
		i := 0
		_, err = pgx.ForEachRow(rows, []any{&topic, &part, &off, &key, &value, &headers, &ts}, func() error {
			if i >= len(recs) {
				return fmt.Errorf("more rows than the %d records", len(recs))
			}
			r := recs[i]
			i++
			if topic != r.Topic || part != int64(r.Partition) || off != r.Offset {
				t.Errorf("%s row %d: position %s/%d@%d, want %s/%d@%d", table, i, topic, part, off, r.Topic, r.Partition, r.Offset)
			}
			if (key == nil) != (r.Key == nil) || !bytes.Equal(key, r.Key) {
				t.Errorf("%s offset %d: key %q (nil %v), want %q (nil %v)", table, off, key, key == nil, r.Key, r.Key == nil)
			}
			if (value == nil) != (r.Value == nil) || !bytes.Equal(value, r.Value) {
				t.Errorf("%s offset %d: value of %d bytes (nil %v), want %d (nil %v)", table, off, len(value), value == nil, len(r.Value), r.Value == nil)
			}
			if want := string(sink.HeadersJSON(r.Headers)); strings.ReplaceAll(headers, " ", "") != strings.ReplaceAll(want, " ", "") {
				t.Errorf("%s offset %d: headers %s, want %s", table, off, headers, want)
			}
			switch {
			case r.Timestamp.IsZero() && ts != nil:
				t.Errorf("%s offset %d: timestamp %v, want NULL", table, off, ts)
			case !r.Timestamp.IsZero() && (ts == nil || !ts.Equal(r.Timestamp)):
				t.Errorf("%s offset %d: timestamp %v, want %v", table, off, ts, r.Timestamp)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if i != len(recs) {
			t.Errorf("%s: %d rows, want %d", table, i, len(recs))
		}
	}
}
