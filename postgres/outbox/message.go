package outbox

import (
	"encoding/json"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Message is one record to publish: the relay produces it to Topic with
// its Key, Value and Headers. A nil Key or Value is stored as NULL and
// produced as a null key or value.
type Message struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []kgo.RecordHeader // stored as jsonb: [{"key":"k","value":"<base64>"}]
}

// header is a header as stored in the headers column and in a logical
// message's payload: the value in base64 (encoding/json's []byte).
type header struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// payload is a logical message's content (and the row's columns).
type payload struct {
	Topic   string   `json:"topic"`
	Key     []byte   `json:"key"`
	Value   []byte   `json:"value"`
	Headers []header `json:"headers,omitempty"`
}

func toHeaders(hs []kgo.RecordHeader) []header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]header, len(hs))
	for i, h := range hs {
		out[i] = header{Key: h.Key, Value: h.Value}
	}
	return out
}

func fromHeaders(hs []header) []kgo.RecordHeader {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return out
}

// headersJSON is the headers column's value: nil (SQL NULL) when there
// are none.
func headersJSON(hs []kgo.RecordHeader) (any, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(toHeaders(hs))
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// parseHeaders decodes the headers column's text.
func parseHeaders(text []byte) ([]kgo.RecordHeader, error) {
	if len(text) == 0 {
		return nil, nil
	}
	var hs []header
	if err := json.Unmarshal(text, &hs); err != nil {
		return nil, fmt.Errorf("headers %q are not [{\"key\":\"k\",\"value\":\"<base64>\"}]: %w", text, err)
	}
	return fromHeaders(hs), nil
}

// EncodeLogical returns the payload WithLogicalMessages writes with
// pg_logical_emit_message: the JSON object
// {"topic":"t","key":"<base64>"|null,"value":"<base64>"|null,"headers":[{"key":"k","value":"<base64>"}]}.
// Other languages write the same JSON (as text or bytea) to join the
// outbox.
func EncodeLogical(m Message) ([]byte, error) {
	if m.Topic == "" {
		return nil, fmt.Errorf("outbox: message without a topic: %w", ErrBadMessage)
	}
	return json.Marshal(payload{Topic: m.Topic, Key: m.Key, Value: m.Value, Headers: toHeaders(m.Headers)})
}

// DecodeLogical decodes a payload EncodeLogical wrote. Errors wrap
// ErrBadMessage.
func DecodeLogical(b []byte) (Message, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return Message{}, fmt.Errorf("outbox: logical message payload is not the outbox JSON: %w: %w", ErrBadMessage, err)
	}
	if p.Topic == "" {
		return Message{}, fmt.Errorf("outbox: logical message payload without a topic: %w", ErrBadMessage)
	}
	return Message{Topic: p.Topic, Key: p.Key, Value: p.Value, Headers: fromHeaders(p.Headers)}, nil
}
