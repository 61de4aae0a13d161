package eoskit

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Hook is any value implementing one or more of the Hook* interfaces. A
// single value (a metrics plugin, a logger, a test recorder) may implement
// all of them and be passed to every package's WithHooks option.
type Hook any

// TxnOutcome is how a transaction ended, as the client saw it.
type TxnOutcome uint8

const (
	TxnCommitted      TxnOutcome = iota + 1 // committed: its outputs are visible to read_committed readers
	TxnAborted                              // aborted: nothing it produced is visible; its input is redone
	TxnOutcomeUnknown                       // commit sent, answer lost: maybe committed (ErrCommitOutcomeUnknown)
	TxnFenced                               // a newer instance took the transactional ID (ErrFenced)
)

func (o TxnOutcome) String() string {
	switch o {
	case TxnCommitted:
		return "committed"
	case TxnAborted:
		return "aborted"
	case TxnOutcomeUnknown:
		return "unknown"
	case TxnFenced:
		return "fenced"
	}
	return "invalid"
}

// AbortReason says why a transaction was aborted (TxnEnd.Reason). Its
// String values are low-cardinality metric labels.
type AbortReason uint8

const (
	AbortNone         AbortReason = iota // not aborted
	AbortRebalance                       // partitions were revoked or lost
	AbortProduceError                    // an output failed
	AbortHandlerError                    // the handler failed (TxProducer: the Run function returned an error)
	AbortShutdown                        // the context was cancelled with records unhandled
	AbortRequested                       // the caller aborted (Tx.Abort)
	AbortOther                           // a failure before commit (begin, flush, coordinator)
)

func (r AbortReason) String() string {
	switch r {
	case AbortNone:
		return ""
	case AbortRebalance:
		return "rebalance"
	case AbortProduceError:
		return "produce_error"
	case AbortHandlerError:
		return "handler_error"
	case AbortShutdown:
		return "shutdown"
	case AbortRequested:
		return "requested"
	}
	return "other"
}

// TxnEnd describes one ended transaction, whether producer.TxProducer or
// txn.Processor ended it.
type TxnEnd struct {
	TransactionalID string
	Group           string // txn.Processor's consumer group; "" for a TxProducer
	ProducerID      int64  // the producer ID and epoch the transaction ran on (-1 if unknown)
	Epoch           int16
	Outcome         TxnOutcome
	Reason          AbortReason // why it aborted (Outcome TxnAborted)

	Records      int // input records consumed (txn.Processor)
	Outputs      int // records produced, dead letters included
	DeadLettered int // input records routed to the dead-letter topic

	Began    time.Time     // when the transaction began
	Flush    time.Duration // phase: waiting for every produced record's answer
	Commit   time.Duration // phase: offset commit and EndTxn (franz-go's End), or EndTxn alone
	Duration time.Duration // from the start of ending to its outcome (Flush + Commit + recovery)

	// Offsets are the input offsets (the next offset to consume, per
	// topic and partition) the transaction committed or tried to commit;
	// nil for a TxProducer. A history checker compares them with what
	// read_committed readers see.
	Offsets map[string]map[int32]int64
	Err     error // the error, for unknown, fenced and failed ends
}

// HookTxnEnd is called once per ended transaction.
type HookTxnEnd interface{ OnTxnEnd(TxnEnd) }

// TxnBegin describes a transaction that began.
type TxnBegin struct {
	TransactionalID string
	Group           string
	At              time.Time
}

// HookTxnBegin is called when a transaction begins.
type HookTxnBegin interface{ OnTxnBegin(TxnBegin) }

// Produced is one produced record's outcome: Err nil means acknowledged
// by all in-sync replicas (inside a transaction: written, visible once the
// transaction commits).
type Produced struct {
	Record *kgo.Record
	Err    error
}

// HookProduce is called once per produced record with its outcome (but
// see HookProducedRun).
type HookProduce interface{ OnProduce(Produced) }

// ProducedRun counts produced records that the HookProducedRun hooks were
// not given one by one: records of one transaction acknowledged without
// error.
type ProducedRun struct {
	TransactionalID string
	Records         int
}

// HookProducedRun is an optional companion of HookProduce for hooks that
// only count acknowledged records (metrics/prom, otel.Meter). When every
// HookProduce hook of a txn.Processor implements it too, an output whose
// produce succeeded builds no Produced event: the transaction counts
// them, and once every one of its produces is answered (before its
// HookTxnEnd; after a failed end that left records in flight, when the
// session's client has closed) reaches OnProducedRun once. Failed
// produces still reach OnProduce at once, so OnProduce plus
// OnProducedRun see every output exactly once. producer.Producer and
// producer.Tx call OnProduce for every record. A hook that implements
// HookProducedRun without HookProduce is not called.
type HookProducedRun interface{ OnProducedRun(ProducedRun) }

