// Package client holds the Go workloads the benchmark measures. Each runs in
// its own process (eosbench's hidden "client" command), so the harness can
// read that process's CPU time and peak memory apart from its own.
package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Workload kinds.
const (
	KindProduce    = "produce"     // idempotent produce of Records records
	KindTxnProduce = "txn-produce" // transactional produce, one commit per TxnInterval
	KindConsume    = "consume"     // read_committed group consume of Records records
	KindCopyEOS    = "copy-eos"    // exactly-once copy Topic -> OutTopic
	KindCopyALO    = "copy-alo"    // at-least-once copy (flush, then commit offsets)
	KindE2E        = "e2e"         // fixed-rate transactional produce + read_committed consume
)

// Implementations.
const (
	ImplFranz  = "franz-go" // raw kgo
	ImplEoskit = "eoskit"   // eoskit's producer / consumer / txn packages
	// Peers: produce only, built from bench/peers (a module of its own, so
	// eoskit's users never download them).
	ImplSarama    = "sarama"             // IBM/sarama
	ImplConfluent = "confluent-kafka-go" // confluent-kafka-go (librdkafka, cgo)
)

// Spec is one workload, passed to the client process as JSON.
type Spec struct {
	Kind       string   `json:"kind"`
	Impl       string   `json:"impl"`
	Brokers    []string `json:"brokers"`
	Topic      string   `json:"topic"`
	OutTopic   string   `json:"out_topic,omitempty"`
	Group      string   `json:"group,omitempty"`
	TxnID      string   `json:"txn_id,omitempty"`
	Records    int64    `json:"records"`
	RecordSize int      `json:"record_size,omitempty"`
	// Producer settings (zero: the implementation's default).
	LingerMs   int   `json:"linger_ms,omitempty"`
	BatchBytes int32 `json:"batch_bytes,omitempty"`
	// Transactions end after TxnRecords input records (copy) or TxnIntervalMs.
	TxnRecords    int `json:"txn_records,omitempty"`
	TxnIntervalMs int `json:"txn_interval_ms,omitempty"`
	// Rate is the fixed produce rate of the e2e workload, records/s.
	Rate int `json:"rate,omitempty"`
	// Observe runs eoskit's sides with metrics/prom (and kprom) and the otel
	// tracer hooked in, a trace (not exported) for the fraction TraceRoots
	// of the records (otel.WithRootSampling; 0: none).
	Observe    bool    `json:"observe,omitempty"`
	TraceRoots float64 `json:"trace_roots,omitempty"`
	// DSN and Table: the PostgreSQL database and append table of the sink
	// workloads.
	DSN   string `json:"dsn,omitempty"`
	Table string `json:"table,omitempty"`
	// CPUProfile, when set, is a file for a pprof CPU profile of the run.
	CPUProfile string `json:"cpu_profile,omitempty"`
}

// Result is what a client reports on its last stdout line, after ResultPrefix.
type Result struct {
	Records int64   `json:"records"` // records produced, consumed or copied (committed)
	Seconds float64 `json:"seconds"` // measured interval: first record to last ack/commit
	// Latencies in milliseconds; zero when not measured.
	CommitP50 float64 `json:"commit_p50_ms,omitempty"`
	CommitP99 float64 `json:"commit_p99_ms,omitempty"`
	E2EP50    float64 `json:"e2e_p50_ms,omitempty"`
	E2EP99    float64 `json:"e2e_p99_ms,omitempty"`
	Aborted   int64   `json:"aborted,omitempty"`        // transactions aborted
	PeakRSS   float64 `json:"peak_rss_bytes,omitempty"` // VmHWM of the client process at the end
	Error     string  `json:"error,omitempty"`
}

// ResultPrefix starts the line carrying the Result JSON.
const ResultPrefix = "eosbench-result: "

