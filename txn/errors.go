package txn

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

var (
	// ErrInvalidOption reports a configuration New cannot run with. The
	// message names the option to fix.
	ErrInvalidOption = errors.New("invalid option")

	// ErrFenced reports that another producer with the same transactional
	// ID took over (or the coordinator bumped this producer's epoch). Run
	// stops with it: retrying would fence the newer instance in turn. Make
	// sure two running instances never share a transactional ID, then
	// restart this one.
	ErrFenced = errors.New("producer fenced: another instance uses this transactional ID")

	// ErrOffsetReset reports that consuming an input partition would have
	// needed an offset reset (OffsetOutOfRange or detected data loss). An
	// exactly-once processor never rewinds or skips silently: Run stops
	// and an operator decides where the group resumes (for example with
	// kadm or kafka-consumer-groups --reset-offsets).
	ErrOffsetReset = errors.New("input offset out of range: refusing to reset offsets silently")

	// ErrAccessDenied reports that the cluster refused this processor's
	// credentials (authentication), an ACL it needs (authorization), or the
	// TLS handshake. Run stops at once with a message naming what was
	// denied and the `eosctl acls apply` command that grants it; the
	// broker's own error (e.g. kerr.TransactionalIDAuthorizationFailed)
	// stays matchable with errors.Is.
	ErrAccessDenied = errors.New("access denied")

	// ErrHandler is wrapped by every *HandlerError.
	ErrHandler = errors.New("handler failed")
)

// HandlerError is returned by Run when the handler kept failing on an input
// record after every retry and no dead-letter topic is configured. The open
// transaction was aborted, so the record was not consumed: a restart meets
// it again. errors.Is(err, ErrHandler) is true; Unwrap also yields the
// handler's own error.
type HandlerError struct {
	Topic     string
	Partition int32
	Offset    int64
	Attempts  int
	Err       error
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("txn: handler failed %d times on %s/%d/%d: %v (fix the handler or the record, or set DeadLetterTopic to route such records aside)",
		e.Attempts, e.Topic, e.Partition, e.Offset, e.Err)
}

// Unwrap returns ErrHandler and the handler's error.
func (e *HandlerError) Unwrap() []error { return []error{ErrHandler, e.Err} }

// isFenced reports the errors after which this transactional ID must stop.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

func isOffsetOutOfRange(err error) bool { return errors.Is(err, kerr.OffsetOutOfRange) }