// Handled is one handler call on one input record (or, for a batch
// handler, the batch's first record with Batch set to the batch size).
type Handled struct {
	Group   string
	Record  *kgo.Record
	Batch   int // records handled in the call (1 for a per-record handler)
	Attempt int // 1 for the first try, 2 for the first retry...
	// Duration is how long the call took, when it was timed. txn and
	// consumer time a sample of the calls (the first of each handler
	// loop and one in 64 after it: two clock reads cost more than a
	// light handler) and set Untimed on the others, whose Duration is 0.
	Duration time.Duration
	Untimed  bool
	Err      error
	// Context is the context the handler ran with (what the
	// HookRecordContext hooks returned), so that a tracing hook can end
	// the span it started there; nil from packages that do not call
	// HookRecordContext.
	Context context.Context
}

// HookHandled is called after every handler call (but see
// HookHandledRun).
type HookHandled interface{ OnHandled(Handled) }

// HandledRun counts handler calls that the HookHandledRun hooks were not
// given one by one: calls, each on one input record, that succeeded at
// their first attempt and were not timed (Handled.Untimed).
type HandledRun struct {
	Group string
	Calls int         // handler calls in the run, one record each
	Last  *kgo.Record // the run's last record (consumer: all of one partition)
}

// HookHandledRun is an optional companion of HookHandled for hooks that
// only count calls (metrics/prom, otel.Meter; otel.Tracer, which has no
// span to end for a call without a context). When every HookHandled hook
// of a consumer.Consumer or txn.Processor implements it too, a call that
// succeeded at its first attempt untimed builds no Handled event (for a
// Processor with a per-record handler: also, its HookRecordContext hooks
// returned the handler's context unchanged, so there is no span of the
// call's for OnHandled to end): such calls are counted and each run reaches
// OnHandledRun once (a consumer: every 256 calls of a partition worker
// and when its fetched batch is done; a Processor: once per poll).
// Timed, failed and retried calls still reach OnHandled,
// so OnHandled plus OnHandledRun see every call exactly once. A hook that
// implements HookHandledRun without HookHandled is not called.
type HookHandledRun interface{ OnHandledRun(HandledRun) }

// HookRecordContext is called before each handler call on an input
// record (each attempt) with the context the handler would get; the
// handler runs with the context it returns (a tracing hook returns one
// carrying the record's span, continuing the trace of the record's
// headers). With several such hooks, each gets the previous one's
// context. It must return a context derived from ctx.
type HookRecordContext interface {
	OnRecordContext(ctx context.Context, in *kgo.Record) context.Context
}

// HookBatchContext is HookRecordContext for a batch handler
// (txn.NewBatch): called before each batch handler call (each attempt)
// with the context the handler would get and the batch's records; the
// handler runs with the context it returns (a tracing hook returns one
// carrying the call's span, linked to the records' traces), which is also
// Handled.Context and HookEmit's context for the call's outputs. It must
// return a context derived from ctx and must not keep or change recs.
type HookBatchContext interface {
	OnBatchContext(ctx context.Context, recs []*kgo.Record) context.Context
}

// HookEmit is called for every output record the handler emits, before it
// is produced, with the handler's context (HookRecordContext's) and the
// input record it came from (nil when none). A hook may add headers to out
// (a tracing hook injects the W3C traceparent); it must not change
// anything else.
type HookEmit interface {
	OnEmit(ctx context.Context, in, out *kgo.Record)
}

// Assignment is a group rebalance event.
type Assignment struct {
	Group      string
	Partitions map[string][]int32
	Lost       bool // revoked without a clean hand-over (session timeout, fenced member)
}

// HookAssigned is called when the group assigns partitions to this member.
type HookAssigned interface{ OnAssigned(Assignment) }

// HookRevoked is called when partitions are revoked or lost.
type HookRevoked interface{ OnRevoked(Assignment) }

// Committed is a consumer offset commit outside a transaction.
type Committed struct {
	Group   string
	Offsets map[string]map[int32]int64 // next offsets to consume
	Err     error
}

// HookCommit is called after each offset commit attempt of a
// non-transactional consumer.
type HookCommit interface{ OnCommit(Committed) }

// DeadLetter is an input record routed aside.
type DeadLetter struct {
	Group  string
	Record *kgo.Record // the input record
	To     string      // the dead-letter topic (or table)
	Err    error       // why it was routed aside
}

// HookDeadLetter is called when an input record is dead-lettered.
type HookDeadLetter interface{ OnDeadLetter(DeadLetter) }

// SessionRestart is a client session closed and about to be rebuilt.
type SessionRestart struct {
	TransactionalID string
	Group           string
	Err             error
	Backoff         time.Duration
}

// HookSessionRestart is called before a session is rebuilt after an error.
type HookSessionRestart interface{ OnSessionRestart(SessionRestart) }

// SessionStart is a client session ready to work: its producer ID is
// initialised (txn.Processor at start-up and after every restart,
// producer.TxProducer). Group membership is reported by HookAssigned.
type SessionStart struct {
	TransactionalID string
	Group           string
	ProducerID      int64
	Epoch           int16
}

// HookSessionStart is called when a session's producer ID is initialised.
type HookSessionStart interface{ OnSessionStart(SessionStart) }
