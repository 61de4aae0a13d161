package admin

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSpec is the sentinel every spec problem matches with errors.Is:
// YAML that does not parse, unknown fields, and a *ValidationError from
// Validate or Plan. Nothing was changed on the cluster when it is returned.
var ErrInvalidSpec = errors.New("invalid topic spec")

// ErrNotConfirmed is returned by Delete without the ConfirmDelete option.
var ErrNotConfirmed = errors.New("not confirmed")

// Problem is one thing wrong with a spec: which topic, which field, what is
// wrong and how to fix it.
type Problem struct {
	Topic   string `json:"topic"`
	Field   string `json:"field"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
	Line    int    `json:"line,omitempty"` // line of the topic in its YAML file, if loaded from one
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	topic := p.Topic
	if topic == "" {
		topic = "(unnamed)"
	}
	fmt.Fprintf(&b, "topic %s: %s: %s", topic, p.Field, p.Message)
	if p.Fix != "" {
		b.WriteString(": " + p.Fix)
	}
	return b.String()
}

// ValidationError lists every problem found in a set of specs, so a user
// fixes them all in one round. It matches ErrInvalidSpec with errors.Is.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid topic spec: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid topic spec: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Is reports ErrInvalidSpec.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidSpec }

// TopicError is a failure of one operation on one topic during Apply,
// Describe or Delete. Err is usually a kerr error (match it with errors.Is).
type TopicError struct {
	Topic   string
	Op      string // "create", "alter configs", "add partitions", "describe", "delete"
	Err     error
	Message string // the broker's extra message, if any
}

func (e *TopicError) Error() string {
	s := fmt.Sprintf("topic %s: %s: %v", e.Topic, e.Op, e.Err)
	if e.Message != "" && !strings.Contains(s, e.Message) {
		s += ": " + e.Message
	}
	return s
}

func (e *TopicError) Unwrap() error { return e.Err }

// problems collects Problems; it keeps Validate and Plan readable.
type problems struct{ list []Problem }

func (ps *problems) add(s TopicSpec, field, msg, fix string) {
	ps.list = append(ps.list, Problem{Topic: s.Name, Field: field, Message: msg, Fix: fix, Line: s.line})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps.list}
}
