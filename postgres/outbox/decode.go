package outbox

import (
	"encoding/hex"
	"fmt"

	"github.com/jackc/pglogrepl"
)

// event is what the decoder makes of one pgoutput message.
type eventKind uint8

const (
	evNone    eventKind = iota // nothing for the relay (relation, type, origin, other tables)
	evBegin                    // a database transaction begins: LSN is its commit LSN
	evMessage                  // an outbox message: LSN and Index are its position
	evCommit                   // the transaction committed: EndLSN is where the next one starts
)

type event struct {
	kind   eventKind
	lsn    pglogrepl.LSN // commit LSN of the database transaction
	endLSN pglogrepl.LSN // evCommit: the transaction's end LSN (what the flush confirms)
	index  int           // evMessage: index within the transaction, from 0
	msg    Message
}

// decoder turns pgoutput (proto_version 1) messages into events. It keeps
// the relations it was told about and the open transaction's state. It is
// used by one goroutine.
type decoder struct {
	schema, table string // table mode; schema "" matches any
	logical       bool
	prefix        string

	relations map[uint32]*pglogrepl.RelationMessage
	inTxn     bool
	lsn       pglogrepl.LSN
	next      int // the next message's index
}

func newDecoder(c *config) *decoder {
	d := &decoder{logical: c.logical, prefix: c.prefix, relations: map[uint32]*pglogrepl.RelationMessage{}}
	id := tableIdent(c.table)
	switch len(id) {
	case 1:
		d.table = id[0]
	case 2:
		d.schema, d.table = id[0], id[1]
	}
	return d
}

// decode decodes one XLogData payload.
func (d *decoder) decode(walData []byte) (event, error) {
	m, err := pglogrepl.Parse(walData)
	if err != nil {
		return event{}, fmt.Errorf("outbox: parse pgoutput message: %w", err)
	}
	switch m := m.(type) {
	case *pglogrepl.RelationMessage:
		d.relations[m.RelationID] = m
	case *pglogrepl.BeginMessage:
		if d.inTxn {
			return event{}, fmt.Errorf("outbox: BEGIN %s inside transaction %s: the stream is out of order", m.FinalLSN, d.lsn)
		}
		d.inTxn, d.lsn, d.next = true, m.FinalLSN, 0
		return event{kind: evBegin, lsn: m.FinalLSN}, nil
	case *pglogrepl.CommitMessage:
		if !d.inTxn {
			return event{}, fmt.Errorf("outbox: COMMIT %s without BEGIN: the stream is out of order", m.CommitLSN)
		}
		if m.CommitLSN != d.lsn {
			return event{}, fmt.Errorf("outbox: COMMIT %s ends transaction %s: the stream is out of order", m.CommitLSN, d.lsn)
		}
		d.inTxn = false
		return event{kind: evCommit, lsn: m.CommitLSN, endLSN: m.TransactionEndLSN}, nil
	case *pglogrepl.InsertMessage:
		if d.logical {
			return event{}, nil
		}
		rel, ok := d.relations[m.RelationID]
		if !ok {
			return event{}, fmt.Errorf("outbox: insert into relation %d before its RELATION message", m.RelationID)
		}
		if rel.RelationName != d.table || (d.schema != "" && rel.Namespace != d.schema) {
			return event{}, nil
		}
		msg, err := rowMessage(rel, m.Tuple)
		if err != nil {
			return event{}, fmt.Errorf("outbox: row of %s.%s in transaction %s: %w", rel.Namespace, rel.RelationName, d.lsn, err)
		}
		return d.message(msg)
	case *pglogrepl.LogicalDecodingMessage:
		if !d.logical || m.Prefix != d.prefix {
			return event{}, nil
		}
		if !m.Transactional {
			// Never relayed: it is not part of a transaction, so it has
			// no commit to order it by (and is sent even if its
			// transaction rolls back).
			return event{}, fmt.Errorf("outbox: non-transactional logical message with prefix %q at %s: %w: write with pg_logical_emit_message(true, ...)", m.Prefix, m.LSN, ErrBadMessage)
		}
		msg, err := DecodeLogical(m.Content)
		if err != nil {
			return event{}, fmt.Errorf("outbox: logical message at %s in transaction %s: %w", m.LSN, d.lsn, err)
		}
		return d.message(msg)
	}
	return event{}, nil
}

func (d *decoder) message(m Message) (event, error) {
	if !d.inTxn {
		return event{}, fmt.Errorf("outbox: message outside a transaction: the stream is out of order")
	}
	ev := event{kind: evMessage, lsn: d.lsn, index: d.next, msg: m}
	d.next++
	return ev, nil
}

// rowMessage reads the outbox columns of a row (pgoutput's text format).
func rowMessage(rel *pglogrepl.RelationMessage, tuple *pglogrepl.TupleData) (Message, error) {
	if tuple == nil {
		return Message{}, fmt.Errorf("no tuple: %w", ErrBadMessage)
	}
	var m Message
	haveTopic := false
	for i, col := range tuple.Columns {
		if i >= len(rel.Columns) {
			break
		}
		name := rel.Columns[i].Name
		switch name {
		case "topic", "key", "value", "headers":
		default:
			continue
		}
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			continue
		case pglogrepl.TupleDataTypeText:
		default:
			return Message{}, fmt.Errorf("column %s sent as %q, not text: %w", name, col.DataType, ErrBadMessage)
		}
		switch name {
		case "topic":
			m.Topic, haveTopic = string(col.Data), true
		case "key", "value":
			b, err := parseBytea(col.Data)
			if err != nil {
				return Message{}, fmt.Errorf("column %s: %w", name, err)
			}
			if name == "key" {
				m.Key = b
			} else {
				m.Value = b
			}
		case "headers":
			hs, err := parseHeaders(col.Data)
			if err != nil {
				return Message{}, fmt.Errorf("column headers: %w: %w", ErrBadMessage, err)
			}
			m.Headers = hs
		}
	}
	if !haveTopic || m.Topic == "" {
		return Message{}, fmt.Errorf("row without a topic: %w", ErrBadMessage)
	}
	return m, nil
}

// parseBytea decodes bytea's text output in the hex format ("\x0102"),
// PostgreSQL's default since 9.0 (bytea_output = hex).
func parseBytea(text []byte) ([]byte, error) {
	if len(text) < 2 || text[0] != '\\' || text[1] != 'x' {
		return nil, fmt.Errorf("bytea %q is not in hex format (set bytea_output = hex): %w", truncate(text), ErrBadMessage)
	}
	out := make([]byte, hex.DecodedLen(len(text)-2))
	if _, err := hex.Decode(out, text[2:]); err != nil {
		return nil, fmt.Errorf("bytea: %w: %w", ErrBadMessage, err)
	}
	return out, nil
}

func truncate(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}
