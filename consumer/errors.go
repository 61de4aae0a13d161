package consumer

import "errors"

// The errors of this package. Conditions every eoskit package shares use
// the eoskit sentinels: eoskit.ErrInvalidOption (an *eoskit.OptionError),
// eoskit.ErrPositionLost, *eoskit.PartitionError naming the partition and
// record, and *eoskit.AccessError (eoskit.ErrAccessDenied) for
// authorization, authentication and TLS failures.
var (
	// ErrHandler: the handler failed a record after every retry, and no
	// WithOnHandlerError callback accepted it. Run stopped; the record and
	// everything after it in its partition were not committed.
	ErrHandler = errors.New("consumer: handler failed")

	// ErrCommit: a commit failed (on revoke or shutdown). The records are
	// handled again by the next owner: at least once, never skipped.
	ErrCommit = errors.New("consumer: commit failed")

	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("consumer: Run already called")

	// ErrFetch: a fetch error that cannot be retried (authorization, ...).
	ErrFetch = errors.New("consumer: fetch failed")
)
