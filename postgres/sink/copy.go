package sink

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/internal/pgcopy"
)

// appendCopy is AppendHandler's COPY. When the table's columns have the
// types of AppendTableSQL (checked once, on the first batch), it encodes
// the records straight into PostgreSQL's binary COPY format and streams
// them through pgconn: no row of interface values per record, no encode
// plan lookup per value, no pipe goroutine (pgx.CopyFrom's costs, most of
// the client CPU of a COPY of small rows). A table of other column types
// (varchar, json, bigint partition, ...) gets pgx.CopyFrom, which converts
// to whatever the columns are.
type appendCopy struct {
	ident pgx.Identifier
	cols  []string     // pgcopy.Columns
	sql   string       // COPY ... FROM STDIN BINARY
	mode  atomic.Int32 // copyUnknown, copyBinary or copyGeneric
}

const (
	copyUnknown = iota
	copyBinary
	copyGeneric
)

func newAppendCopy(table string) *appendCopy {
	ident := pgx.Identifier(strings.Split(table, "."))
	return &appendCopy{ident: ident, cols: pgcopy.Columns(), sql: pgcopy.CopySQL(ident)}
}

func (a *appendCopy) write(ctx context.Context, tx pgx.Tx, recs []*kgo.Record) error {
	mode := a.mode.Load()
	if mode == copyUnknown {
		var err error
		if mode, err = a.check(ctx, tx); err != nil {
			return err
		}
		a.mode.Store(mode)
	}
	if mode == copyGeneric {
		return a.generic(ctx, tx, recs)
	}
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, pgcopy.NewRows(recs, HeadersJSON), a.sql)
	if err != nil {
		return err
	}
	if n := tag.RowsAffected(); n != int64(len(recs)) {
		return fmt.Errorf("sink: COPY wrote %d rows of %d", n, len(recs))
	}
	return nil
}

// check tells whether the table's columns are AppendTableSQL's types.
func (a *appendCopy) check(ctx context.Context, tx pgx.Tx) (int32, error) {
	sd, err := tx.Conn().PgConn().Prepare(ctx, "", pgcopy.SelectSQL(a.ident), nil)
	if err != nil {
		return copyUnknown, err
	}
	oids := pgcopy.OIDs()
	if len(sd.Fields) != len(oids) {
		return copyGeneric, nil
	}
	for i, f := range sd.Fields {
		if f.DataTypeOID != oids[i] {
			return copyGeneric, nil
		}
	}
	return copyBinary, nil
}

// generic is the COPY through pgx's type conversion: one row slice,
// refilled per record (pgx encodes each row before asking for the next).
func (a *appendCopy) generic(ctx context.Context, tx pgx.Tx, recs []*kgo.Record) error {
	row := make([]any, len(a.cols))
	i := 0
	_, err := tx.CopyFrom(ctx, a.ident, a.cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(recs) {
			return nil, nil
		}
		r := recs[i]
		i++
		row[0], row[1], row[2], row[3], row[4], row[5], row[6] = r.Topic, r.Partition, r.Offset, r.Key, r.Value, HeadersJSON(r.Headers), nullTime(r.Timestamp)
		return row, nil
	}))
	return err
}
