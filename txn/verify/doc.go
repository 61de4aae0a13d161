// Package verify checks that a Kafka pipeline's output is an exactly-once
// image of its input: every committed input record is explained by exactly
// one committed output record, no output record is unexplained, and, when
// asked, outputs keep their input's order.
//
// Run(ctx, conn, cfg) takes the connection first (an eoskit.Conn) and a
// plain Config value. It waits up to Config.SettleTimeout (default 60 s)
// for every partition's last stable offset to reach its high watermark: a
// transaction left open hides every record after it from read_committed
// readers, so a partition that does not settle fails the verification
// (eoskit.ErrNotSettled, and the report names the partition and the open
// producer), never a pass. It then reads the input topics with
// read_committed isolation up to their last stable offsets, then the output
// topics likewise (so records of aborted transactions never count), and
// calls Match, which needs no broker and can be used on records already in
// memory. A compacted output topic is refused (ErrCompactedOutput):
// compaction may have deleted duplicates; Config.AllowCompacted checks what
// is left anyway.
//
// # Matching
//
// An output record carrying the ProvenanceHeader header ("eoskit-source",
// value "topic/partition/offset" of its input, as eoskit's txn processor
// stamps by default) is matched to that input. Other output records are
// matched by key and value, as a multiset, so outputs of any tool that
// copies records can be checked too; the report names that as a limitation
// (Report.Limitations): a duplicate of one input cannot be told from the
// output of another input with the same key and value, and order and
// identity are not checked for such outputs. The verifier assumes one output per
// input (a copy, or a map): a pipeline that filters or fans out records
// shows them as missing or duplicated.
//
// # Anomalies
//
//   - duplicate: an input explained by more than one output (counted once per
//     extra output);
//   - missing: an input no output explains;
//   - unexplained: an output that no committed input explains (its provenance
//     names an aborted, deleted or unknown record, or no input has its key and
//     value);
//   - order violation (with Config.Order): within an output partition, the
//     outputs of one input partition out of input-offset order (optionally only
//     between records of the same key, Config.OrderByKey);
//   - mismatch (with Config.Identity): a header-matched output whose key or
//     value differs from its input's;
//   - unsettled: a partition whose last stable offset stayed below its high
//     watermark (Run also returns eoskit.ErrNotSettled).
//
// Report.OK is true when there are none. Report.String and WriteText give a
// human summary, Report.JSON a machine-readable one.
//
// # Use
//
// Verify a pipeline that has stopped or caught up: inputs it has not
// processed yet show as missing (Config.Wait keeps reading the output while
// it catches up). Run holds all records in memory; it is meant for tests and
// for checks of topics of up to millions of records. Run and Match are safe
// for concurrent use; a Report is a plain value.
package verify
