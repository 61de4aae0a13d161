// Package admin provisions the topics exactly-once pipelines depend on, from
// declarative specs, and checks them for exactly-once safety.
//
// Durability of exactly-once output comes from the replication factor and
// min.insync.replicas (transactions always produce with acks=all): with
// replicationFactor 3 and minInsyncReplicas 2 a committed record survives the
// loss of any one broker. This package makes that the default and makes
// anything weaker loud.
//
// # Lifecycle
//
// Load specs with Parse or LoadFile (YAML, one file holding many topics;
// unknown fields are errors naming their line) or build TopicSpec values in
// code. Then, with a Client (admin.New(conn) takes an eoskit.Conn and owns
// its franz-go client; admin.NewWithClient wraps one you own):
//
//   - Plan compares specs with the cluster and returns a Plan value: topics to
//     create, config keys to set (only those that differ), partitions to add,
//     replicas to add, topics already up to date. Plan validates everything first — the specs
//     alone (ValidateAll), then against the cluster (live brokers, current
//     partitions and replication factor) and, through the broker's
//     validate-only requests, config names and values — and reports every
//     problem at once in a *ValidationError. Plan never changes the cluster.
//   - Apply executes a Plan. Applying the same specs twice is a no-op. Apply
//     never deletes topics, never removes a config the spec does not mention
//     (unless the plan was made with PruneConfigs), and never lowers a
//     replication factor (Plan refuses). A higher replication factor is
//     applied by a partition reassignment that keeps the current replicas and
//     adds new ones; Apply waits until the new replicas are in sync.
//   - Lint and LintSpecs report exactly-once safety findings; Describe shows
//     partitions (leader, replicas, ISR, under-replicated, under min ISR) and
//     effective configs with their source; Delete deletes named topics only
//     with ConfirmDelete.
//
// # Errors
//
// Spec problems match ErrInvalidSpec (errors.Is); a *ValidationError lists
// them with topic, field, fix and YAML line. Per-topic broker failures are
// *TopicError values wrapping the kerr error, joined with errors.Join. Delete
// without confirmation returns ErrNotConfirmed.
//
// # Concurrency and cancellation
//
// A Client is safe for concurrent use; it keeps no state besides the
// franz-go client: Close closes it for a Client from New (a Client from
// NewWithClient leaves the caller's client open). Every method takes a
// context: cancelling it abandons the requests in flight; a request the
// broker already received (a create, an alter) may still take effect, so
// re-run Plan to see where the cluster stands. A Client is silent unless
// given a logger with WithLogger.
package admin
