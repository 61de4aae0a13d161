package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
	"github.com/eoskit/eoskit/txn"
)

type copyFlags struct {
	from           []string
	to             string
	group          string
	txnID          string
	start          string
	maxRecords     int
	interval       time.Duration
	txnTimeout     time.Duration
	sessionTimeout time.Duration
	noProvenance   bool
	deadLetter     string
	statsEvery     time.Duration
	obs            observeFlags // --metrics-addr, --log-format, --log-level
	ob             *observed    // set by processor
	output         outputFlag
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func newCopyCmd(e *env) *cobra.Command {
	var (
		cf clusterFlags
		f  copyFlags
	)
	cmd := &cobra.Command{
		Use:   "copy --from IN --to OUT --group G --txn-id ID",
		Short: "Copy topics exactly once (a txn processor with an identity handler)",
		Long: `Copy the records of the --from topics to the --to topic exactly once.

copy is a txn processor: it consumes --from in consumer group --group
(read_committed) and produces each record's key, value, headers and timestamp
to --to, committing the outputs and the consumed offsets in one Kafka
transaction (every --max-txn-records records or --commit-interval, whichever
comes first). Each output carries the eoskit-source provenance header, so
'eosctl verify' can check the copy.

Run several copies with the same --group to share the work: each needs its
own --txn-id, stable across its restarts (for example copy-<group>-<slot>).
A restarted copy with the same --txn-id fences its predecessor and aborts
its open transaction at once.

copy runs until SIGINT or SIGTERM, then ends its open transaction, leaves the
group and prints its counters on stdout (logs go to stderr). Exit status: 0
after a signal, 1 fenced or failed, 2 bad flags.`,
		Example: `  eosctl copy --from orders --to orders-copy --group orders-copier --txn-id orders-copier-0
  eosctl copy --from in --to out --group g --txn-id g-1 --max-txn-records 750 --commit-interval 1s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.processor(cmd.Context(), &cf, e)
			if err != nil {
				return err
			}
			defer f.ob.stop()
			fmt.Fprintf(e.stderr, "eosctl copy: %v -> %s, group %s, transactional ID %s; Ctrl-C stops\n", f.from, f.to, f.group, f.txnID)
			stop := f.reportStats(e, p)
			err = p.Run(cmd.Context())
			f.ob.ended(err)
			stop()
			f.printStats(e, p.Stats())
			switch {
			case errors.Is(err, eoskit.ErrInvalidOption):
				return usageErr(err)
			case errors.Is(err, eoskit.ErrAccessDenied):
				access := conn.Access{Principal: principalOf(&cf), Group: f.group, TransactionalID: f.txnID,
					Input: f.from, Output: append([]string{f.to}, nonEmpty(f.deadLetter)...)}
				if grant := grantCommand(access); grant != "" {
					err = fmt.Errorf("%w\ngrant the exactly-once ACLs with: %s", err, grant)
				}
				return withCode(exitFailed, err)
			case err != nil:
				return withCode(exitFailed, err)
			}
			return nil
		},
	}
	cf.register(cmd)
	// A copy runs until SIGINT or SIGTERM: the whole-operation timeout does not apply.
	_ = cmd.Flags().MarkHidden("timeout")
	fl := cmd.Flags()
	fl.StringSliceVar(&f.from, "from", nil, "input topics (comma-separated or repeated)")
	fl.StringVar(&f.to, "to", "", "output topic")
	fl.StringVar(&f.group, "group", "", "consumer group shared by the copies")
	fl.StringVar(&f.txnID, "txn-id", "", "this copy's transactional ID: stable across restarts, unique among running copies")
	fl.StringVar(&f.start, "start", "earliest", "where a new group starts: earliest or latest")
	fl.IntVar(&f.maxRecords, "max-txn-records", txn.DefaultMaxTxnRecords, "close a transaction after this many input records")
	fl.DurationVar(&f.interval, "commit-interval", txn.DefaultCommitInterval, "close a transaction this long after its first record")
	fl.DurationVar(&f.txnTimeout, "txn-timeout", txn.DefaultTransactionTimeout, "broker-side transaction timeout")
	fl.DurationVar(&f.sessionTimeout, "session-timeout", 0, "consumer group session timeout (default: franz-go's 45s)")
	fl.BoolVar(&f.noProvenance, "no-provenance", false, "do not add the eoskit-source provenance header")
	fl.StringVar(&f.deadLetter, "dead-letter", "", "topic for records that cannot be copied (default: stop)")
	fl.DurationVar(&f.statsEvery, "stats-interval", 0, "print counters on stderr this often (0: only at exit)")
	f.obs.register(cmd)
	f.output.register(cmd)
	return cmd
}

// processor checks the flags and builds the txn processor.
func (f *copyFlags) processor(ctx context.Context, cf *clusterFlags, e *env) (*txn.Processor, error) {
	if err := f.output.validate(); err != nil {
		return nil, err
	}
	cc, err := cf.config()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, req := range []struct {
		flag string
		set  bool
	}{{"--from", len(f.from) > 0}, {"--to", f.to != ""}, {"--group", f.group != ""}, {"--txn-id", f.txnID != ""}} {
		if !req.set {
			missing = append(missing, req.flag)
		}
	}
	if len(missing) > 0 {
		return nil, usageErr(fmt.Errorf("missing %v: copy needs --from, --to, --group and --txn-id", missing))
	}
	for _, t := range f.from {
		if t == f.to {
			return nil, usageErr(fmt.Errorf("--to %q is also an input topic: copy to another topic", t))
		}
	}
	start := kgo.NewOffset().AtStart()
	switch f.start {
	case "earliest":
	case "latest":
		start = kgo.NewOffset().AtEnd()
	default:
		return nil, usageErr(fmt.Errorf("--start %q: use earliest or latest", f.start))
	}
	cc.ClientID = "eosctl-copy"
	ob, err := f.obs.start(ctx, e, observeScope{conn: cc, group: f.group, txnID: f.txnID, topics: f.from})
	if err != nil {
		return nil, err
	}
	cc.KgoOpts = append(cc.KgoOpts, ob.kgoOpts...)
	opts := []txn.Opt{
		txn.WithGroup(f.group),
		txn.WithTopics(f.from...),
		txn.WithTransactionalID(f.txnID),
		txn.WithStartOffset(start),
		txn.WithMaxTxnRecords(f.maxRecords),
		txn.WithCommitInterval(f.interval),
		txn.WithTransactionTimeout(f.txnTimeout),
		txn.WithProvenance(!f.noProvenance),
		txn.WithLogger(ob.logger),
		txn.WithHooks(ob.hooks...),
	}
	if f.sessionTimeout > 0 {
		opts = append(opts, txn.WithSessionTimeout(f.sessionTimeout))
	}
	if f.deadLetter != "" {
		opts = append(opts, txn.WithDeadLetterTopic(f.deadLetter))
	}
	p, err := txn.New(cc, txn.Copy(f.to), opts...)
	if err != nil {
		ob.stop()
		return nil, usageErr(err)
	}
	f.ob = ob
	return p, nil
}

// reportStats prints the counters on stderr every --stats-interval until
// the returned stop is called.
func (f *copyFlags) reportStats(e *env, p *txn.Processor) (stop func()) {
	if f.statsEvery <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(f.statsEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s := p.Stats()
				fmt.Fprintf(e.stderr, "eosctl copy: records in %d out %d, transactions committed %d aborted %d, rebalances %d, session restarts %d\n",
					s.RecordsIn, s.RecordsOut, s.TxnsCommitted, s.TxnsAborted, s.Rebalances, s.SessionRestarts)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// copyStats is the JSON form of the final counters.
type copyStats struct {
	TransactionalID string `json:"transactional_id"`
	RecordsIn       int64  `json:"records_in"`
	RecordsOut      int64  `json:"records_out"`
	DeadLettered    int64  `json:"dead_lettered"`
	TxnsCommitted   int64  `json:"transactions_committed"`
	TxnsAborted     int64  `json:"transactions_aborted"`
	TxnsUnknown     int64  `json:"transactions_unknown"`
	Rebalances      int64  `json:"rebalances"`
	SessionRestarts int64  `json:"session_restarts"`
	CommitP50Ms     int64  `json:"commit_latency_p50_ms"`
	CommitP99Ms     int64  `json:"commit_latency_p99_ms"`
}

func (f *copyFlags) printStats(e *env, s txn.Stats) {
	cs := copyStats{f.txnID, s.RecordsIn, s.RecordsOut, s.DeadLettered, s.TxnsCommitted, s.TxnsAborted, s.TxnsUnknown, s.Rebalances, s.SessionRestarts,
		s.CommitLatency.P50.Milliseconds(), s.CommitLatency.P99.Milliseconds()}
	if f.output.format == "json" {
		b, _ := json.MarshalIndent(cs, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return
	}
	fmt.Fprintf(e.stdout, "transactional id  %s\nrecords           %d in, %d out, %d dead-lettered\ntransactions      %d committed, %d aborted, %d unknown\nrebalances        %d\nsession restarts  %d\ncommit latency    p50 %dms, p99 %dms\n",
		cs.TransactionalID, cs.RecordsIn, cs.RecordsOut, cs.DeadLettered, cs.TxnsCommitted, cs.TxnsAborted, cs.TxnsUnknown, cs.Rebalances, cs.SessionRestarts, cs.CommitP50Ms, cs.CommitP99Ms)
}
