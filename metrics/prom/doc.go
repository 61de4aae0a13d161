// Package prom exports eoskit's metrics to Prometheus
// (github.com/prometheus/client_golang). It lives in its own package so
// that programs that do not want Prometheus never import it.
//
// New registers the metrics on a prometheus.Registerer and returns a
// *Metrics, an eoskit hook: pass it to txn.WithHooks, producer.WithHooks
// and consumer.WithHooks alike (the same name means the same thing in
// each), and add KgoOpts to eoskit.Conn.KgoOpts for franz-go's own
// client-level figures (plugin/kprom, under eoskit_kafka_). A
// LagCollector, registered on the same registry, polls a group's lag and
// the open transactions on its partitions at every scrape.
//
//	reg := prometheus.NewRegistry()
//	m, err := prom.New(reg, prom.WithGroup("g"), prom.WithTransactionalID("app-g-0"))
//	conn.KgoOpts = append(conn.KgoOpts, m.KgoOpts()...)
//	p, err := txn.New(conn, handler, txn.WithHooks(m), ...)
//	adm, err := admin.New(conn)
//	lag, err := prom.NewLagCollector(adm, "g", prom.LagTopics("in"))
//	reg.MustRegister(lag)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every metric has the constant labels group and txn_id (WithGroup,
// WithTransactionalID; the lag metrics only group), plus any given with
// WithConstLabels. No label is per record; topic and partition appear
// only on per-partition figures.
//
// # Metrics
//
//	name                                  type       labels              source (hook)       meaning
//	eoskit_txn_begun_total                counter                        TxnBegin            transactions begun
//	eoskit_txn_committed_total            counter                        TxnEnd              transactions committed
//	eoskit_txn_aborted_total              counter    reason              TxnEnd              transactions aborted; reason rebalance, produce_error, handler_error, shutdown, requested, other
//	eoskit_txn_unknown_outcome_total      counter                        TxnEnd              commit sent, answer lost (maybe committed; ErrCommitOutcomeUnknown)
//	eoskit_txn_fenced_total               counter                        TxnEnd              a newer instance took the transactional ID (ErrFenced)
//	eoskit_txn_end_duration_seconds       histogram  phase               TxnEnd              time to end a transaction; of a commit (committed or unknown): phase flush (produced records answered), commit (offset commit + EndTxn), total; of an abort: phase abort (KIP-761's flush-time, commit-time, abort-time)
//	eoskit_txn_records                    histogram                      TxnEnd              input records per committed transaction (its _sum counts inputs committed exactly once)
//	eoskit_txn_outputs                    histogram                      TxnEnd              outputs (dead letters included) per committed transaction
//	eoskit_records_in_total               counter                        Handled, HandledRun records handed to the handler, first attempts (redone after an abort: counted again)
//	eoskit_records_out_total              counter                        Produced, ProducedRun records produced and acknowledged, dead letters included (in a transaction: visible once it commits; a txn.Processor's counted when the transaction ends)
//	eoskit_produce_errors_total           counter                        Produced            records whose produce failed
//	eoskit_handler_errors_total           counter                        Handled             handler calls that returned an error
//	eoskit_handler_retries_total          counter                        Handled             handler calls that retried a record (attempt 2 and later)
//	eoskit_handler_duration_seconds       histogram                      Handled             time of one handler call, sampled: the first call of each handler loop (a txn.Processor, a consumer's partition worker) and one in 64 after it; _count counts the timed calls, records_in_total all of them
//	eoskit_dead_lettered_total            counter                        DeadLetter          input records routed to the dead-letter topic
//	eoskit_offset_commits_total           counter    result              Committed           offset commits of a non-transactional consumer; result ok, error
//	eoskit_rebalances_total               counter    event               Assignment          rebalance events of this member; event assigned, revoked, lost
//	eoskit_assigned_partitions            gauge                          Assignment          partitions assigned to this member now
//	eoskit_session_restarts_total         counter                        SessionRestart      client sessions rebuilt after an error
//	eoskit_lag_to_lso_records             gauge      topic, partition    LagCollector        last stable offset - committed offset: what a read_committed member can still read
//	eoskit_lag_to_hwm_records             gauge      topic, partition    LagCollector        high watermark - committed offset (never 0 under transactions)
//	eoskit_open_txn_age_seconds           gauge      topic, partition    LagCollector        age of the oldest open transaction holding the partition's LSO; 0 none; rising: stuck
//	eoskit_lag_up                         gauge                          LagCollector        1 if the last poll got every answer
//	eoskit_lag_poll_seconds               gauge                          LagCollector        duration of the last poll
//	eoskit_outbox_relayed_total           counter                        OutboxCollector     outbox messages relayed to Kafka in committed Kafka transactions (postgres/outbox Relay.Stats); constant label slot
//	eoskit_outbox_kafka_txns_total        counter                        OutboxCollector     the relay's committed Kafka transactions that carried messages
//	eoskit_outbox_slot_lag_bytes          gauge                          OutboxCollector     pg_current_wal_lsn() - the slot's confirmed_flush_lsn: WAL not yet confirmed by the relay
//	eoskit_outbox_retained_wal_bytes      gauge                          OutboxCollector     pg_current_wal_lsn() - the slot's restart_lsn: WAL the slot keeps on disk; rising without end: the relay is stuck (see max_slot_wal_keep_size)
//	eoskit_outbox_position_age_seconds    gauge                          OutboxCollector     age of the relay's stored position (its last Kafka transaction with messages); absent without one
//	eoskit_outbox_up                      gauge                          OutboxCollector     1 if the last poll of the relay's figures succeeded
//	eoskit_kafka_*                        (kprom)    node_id, topic      KgoOpts             franz-go's kprom: connects, errors, bytes, records and batches per topic, buffered records
//
// Without a committed offset, lag is counted from the log start offset.
// Histogram buckets: DefaultDurationBuckets (1 ms to 16 s) and
// DefaultCountBuckets (1 to 16384), replaced with WithDurationBuckets and
// WithCountBuckets.
//
// # Concurrency and cost
//
// Metrics' hook methods are safe for concurrent use and allocate nothing
// per record. A handled or produced record costs one atomic add on a
// cache line picked by its address (so partition workers on different
// cores do not contend); the handler duration histogram is a sample
// because timing a call costs two clock reads, as much as a light handler.
// Metrics implements eoskit.HookHandledRun: a consumer or a per-record
// txn.Processor whose handler-call hooks all take runs (Metrics, the otel
// Meter and Tracer) reports the untimed successful calls once per run,
// no event per record (for txn: the calls for which the record-context
// hooks, such as the tracer, started no span). It implements
// eoskit.HookProducedRun too: a txn.Processor whose produce hooks all
// take runs counts a transaction's acknowledged outputs itself and
// reports them once, when the transaction ends, so
// eoskit_records_out_total moves per transaction there. Every counter is
// exact. BenchmarkHandlerPath gives the ns and allocations per record
// with and without metrics and tracing; bench's observe-copy and
// observe-consume cases the CPU and throughput on a real broker.
//
// LagCollector serialises its polls; each scrape sends about six admin
// requests and waits at most LagTimeout.
package prom
