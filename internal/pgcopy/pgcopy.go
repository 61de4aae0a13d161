// Package pgcopy encodes Kafka records as rows of PostgreSQL's binary COPY
// format, straight from the records: the append table of postgres/sink
// (sink.AppendTableSQL) and the bench's COPY baseline. The format:
// https://www.postgresql.org/docs/current/sql-copy.html (Binary Format).
package pgcopy

import (
	"encoding/binary"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Columns returns the columns of a tuple, in order, and OIDs their types:
// topic text, partition integer, offset bigint, key bytea, value bytea,
// headers jsonb, timestamp timestamptz (NULL for a zero time).
func Columns() []string {
	return []string{"topic", "partition", "offset", "key", "value", "headers", "timestamp"}
}

// OIDs returns the types of Columns, in order.
func OIDs() [7]uint32 {
	return [7]uint32{pgtype.TextOID, pgtype.Int4OID, pgtype.Int8OID, pgtype.ByteaOID, pgtype.ByteaOID, pgtype.JSONBOID, pgtype.TimestamptzOID}
}

// CopySQL is the COPY statement that reads Rows into table.
func CopySQL(table pgx.Identifier) string {
	return "COPY " + table.Sanitize() + " (" + quotedColumns() + ") FROM STDIN BINARY"
}

// SelectSQL selects Columns from table: its description gives the
// columns' types, to compare with OIDs.
func SelectSQL(table pgx.Identifier) string {
	return "SELECT " + quotedColumns() + " FROM " + table.Sanitize()
}

func quotedColumns() string {
	cols := Columns()
	for i, c := range cols {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(cols, ", ")
}

// NewRows returns the rows of recs; headers encodes a record's headers
// as JSON text (it is called only for records with headers; those
// without get []).
func NewRows(recs []*kgo.Record, headers func([]kgo.RecordHeader) []byte) *Rows {
	return &Rows{recs: recs, headers: headers}
}

// Rows is an io.Reader of records in PostgreSQL's binary COPY format
// (header, one tuple of Columns per record, trailer), encoded as they are
// read, for pgconn.PgConn.CopyFrom with CopySQL's statement.
type Rows struct {
	headers func([]kgo.RecordHeader) []byte // a record's headers as JSON
	recs    []*kgo.Record
	next    int    // the next record to encode
	buf     []byte // encoded, not yet read
	off     int    // read so far of buf
	started bool
	ended   bool
}

// Chunk is how much Rows encodes ahead of a Read: about one of
// pgconn's 64 KiB CopyData messages.
const Chunk = 64 << 10

var signature = []byte("PGCOPY\n\377\r\n\000")

func (c *Rows) Read(p []byte) (int, error) {
	if c.off == len(c.buf) {
		if c.ended {
			return 0, io.EOF
		}
		c.fill()
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

// fill encodes records into buf until about Chunk bytes, and the
// trailer after the last.
func (c *Rows) fill() {
	b := c.buf[:0]
	c.off = 0
	if !c.started {
		c.started = true
		b = append(b, signature...)
		b = binary.BigEndian.AppendUint32(b, 0) // flags
		b = binary.BigEndian.AppendUint32(b, 0) // header extension length
	}
	for c.next < len(c.recs) && len(b) < Chunk {
		b = appendTuple(b, c.recs[c.next], c.headers)
		c.next++
	}
	if c.next == len(c.recs) {
		b = binary.BigEndian.AppendUint16(b, 0xffff) // trailer: -1
		c.ended = true
	}
	c.buf = b
}

// appendTuple appends r as one tuple of Columns.
func appendTuple(b []byte, r *kgo.Record, headers func([]kgo.RecordHeader) []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(OIDs())))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Topic)))
	b = append(b, r.Topic...)
	b = binary.BigEndian.AppendUint32(b, 4)
	b = binary.BigEndian.AppendUint32(b, uint32(r.Partition))
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Offset))
	b = appendField(b, r.Key, r.Key != nil)
	b = appendField(b, r.Value, r.Value != nil)
	// jsonb's binary format: version 1, then the JSON text.
	if len(r.Headers) == 0 {
		b = binary.BigEndian.AppendUint32(b, 3)
		b = append(b, 1, '[', ']')
	} else {
		j := headers(r.Headers)
		b = binary.BigEndian.AppendUint32(b, uint32(1+len(j)))
		b = append(b, 1)
		b = append(b, j...)
	}
	if r.Timestamp.IsZero() {
		return binary.BigEndian.AppendUint32(b, 0xffffffff) // NULL
	}
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(pgMicros(r.Timestamp)))
}

// appendField appends a length-prefixed field, or NULL (length -1).
func appendField(b, v []byte, notNull bool) []byte {
	if !notNull {
		return binary.BigEndian.AppendUint32(b, 0xffffffff)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// pgEpochMicros is 2000-01-01 UTC in Unix microseconds, the zero of
// PostgreSQL's timestamps.
const pgEpochMicros = 946_684_800_000_000

// pgMicros is t as timestamptz's binary value: microseconds since
// 2000-01-01 UTC.
func pgMicros(t time.Time) int64 { return t.UnixMicro() - pgEpochMicros }
