package eoskit

import (
	"errors"
	"fmt"
	"strings"
)

// The failures callers branch on. Every eoskit package returns errors that
// match these with errors.Is, whichever package saw the failure.
var (
	// ErrInvalidOption reports options or a Conn a constructor cannot run
	// with, or a franz-go option (Conn.KgoOpts) that would undo a
	// guarantee. The error (an *OptionError) lists every problem at once,
	// each naming the option to fix. Fix the code; retrying cannot help.
	ErrInvalidOption = errors.New("invalid option")

	// ErrFenced reports that another producer with the same transactional
	// ID initialised after this one (a newer epoch): this instance is a
	// zombie. It is final for this producer: stop it and make sure two
	// running instances never share a transactional ID. Retrying with the
	// same ID would fence the newer instance in turn.
	ErrFenced = errors.New("producer fenced: another instance took over the transactional ID")

	// ErrCommitOutcomeUnknown reports a commit that was sent but whose
	// answer was lost (timeout, connection loss, unknown server error):
	// the transaction may or may not be committed. eoskit never aborts on
	// the same producer epoch afterwards (KAFKA-17754); it re-initialises
	// the producer. Treat the transaction's work as "maybe written".
	ErrCommitOutcomeUnknown = errors.New("transaction commit outcome unknown")

	// ErrAccessDenied reports that the cluster refused the credentials
	// (authentication), an ACL (authorization) or the TLS handshake. No
	// retry fixes it: the *AccessError says what was denied.
	ErrAccessDenied = errors.New("access denied")

	// ErrPositionLost reports that a partition's committed position is out
	// of range or that data below it was lost (truncation, retention).
	// eoskit never resets offsets silently: an operator decides where the
	// group resumes (kadm, kafka-consumer-groups --reset-offsets).
	ErrPositionLost = errors.New("partition position lost: refusing to reset offsets silently")

	// ErrNotSettled reports that a verification could not read a
	// partition to its end: an open transaction holds the last stable
	// offset below the high watermark, so records after it are unread. A
	// verification that has not read everything never passes.
	ErrNotSettled = errors.New("partition not settled: an open transaction holds its last stable offset")

	// ErrUnproducible reports an output record that can never be produced
	// (too large, unknown topic, not authorized, invalid record): retrying
	// cannot help. The *UnproducibleError names the input record it came
	// from.
	ErrUnproducible = errors.New("record can never be produced")
)

// OptionError lists every problem found while validating options. It
// matches ErrInvalidOption.
type OptionError struct {
	Package  string   // the package whose constructor refused, e.g. "txn"
	Problems []string // each names the option to fix
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%s: invalid options: %s", e.Package, strings.Join(e.Problems, "; "))
}

// Is reports ErrInvalidOption.
func (e *OptionError) Is(target error) bool { return target == ErrInvalidOption }

// Problems collects validation problems; Err returns nil or an
// *OptionError with all of them.
type Problems struct {
	pkg  string
	list []string
}

// NewProblems starts a problem list for package pkg.
func NewProblems(pkg string) *Problems { return &Problems{pkg: pkg} }

// Addf records a problem.
func (p *Problems) Addf(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// Add records err's message as a problem (nil is ignored). An
// *OptionError's problems are merged.
func (p *Problems) Add(err error) {
	var oe *OptionError
	switch {
	case err == nil:
	case errors.As(err, &oe):
		p.list = append(p.list, oe.Problems...)
	default:
		p.list = append(p.list, err.Error())
	}
}

// Err returns nil when there is no problem, else an *OptionError.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &OptionError{Package: p.pkg, Problems: append([]string(nil), p.list...)}
}

// The kinds of access failure an *AccessError reports. Each also matches
// ErrAccessDenied.
var (
	ErrAuthentication = errors.New("authentication failed")
	ErrAuthorization  = errors.New("not authorized")
	ErrTLS            = errors.New("TLS handshake failed")
)

// AccessError explains an authentication, authorization or TLS failure in
// one line. errors.Is matches ErrAccessDenied and its Kind
// (ErrAuthentication, ErrAuthorization, ErrTLS); it unwraps to the
// broker's or TLS stack's own error, so errors.Is(err,
// kerr.TopicAuthorizationFailed) keeps working.
type AccessError struct {
	Kind      error  // ErrAuthentication, ErrAuthorization or ErrTLS
	Operation string // authorization: READ, WRITE, IDEMPOTENT_WRITE...
	Resource  string // authorization: `TOPIC "orders"`, `TRANSACTIONAL_ID "app-0"`...
	Msg       string // what happened and what to do
	Fix       string // what to change: one of the Fix* constants ("" if unknown)
	Err       error
}

// What an *AccessError's Fix says must change; a CLI maps them to its flags.
const (
	FixCredentials = "credentials" // the SASL user name or password
	FixMechanism   = "mechanism"   // the SASL mechanism
	FixCA          = "ca"          // trust the CA that signed the brokers' certificates
	FixServerName  = "server-name" // verify the certificates for another name
	FixClientCert  = "client-cert" // present a client certificate the brokers trust (mTLS)
	FixNotTLS      = "not-tls"     // the listener does not speak TLS
	FixACL         = "acl"         // grant the ACL named by Operation and Resource
)

func (e *AccessError) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + " (" + e.Err.Error() + ")"
}

// Unwrap returns the original error.
func (e *AccessError) Unwrap() error { return e.Err }

// Is reports ErrAccessDenied and e's Kind.
func (e *AccessError) Is(target error) bool { return target == ErrAccessDenied || target == e.Kind }

// PartitionError says which partition (and, where it applies, which
// record) an error is about. It unwraps to the error.
type PartitionError struct {
	Topic     string
	Partition int32
	Offset    int64 // the record's offset; -1 when not about one record
	Err       error
}

func (e *PartitionError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("topic %q partition %d offset %d: %v", e.Topic, e.Partition, e.Offset, e.Err)
	}
	return fmt.Sprintf("topic %q partition %d: %v", e.Topic, e.Partition, e.Err)
}

// Unwrap returns the error.
func (e *PartitionError) Unwrap() error { return e.Err }

// UnproducibleError names an output record that can never be produced and
// the input record it came from. It matches ErrUnproducible and unwraps to
// the produce error (e.g. kerr.MessageTooLarge).
type UnproducibleError struct {
	InputTopic     string // the input record the output came from ("" if none)
	InputPartition int32
	InputOffset    int64
	OutputTopic    string
	Err            error
}

func (e *UnproducibleError) Error() string {
	in := "no input record"
	if e.InputTopic != "" {
		in = fmt.Sprintf("input %s/%d/%d", e.InputTopic, e.InputPartition, e.InputOffset)
	}
	return fmt.Sprintf("output to topic %q can never be produced (%s): %v: fix the handler or the topic, or set a dead-letter topic to route such inputs aside",
		e.OutputTopic, in, e.Err)
}

// Unwrap returns ErrUnproducible and the produce error.
func (e *UnproducibleError) Unwrap() []error { return []error{ErrUnproducible, e.Err} }
