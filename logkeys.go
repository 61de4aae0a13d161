package eoskit

// The attribute keys of eoskit's log lines (log/slog). Every package logs
// through the *slog.Logger given with its WithLogger option (silent by
// default) and names the same thing with the same key, so that one query
// finds a partition's or a transactional ID's lines whichever package
// wrote them.
const (
	LogKeyTopic      = "topic"
	LogKeyPartition  = "partition"
	LogKeyOffset     = "offset"
	LogKeyGroup      = "group"
	LogKeyTxnID      = "txn_id"
	LogKeyProducerID = "producer_id"
	LogKeyEpoch      = "epoch"
	LogKeyOutcome    = "outcome" // a transaction's: committed, aborted, unknown, fenced
	LogKeyReason     = "reason"  // why it aborted: rebalance, produce_error, ...
	LogKeyRecords    = "records"
	LogKeyDuration   = "duration"
	LogKeyErr        = "err"
)
