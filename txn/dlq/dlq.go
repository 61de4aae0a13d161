package dlq

import (
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/txn"
)

// ReplayCountHeader counts how many times a record was replayed out of a
// dead-letter topic (decimal). A replayed record carries it; a pipeline
// that dead-letters it again copies it, so the next replay sees the count
// and raises it.
const ReplayCountHeader = "eoskit-replay-count"

// headerPrefix starts every header txn adds when dead-lettering.
const headerPrefix = "eoskit-dlq-"

// Header is a record header as text.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Record is a dead-lettered record with its eoskit-dlq-* headers decoded.
type Record struct {
	Partition       int32     `json:"partition"` // in the dead-letter topic
	Offset          int64     `json:"offset"`
	Timestamp       time.Time `json:"timestamp"`
	Key             string    `json:"key"`
	Value           string    `json:"value"`
	Error           string    `json:"error"`             // txn.DeadLetterError: why the handler gave up
	SourceTopic     string    `json:"sourceTopic"`       // txn.DeadLetterTopicHeader: where it was consumed from ("" when not a dead letter)
	SourcePartition int32     `json:"sourcePartition"`   // txn.DeadLetterPartition (-1 when absent)
	SourceOffset    int64     `json:"sourceOffset"`      // txn.DeadLetterOffset (-1 when absent)
	ReplayCount     int       `json:"replayCount"`       // ReplayCountHeader: replays so far
	Headers         []Header  `json:"headers,omitempty"` // the others, in order
}

// Decode decodes a record read from a dead-letter topic. Missing or
// malformed headers leave their fields empty (-1 for the numbers, 0 for
// the replay count).
func Decode(r *kgo.Record) Record {
	d := Record{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(), Key: string(r.Key), Value: string(r.Value),
		SourcePartition: -1, SourceOffset: -1}
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case txn.DeadLetterError:
			d.Error = v
		case txn.DeadLetterTopicHeader:
			d.SourceTopic = v
		case txn.DeadLetterPartition:
			if n, err := strconv.ParseInt(v, 10, 32); err == nil {
				d.SourcePartition = int32(n)
			}
		case txn.DeadLetterOffset:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				d.SourceOffset = n
			}
		case ReplayCountHeader:
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				d.ReplayCount = n
			}
		default:
			d.Headers = append(d.Headers, Header{h.Key, v})
		}
	}
	return d
}

// Redrive returns the record to write back for a dead-lettered record: to
// topic to, or, when to is empty, to its origin (the txn.DeadLetterTopicHeader
// header); with its key, value, timestamp and headers, without the
// eoskit-dlq-* headers, and with ReplayCountHeader raised by one. It
// returns nil when to is empty and the record names no origin.
func Redrive(r *kgo.Record, to string) *kgo.Record {
	d := Decode(r)
	if to == "" {
		to = d.SourceTopic
	}
	if to == "" {
		return nil
	}
	hs := make([]kgo.RecordHeader, 0, len(r.Headers)+1)
	for _, h := range r.Headers {
		if !strings.HasPrefix(h.Key, headerPrefix) && h.Key != ReplayCountHeader {
			hs = append(hs, h)
		}
	}
	hs = append(hs, kgo.RecordHeader{Key: ReplayCountHeader, Value: []byte(strconv.Itoa(d.ReplayCount + 1))})
	return &kgo.Record{Topic: to, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: hs}
}

// requeue returns r unchanged, to be written again at the end of topic.
func requeue(r *kgo.Record, topic string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
		Headers: append([]kgo.RecordHeader(nil), r.Headers...)}
}
