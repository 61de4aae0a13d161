package pgcopy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// headersJSON stands for sink.HeadersJSON: "[]" without headers, else the
// keys joined.
func headersJSON(hs []kgo.RecordHeader) []byte {
	if len(hs) == 0 {
		return []byte("[]")
	}
	var b []byte
	for _, h := range hs {
		b = append(b, h.Key...)
	}
	return b
}

// TestRowsFormat: Rows streams PostgreSQL's binary COPY format
// through reads of any size (here 7 bytes, across its 64 KiB chunks):
// signature, flags and extension, one 7-field tuple per record in order,
// NULLs as length -1, the trailer, then io.EOF.
func TestRowsFormat(t *testing.T) {
	ts := time.Date(2000, 1, 1, 0, 0, 1, 500000, time.UTC) // 1.0005 s after PostgreSQL's epoch
	var recs []*kgo.Record
	for i := range 2000 {
		recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i), Offset: int64(i) << 33,
			Key: []byte(fmt.Sprint(i)), Value: bytes.Repeat([]byte{'v'}, 100), Timestamp: ts})
	}
	recs[1].Key, recs[1].Value, recs[1].Timestamp = nil, nil, time.Time{}
	recs[2].Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}

	var out []byte
	c := NewRows(recs, headersJSON)
	p := make([]byte, 7)
	for {
		n, err := c.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("a Read returned 0 bytes and no error")
		}
	}
	if len(out) < 2*Chunk {
		t.Fatalf("%d bytes: the test should span several chunks", len(out))
	}
	head := append(append([]byte{}, signature...), 0, 0, 0, 0, 0, 0, 0, 0)
	if !bytes.HasPrefix(out, head) {
		t.Fatalf("header % x, want % x", out[:len(head)], head)
	}
	b := out[len(head):]
	u16 := func() int { v := int(int16(binary.BigEndian.Uint16(b))); b = b[2:]; return v }
	field := func() []byte {
		n := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if n < 0 {
			return nil
		}
		v := b[:n:n]
		b = b[n:]
		return v
	}
	for i, r := range recs {
		if n := u16(); n != 7 {
			t.Fatalf("record %d: tuple of %d fields", i, n)
		}
		topic, part, off, key, value, hdrs, tsv := field(), field(), field(), field(), field(), field(), field()
		if string(topic) != r.Topic || int32(binary.BigEndian.Uint32(part)) != r.Partition || int64(binary.BigEndian.Uint64(off)) != r.Offset {
			t.Fatalf("record %d: position %q/% x/% x", i, topic, part, off)
		}
		if (key == nil) != (r.Key == nil) || !bytes.Equal(key, r.Key) || (value == nil) != (r.Value == nil) || !bytes.Equal(value, r.Value) {
			t.Fatalf("record %d: key %q value %q", i, key, value)
		}
		if want := append([]byte{1}, headersJSON(r.Headers)...); !bytes.Equal(hdrs, want) {
			t.Fatalf("record %d: headers %q, want %q", i, hdrs, want)
		}
		switch {
		case r.Timestamp.IsZero():
			if tsv != nil {
				t.Fatalf("record %d: timestamp % x, want NULL", i, tsv)
			}
		case int64(binary.BigEndian.Uint64(tsv)) != 1000500:
			t.Fatalf("record %d: timestamp %d µs after 2000-01-01, want 1000500", i, int64(binary.BigEndian.Uint64(tsv)))
		}
	}
	if n := u16(); n != -1 || len(b) != 0 {
		t.Fatalf("trailer %d and %d bytes after it, want -1 and none", n, len(b))
	}
}