// Run runs a workload and writes its Result line to w. It returns the
// workload's error too, so the process can exit non-zero.
func Run(ctx context.Context, s Spec, w io.Writer) error {
	if s.CPUProfile != "" {
		f, err := os.Create(s.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := run(ctx, s)
	return Emit(w, res, err)
}

// Emit writes a run's Result line to w, with err (if any) and this
// process's peak RSS, and returns err, so the process can exit non-zero.
// Clients outside this package (the peer clients in bench/peers) use it too.
func Emit(w io.Writer, res Result, err error) error {
	if err != nil {
		res.Error = err.Error()
	}
	res.PeakRSS = PeakRSS("/proc/self/status")
	b, merr := json.Marshal(res)
	if merr != nil {
		return merr
	}
	fmt.Fprintf(w, "%s%s\n", ResultPrefix, b)
	return err
}

func run(ctx context.Context, s Spec) (Result, error) {
	if s.Impl != ImplFranz && s.Impl != ImplEoskit {
		return Result{}, fmt.Errorf("unknown implementation %q: use %q or %q", s.Impl, ImplFranz, ImplEoskit)
	}
	switch s.Kind {
	case KindProduce:
		return produce(ctx, s)
	case KindTxnProduce:
		return txnProduce(ctx, s)
	case KindConsume:
		return consume(ctx, s)
	case KindCopyEOS:
		return copyEOS(ctx, s)
	case KindCopyALO:
		return copyALO(ctx, s)
	case KindE2E:
		return e2e(ctx, s)
	case KindSinkEOS, KindSinkALO, KindSinkCopy, KindSinkRaw:
		return sinkWorkload(ctx, s)
	}
	return Result{}, fmt.Errorf("unknown workload kind %q", s.Kind)
}

// PeakRSS reads VmHWM, a process's peak resident set, in bytes from a
// /proc/<pid>/status file; 0 when it cannot.
func PeakRSS(statusFile string) float64 {
	b, err := os.ReadFile(statusFile)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// ParseResult finds the Result line in a client's output.
func ParseResult(out string) (Result, error) {
	for _, line := range slices.Backward(strings.Split(out, "\n")) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), ResultPrefix); ok {
			var r Result
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("client result line: %w", err)
			}
			return r, nil
		}
	}
	return Result{}, fmt.Errorf("client printed no %q line", strings.TrimSpace(ResultPrefix))
}

// Payload returns a value of size bytes (at least 32): seq and the current
// time in Unix nanoseconds as 16 hex digits each, then a fixed filler. It is
// ASCII so tools that copy values as strings (TransactionalMessageCopier)
// keep it intact. It is cheap (one allocation, no formatting) so that the
// clients' CPU figures measure the Kafka client, not the payload.
func Payload(seq int64, size int) []byte { return PayloadAt(seq, size, time.Now()) }

// PayloadAt is Payload with the time given.
func PayloadAt(seq int64, size int, at time.Time) []byte {
	b := make([]byte, max(size, 32))
	putHex(b[:16], uint64(seq))
	putHex(b[16:32], uint64(at.UnixNano()))
	for n := 32; n < len(b); n += copy(b[n:], filler) {
	}
	return b
}

var filler = []byte("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz")

func putHex(b []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
}

// Seq reads the sequence number Payload wrote; ok is false for other values.
func Seq(v []byte) (seq int64, ok bool) {
	return hexField(v, 0)
}

func sentAt(v []byte) (time.Time, bool) {
	ns, ok := hexField(v, 16)
	return time.Unix(0, ns), ok
}

func hexField(v []byte, at int) (int64, bool) {
	if len(v) < at+16 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(v[at:at+16]), 16, 64)
	return int64(n), err == nil
}

// producerOpts are the kgo producer options shared by both implementations,
// matched to the Java producer's defaults unless the spec overrides them:
// linger, batch size, and no compression (franz-go's default is snappy).
func producerOpts(s Spec) []kgo.Opt {
	linger := 5 * time.Millisecond // Java's linger.ms default since Kafka 4.0
	if s.LingerMs > 0 {
		linger = time.Duration(s.LingerMs) * time.Millisecond
	}
	return []kgo.Opt{
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(batchBytes(s)),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}
}

func batchBytes(s Spec) int32 {
	if s.BatchBytes > 0 {
		return s.BatchBytes
	}
	return 16384 // Java's batch.size default
}

// stickyPartitioner is Java's default partitioner for keyless records:
// sticky, switching after batch.size bytes, adaptive to slow brokers.
func stickyPartitioner(s Spec) kgo.Opt {
	return kgo.RecordPartitioner(kgo.UniformBytesPartitioner(int(batchBytes(s)), true, true, nil))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
