package verify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProvenanceHeader is the record header in which eoskit's txn processor names
// the input record an output record came from, as "topic/partition/offset"
// (decimal). It has the same value as txn.ProvenanceHeader; this package does
// not import txn so that any pipeline can be verified with it.
const ProvenanceHeader = "eoskit-source"

// ErrBadProvenance reports a provenance header value that is not
// "topic/partition/offset".
var ErrBadProvenance = errors.New("bad provenance header")

// Pos is the position of a record: topic, partition and offset.
type Pos struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// String returns "topic/partition/offset", the provenance header format.
func (p Pos) String() string {
	return p.Topic + "/" + strconv.FormatInt(int64(p.Partition), 10) + "/" + strconv.FormatInt(p.Offset, 10)
}

// less orders positions by topic, partition, then offset.
func (p Pos) less(q Pos) bool {
	if p.Topic != q.Topic {
		return p.Topic < q.Topic
	}
	if p.Partition != q.Partition {
		return p.Partition < q.Partition
	}
	return p.Offset < q.Offset
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

func (p Pos) tp() tp { return tp{p.Topic, p.Partition} }

// ParsePos parses "topic/partition/offset" (the provenance header format).
// Kafka topic names cannot contain '/', but the last two fields are split
// off from the right anyway. Errors wrap ErrBadProvenance.
func ParsePos(s string) (Pos, error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return Pos{}, fmt.Errorf("%w: %q: want topic/partition/offset", ErrBadProvenance, s)
	}
	j := strings.LastIndexByte(s[:i], '/')
	if j <= 0 {
		return Pos{}, fmt.Errorf("%w: %q: want topic/partition/offset", ErrBadProvenance, s)
	}
	part, err := strconv.ParseInt(s[j+1:i], 10, 32)
	if err != nil || part < 0 {
		return Pos{}, fmt.Errorf("%w: %q: partition is not a non-negative number", ErrBadProvenance, s)
	}
	off, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || off < 0 {
		return Pos{}, fmt.Errorf("%w: %q: offset is not a non-negative number", ErrBadProvenance, s)
	}
	return Pos{Topic: s[:j], Partition: int32(part), Offset: off}, nil
}

// Record is what the verifier needs of a record. A nil and an empty key (or
// value) are treated as equal.
type Record struct {
	Pos
	Key   []byte
	Value []byte
	// Provenance is the value of the ProvenanceHeader header, if
	// HasProvenance. Only output records are matched by it.
	Provenance    string
	HasProvenance bool
}

// FromKgo converts a franz-go record. It keeps references to the record's
// key and value.
func FromKgo(r *kgo.Record) Record {
	rec := Record{
		Pos:   Pos{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset},
		Key:   r.Key,
		Value: r.Value,
	}
	for _, h := range r.Headers {
		if h.Key == ProvenanceHeader {
			rec.Provenance, rec.HasProvenance = string(h.Value), true
			// The last one wins, as for Kafka Streams' lastHeader.
		}
	}
	return rec
}
