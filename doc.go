// Package eoskit holds the vocabulary every eoskit package shares: the
// connection to a cluster (Conn), the errors callers branch on
// (ErrFenced, ErrCommitOutcomeUnknown, ErrAccessDenied, ErrInvalidOption,
// ErrPositionLost, ErrNotSettled, ErrUnproducible) and the hook events
// (TxnEnd, Produced, Handled, Assignment, ...) that one metrics, tracing or
// logging value observes in every package.
//
// The clients live in their own packages and take a Conn first:
//
//	conn := eoskit.Conn{Brokers: []string{"localhost:9092"}}
//	p, err := producer.New(conn)                       // idempotent, acks=all
//	tp, err := producer.NewTransactional(ctx, conn, "app-0")
//	c, err := consumer.New(conn, consumer.WithGroup("g"), consumer.WithTopics("in"), consumer.StartAtEarliest())
//	proc, err := txn.New(conn, handler, txn.WithGroup("g"), txn.WithTopics("in"), txn.WithTransactionalID("app-g-0"))
//	adm, err := admin.New(conn)
//	report, err := verify.Run(ctx, conn, verify.Config{...})
//
// integration.Cluster.Conn returns the Conn of a test cluster.
//
// # Errors
//
// An error from any eoskit package matches at most one of the sentinels
// below with errors.Is, whichever package returned it: a fenced producer
// is eoskit.ErrFenced whether producer.TxProducer or txn.Processor saw it.
// Typed errors (*OptionError, *AccessError, *PartitionError,
// *UnproducibleError) carry the data the failure is about; use errors.As.
//
// # Hooks
//
// A hook is any value implementing one or more of the Hook* interfaces
// (franz-go's kgo.Hook style). Pass it with each package's WithHooks
// option; each package calls the interfaces that apply to it. Hooks are
// called synchronously on the client's goroutines: keep them fast and
// never block.
package eoskit
