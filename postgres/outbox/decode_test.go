package outbox

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/jackc/pglogrepl"
)

// pgoutput (proto_version 1) message fixtures, byte for byte as the
// server sends them.

func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func cstr(b []byte, s string) []byte { return append(append(b, s...), 0) }

func beginMsg(final pglogrepl.LSN, xid uint32) []byte {
	b := []byte{'B'}
	b = be64(b, uint64(final))
	b = be64(b, 0) // commit time
	return be32(b, xid)
}

func commitMsg(commit, end pglogrepl.LSN) []byte {
	b := []byte{'C', 0}
	b = be64(b, uint64(commit))
	b = be64(b, uint64(end))
	return be64(b, 0)
}

func relationMsg(id uint32, ns, name string, cols ...string) []byte {
	b := be32([]byte{'R'}, id)
	b = cstr(b, ns)
	b = cstr(b, name)
	b = append(b, 'd')
	b = be16(b, uint16(len(cols)))
	for _, c := range cols {
		b = append(b, 0)
		b = cstr(b, c)
		b = be32(b, 25) // text
		b = be32(b, 0xFFFFFFFF)
	}
	return b
}

// insertMsg: values nil are NULL, others text.
func insertMsg(rel uint32, values ...*string) []byte {
	b := be32([]byte{'I'}, rel)
	b = append(b, 'N')
	b = be16(b, uint16(len(values)))
	for _, v := range values {
		if v == nil {
			b = append(b, 'n')
			continue
		}
		b = append(b, 't')
		b = be32(b, uint32(len(*v)))
		b = append(b, *v...)
	}
	return b
}

func logicalMsg(transactional bool, lsn pglogrepl.LSN, prefix string, content []byte) []byte {
	flags := byte(0)
	if transactional {
		flags = 1
	}
	b := []byte{'M', flags}
	b = be64(b, uint64(lsn))
	b = cstr(b, prefix)
	b = be32(b, uint32(len(content)))
	return append(b, content...)
}

func s(v string) *string { return &v }

func tableDecoder(t *testing.T, opts ...Option) *decoder {
	t.Helper()
	c := newConfig(opts)
	return newDecoder(&c)
}

func decodeAll(t *testing.T, d *decoder, msgs ...[]byte) []event {
	t.Helper()
	var out []event
	for i, m := range msgs {
		ev, err := d.decode(m)
		if err != nil {
			t.Fatalf("message %d (%c): %v", i, m[0], err)
		}
		if ev.kind != evNone {
			out = append(out, ev)
		}
	}
	return out
}

// Several rows at one commit LSN get indexes 0, 1, 2; the next
// transaction starts at 0 again; rows of other tables are not messages.
func TestDecodeTableRows(t *testing.T) {
	d := tableDecoder(t)
	cols := []string{"id", "topic", "key", "value", "headers", "created_at"}
	evs := decodeAll(t, d,
		relationMsg(7, "public", "eoskit_outbox", cols...),
		relationMsg(8, "public", "other", "topic"),
		beginMsg(0x16B3748, 1),
		insertMsg(7, s("1"), s("orders"), s(`\x6b31`), s(`\x7631`), s(`[{"key": "h", "value": "aGk="}]`), s("now")),
		insertMsg(8, s("x")),
		insertMsg(7, s("2"), s("orders"), nil, s(`\x`), nil, s("now")),
		insertMsg(7, s("3"), s("payments"), s(`\x00ff`), nil, s(`[]`), s("now")),
		commitMsg(0x16B3748, 0x16B3790),
		beginMsg(0x16B4000, 2),
		insertMsg(7, s("4"), s("orders"), s(`\x6b31`), s(`\x7632`), nil, s("now")),
		commitMsg(0x16B4000, 0x16B4040),
	)
	type want struct {
		kind         eventKind
		lsn          pglogrepl.LSN
		index        int
		topic        string
		key, value   string
		keyNil, vNil bool
		headers      int
	}
	wants := []want{
		{kind: evBegin, lsn: 0x16B3748},
		{kind: evMessage, lsn: 0x16B3748, index: 0, topic: "orders", key: "k1", value: "v1", headers: 1},
		{kind: evMessage, lsn: 0x16B3748, index: 1, topic: "orders", keyNil: true, value: ""},
		{kind: evMessage, lsn: 0x16B3748, index: 2, topic: "payments", key: "\x00\xff", vNil: true},
		{kind: evCommit, lsn: 0x16B3748},
		{kind: evBegin, lsn: 0x16B4000},
		{kind: evMessage, lsn: 0x16B4000, index: 0, topic: "orders", key: "k1", value: "v2"},
		{kind: evCommit, lsn: 0x16B4000},
	}
	if len(evs) != len(wants) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(wants), evs)
	}
	for i, w := range wants {
		ev := evs[i]
		if ev.kind != w.kind || ev.lsn != w.lsn || ev.index != w.index {
			t.Errorf("event %d: kind %d lsn %s index %d, want kind %d lsn %s index %d", i, ev.kind, ev.lsn, ev.index, w.kind, w.lsn, w.index)
		}
		if w.kind != evMessage {
			continue
		}
		m := ev.msg
		if m.Topic != w.topic || string(m.Key) != w.key || (m.Key == nil) != w.keyNil || string(m.Value) != w.value ||
			(m.Value == nil) != w.vNil || len(m.Headers) != w.headers {
			t.Errorf("event %d: message %+v, want %+v", i, m, w)
		}
	}
	if h := evs[1].msg.Headers[0]; h.Key != "h" || string(h.Value) != "hi" {
		t.Errorf("header %+v, want h=hi", h)
	}
	if evs[4].endLSN != 0x16B3790 {
		t.Errorf("commit end LSN %s, want 0/16B3790", evs[4].endLSN)
	}
}

