package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/eoskit/eoskit"
)

// maxRowsPerInsert keeps an INSERT under PostgreSQL's 65535 parameters.
const maxRowsPerInsert = 1000

// Writer writes messages into the outbox inside the caller's database
// transaction. It is immutable and safe for concurrent use.
type Writer struct {
	table   string // sanitized
	logical bool
	prefix  string
}

// NewWriter returns a Writer for the table (WithTable, default
// DefaultTable) or, with WithLogicalMessages, for logical decoding
// messages. Other options are ignored. Errors are an *eoskit.OptionError.
func NewWriter(opts ...WriterOption) (*Writer, error) {
	c := newConfig(opts)
	p := eoskit.NewProblems("outbox")
	c.validateWriter(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	w := &Writer{logical: c.logical, prefix: c.prefix}
	if !c.logical {
		w.table = tableIdent(c.table).Sanitize()
	}
	return w, nil
}

var defaultWriter = &Writer{table: pgx.Identifier{DefaultTable}.Sanitize()}

// Write inserts msgs into the default outbox table (DefaultTable) inside
// the application's transaction tx: they are relayed if and only if tx
// commits.
func Write(ctx context.Context, tx pgx.Tx, msgs ...Message) error {
	return defaultWriter.Write(ctx, tx, msgs...)
}

// WriteSQL is Write for a database/sql transaction (pgx's stdlib driver
// or lib/pq).
func WriteSQL(ctx context.Context, tx *sql.Tx, msgs ...Message) error {
	return defaultWriter.WriteSQL(ctx, tx, msgs...)
}

// Write writes msgs inside tx, in order: the relay produces them in this
// order, after every message of transactions that committed before tx.
func (w *Writer) Write(ctx context.Context, tx pgx.Tx, msgs ...Message) error {
	return w.write(ctx, msgs, func(ctx context.Context, q string, args []any) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
}

// WriteSQL is Write for a database/sql transaction.
func (w *Writer) WriteSQL(ctx context.Context, tx *sql.Tx, msgs ...Message) error {
	return w.write(ctx, msgs, func(ctx context.Context, q string, args []any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
}

func (w *Writer) write(ctx context.Context, msgs []Message, exec func(context.Context, string, []any) error) error {
	for i, m := range msgs {
		if m.Topic == "" {
			return fmt.Errorf("outbox: write: message %d has no topic: %w", i, ErrBadMessage)
		}
	}
	if w.logical {
		for i, m := range msgs {
			b, err := EncodeLogical(m)
			if err != nil {
				return fmt.Errorf("outbox: write: message %d: %w", i, err)
			}
			if err := exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2::bytea)", []any{w.prefix, b}); err != nil {
				return fmt.Errorf("outbox: write logical message %d: %w", i, err)
			}
		}
		return nil
	}
	for start := 0; start < len(msgs); start += maxRowsPerInsert {
		chunk := msgs[start:min(start+maxRowsPerInsert, len(msgs))]
		var q strings.Builder
		q.WriteString("INSERT INTO ")
		q.WriteString(w.table)
		q.WriteString(" (topic, key, value, headers) VALUES ")
		args := make([]any, 0, 4*len(chunk))
		for i, m := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := 4 * i
			fmt.Fprintf(&q, "($%d, $%d::bytea, $%d::bytea, $%d::text::jsonb)", n+1, n+2, n+3, n+4)
			h, err := headersJSON(m.Headers)
			if err != nil {
				return fmt.Errorf("outbox: write: message %d headers: %w", start+i, err)
			}
			args = append(args, m.Topic, m.Key, m.Value, h)
		}
		if err := exec(ctx, q.String(), args); err != nil {
			return fmt.Errorf("outbox: write %d messages into %s: %w", len(chunk), w.table, err)
		}
	}
	return nil
}
