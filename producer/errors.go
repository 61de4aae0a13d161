package producer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
)

// The errors of this package. Errors returned by this package wrap one of
// these or a shared eoskit sentinel (eoskit.ErrFenced,
// eoskit.ErrCommitOutcomeUnknown, eoskit.ErrInvalidOption, and
// *eoskit.AccessError for authorization, authentication and TLS failures,
// matching eoskit.ErrAccessDenied) and, where the broker answered, the
// underlying *kerr.Error too, so callers branch with errors.Is.
var (
	// ErrRecordTooLarge: a record (or its batch) exceeds the client's
	// ProducerBatchMaxBytes or the topic's max.message.bytes.
	ErrRecordTooLarge = errors.New("record too large")

	// ErrUnknownTopic: the topic (or partition) does not exist.
	ErrUnknownTopic = errors.New("unknown topic or partition")

	// ErrNotEnoughReplicas: fewer in-sync replicas than the topic's
	// min.insync.replicas, so an acks=all write was refused.
	ErrNotEnoughReplicas = errors.New("not enough in-sync replicas")

	// ErrAborted: the transaction was aborted, not committed (the commit was
	// refused or a record failed). Nothing it produced is visible to
	// read_committed consumers; it is safe to retry in a new transaction.
	ErrAborted = errors.New("transaction aborted")

	// ErrClosed: the producer is closed.
	ErrClosed = errors.New("producer closed")

	// ErrTxnState: a transaction method was called out of order (Begin
	// while a transaction is open, Produce after Commit, ...).
	ErrTxnState = errors.New("invalid transaction state")
)

// RecordError is one record that was not written and why.
type RecordError struct {
	Record *kgo.Record
	Err    error
}

// ProduceError lists the records of one Produce call that failed. The other
// records of the call were acknowledged by all in-sync replicas.
// errors.Is(err, ErrX) is true if any failed record has reason ErrX.
type ProduceError struct {
	Failed []RecordError
	Total  int // records in the call
}

func (e *ProduceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "producer: %d of %d records failed", len(e.Failed), e.Total)
	seen := map[string]int{}
	var order []string
	for _, f := range e.Failed {
		k := fmt.Sprintf("topic %q partition %d: %v", f.Record.Topic, f.Record.Partition, f.Err)
		if seen[k] == 0 {
			order = append(order, k)
		}
		seen[k]++
	}
	for i, k := range order {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more reasons", len(order)-3)
			break
		}
		fmt.Fprintf(&b, "; %d× %s", seen[k], k)
	}
	return b.String()
}

// Unwrap returns each failed record's error, so errors.Is and errors.As see
// every reason.
func (e *ProduceError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, f := range e.Failed {
		out = append(out, f.Err)
	}
	return out
}

// mapErr wraps a franz-go or broker error about record r with this
// package's sentinel for it and advice on what to do. Unknown errors are
// returned unchanged.
func mapErr(r *kgo.Record, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return fmt.Errorf("%w: split the record or raise ProducerBatchMaxBytes and the topic's max.message.bytes: %w", ErrRecordTooLarge, err)
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return fmt.Errorf("%w: create the topic first (eoskit never relies on auto-creation): %w", ErrUnknownTopic, err)
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		var a conn.Access
		if r != nil && r.Topic != "" {
			a.Output = []string{r.Topic}
		}
		return conn.ExplainAuthError(err, a)
	case errors.Is(err, kerr.NotEnoughReplicas), errors.Is(err, kerr.NotEnoughReplicasAfterAppend):
		return fmt.Errorf("%w: bring brokers back so the in-sync replicas reach min.insync.replicas, then produce again: %w", ErrNotEnoughReplicas, err)
	case errors.Is(err, kerr.ProducerFenced):
		return fmt.Errorf("%w: close this producer: %w", eoskit.ErrFenced, err)
	case errors.Is(err, kgo.ErrClientClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// isFencedErr reports a definitive fencing answer from the transaction
// coordinator. INVALID_PRODUCER_EPOCH counts when it answers EndTxn,
// InitProducerID or an abort (a newer epoch owns the ID); on a produce it can
// also mean the coordinator timed the transaction out, so there it only
// triggers an abort, whose answer decides.
func isFencedErr(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// outcomeUnknown reports whether an EndTxn error leaves the outcome unknown:
// anything but a definitive, non-retriable broker answer.
func outcomeUnknown(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || ke.Code == kerr.UnknownServerError.Code
	}
	return true // transport error, context deadline, ...
}

// resultsErr turns ProduceSync results into nil or a *ProduceError.
func resultsErr(rs kgo.ProduceResults) error {
	var pe *ProduceError
	for _, r := range rs {
		if r.Err == nil {
			continue
		}
		if pe == nil {
			pe = &ProduceError{Total: len(rs)}
		}
		pe.Failed = append(pe.Failed, RecordError{Record: r.Record, Err: mapErr(r.Record, r.Err)})
	}
	if pe == nil {
		return nil
	}
	return pe
}