func TestDecodeSchemaQualifiedTable(t *testing.T) {
	d := tableDecoder(t, WithTable("app.outbox"))
	evs := decodeAll(t, d,
		relationMsg(1, "public", "outbox", "topic"),
		relationMsg(2, "app", "outbox", "topic"),
		beginMsg(100, 1),
		insertMsg(1, s("wrong-schema")),
		insertMsg(2, s("right")),
		commitMsg(100, 120),
	)
	if len(evs) != 3 || evs[1].msg.Topic != "right" {
		t.Fatalf("events %+v, want begin, the app.outbox row, commit", evs)
	}
}

func TestDecodeLogicalMessages(t *testing.T) {
	d := tableDecoder(t, WithLogicalMessages("app"))
	p0, _ := EncodeLogical(Message{Topic: "t", Key: []byte("k"), Value: []byte("v0")})
	p1, _ := EncodeLogical(Message{Topic: "t", Value: []byte("v1")})
	evs := decodeAll(t, d,
		relationMsg(1, "public", "eoskit_outbox", "topic"),
		beginMsg(500, 9),
		insertMsg(1, s("a table row is not a message in logical mode")),
		logicalMsg(true, 480, "app", p0),
		logicalMsg(true, 490, "other", []byte("ignored")),
		logicalMsg(true, 495, "app", p1),
		commitMsg(500, 520),
	)
	if len(evs) != 4 || evs[1].index != 0 || evs[2].index != 1 || string(evs[1].msg.Value) != "v0" || evs[2].msg.Key != nil ||
		evs[1].lsn != 500 || evs[2].lsn != 500 {
		t.Fatalf("events %+v, want two messages at commit LSN 500 with indexes 0 and 1", evs)
	}
	// Non-transactional messages with the prefix are refused, not dropped.
	if _, err := d.decode(logicalMsg(false, 600, "app", p0)); !errors.Is(err, ErrBadMessage) {
		t.Errorf("non-transactional message: %v, want ErrBadMessage", err)
	}
	d2 := tableDecoder(t, WithLogicalMessages("app"))
	decodeAll(t, d2, beginMsg(700, 1))
	if _, err := d2.decode(logicalMsg(true, 690, "app", []byte("not json"))); !errors.Is(err, ErrBadMessage) {
		t.Errorf("undecodable payload: %v, want ErrBadMessage", err)
	}
}

func TestDecodeRefusesBadRowsAndDisorder(t *testing.T) {
	cases := map[string][][]byte{
		"no topic":         {relationMsg(1, "public", "eoskit_outbox", "topic", "key"), beginMsg(10, 1), insertMsg(1, nil, s(`\x01`))},
		"bytea not hex":    {relationMsg(1, "public", "eoskit_outbox", "topic", "key"), beginMsg(10, 1), insertMsg(1, s("t"), s(`\001`))},
		"headers not json": {relationMsg(1, "public", "eoskit_outbox", "topic", "headers"), beginMsg(10, 1), insertMsg(1, s("t"), s(`{`))},
	}
	for name, msgs := range cases {
		t.Run(name, func(t *testing.T) {
			d := tableDecoder(t)
			var err error
			for _, m := range msgs {
				if _, err = d.decode(m); err != nil {
					break
				}
			}
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("err %v, want ErrBadMessage", err)
			}
		})
	}
	d := tableDecoder(t)
	if _, err := d.decode(commitMsg(10, 20)); err == nil {
		t.Error("COMMIT without BEGIN accepted")
	}
	decodeAll(t, d, beginMsg(10, 1))
	if _, err := d.decode(beginMsg(30, 2)); err == nil {
		t.Error("BEGIN inside a transaction accepted")
	}
	if _, err := d.decode(commitMsg(11, 20)); err == nil {
		t.Error("COMMIT of another LSN accepted")
	}
	if _, err := d.decode(insertMsg(99, s("t"))); err == nil {
		t.Error("insert into an unknown relation accepted")
	}
}
