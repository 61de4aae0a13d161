package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn/verify"
)

// Run runs the demo: it starts the embedded cluster (or uses cfg.Brokers),
// creates an input and an output topic, produces a stream to the input
// while cfg.Processors txn processors copy it to the output exactly once,
// crashes one processor mid-transaction and starts a replacement with the
// same transactional ID, waits for the output to catch up, stops the
// processors and verifies the output with txn/verify.
//
// A verification with anomalies is not an error: check Result.OK. Errors
// are invalid configs (ErrInvalidConfig), an unreachable cluster, topics
// that cannot be created, and ctx ending.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	start := time.Now()
	pg := newProgress(cfg.Progress, cfg.Terminal)
	defer pg.done()

	c, err := startCluster(ctx, cfg.Brokers)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	name := fmt.Sprintf("eoskit-demo-%06x", rand.Uint32()&0xffffff)
	res := Result{
		Simulated: c.fake != nil, Cluster: c.describe(), Brokers: c.seeds,
		Input: name + "-in", Output: name + "-out", Group: name,
		Partitions: cfg.Partitions, Records: cfg.Records, Kept: c.fake == nil && cfg.Keep,
	}
	pg.event("cluster: %s", res.Cluster)
	if err := c.createTopics(ctx, cfg.Partitions, res.Input, res.Output); err != nil {
		return res, err
	}
	if c.fake == nil && !cfg.Keep {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			if err := c.deleteTopics(dctx, res.Input, res.Output); err != nil {
				pg.event("could not delete the demo topics: %v", err)
			}
		}()
	}
	pg.event("topics %s -> %s, %d partitions each; %d processors in group %s copy it exactly once",
		res.Input, res.Output, cfg.Partitions, cfg.Processors, res.Group)

	// Processors live until stopped; a crashed one is abandoned (cancelled
	// when Run returns).
	pctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	d := &driver{cfg: cfg, c: c, res: &res, pg: pg, ctx: pctx}
	victimIdx := min(1, cfg.Processors-1)
	for i := range cfg.Processors {
		if _, err := d.startProc(fmt.Sprintf("p%d", i+1), "", i == victimIdx); err != nil {
			return res, err
		}
	}
	d.victim = d.procs[victimIdx]

	prodDone := make(chan error, 1)
	go func() { prodDone <- produce(pctx, c, res.Input, cfg, &d.produced) }()
	if err := d.loop(ctx, prodDone); err != nil {
		return res, err
	}
	d.stopAll()
	res.Processors = d.summaries()
	for _, p := range res.Processors {
		res.Committed += p.TxnsCommitted
		res.Aborted += p.TxnsAborted
	}

	pg.event("verifying %s against %s (read_committed, provenance headers, order per partition)", res.Output, res.Input)
	vctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rep, err := verify.Run(vctx, eoskit.Conn{Brokers: c.seeds, ClientID: "eoskit-demo-verify"}, verify.Config{
		Input: []string{res.Input}, Output: []string{res.Output}, Order: true, Identity: true,
	})
	if err != nil {
		return res, fmt.Errorf("demo: verify: %w", err)
	}
	res.Verify = rep
	res.Elapsed = time.Since(start)
	pg.event("done: %s", map[bool]string{true: "exactly once, verified", false: "ANOMALIES FOUND"}[res.OK()])
	return res, nil
}

// driver holds the running demo's state.
type driver struct {
	cfg      Config
	c        *cluster
	res      *Result
	pg       *progress
	ctx      context.Context // the processors' parent
	procs    []*proc
	victim   *proc
	produced atomic.Int64
}

func (d *driver) startProc(name, txnID string, victim bool) (*proc, error) {
	if txnID == "" {
		txnID = d.res.Group + "-" + name
	}
	pr, err := newProc(d.c, d.cfg, name, txnID, d.res.Group, d.res.Input, d.res.Output, victim)
	if err != nil {
		return nil, fmt.Errorf("demo: processor %s: %w", name, err)
	}
	pr.start(d.ctx)
	d.procs = append(d.procs, pr)
	return pr, nil
}

// loop drives the stream, the crash and the replacement until the group
// has consumed the whole input (or cfg.Timeout passes).
func (d *driver) loop(ctx context.Context, prodDone <-chan error) error {
	var (
		crashAt   = int64(d.cfg.CrashAt * float64(d.cfg.Records))
		tick      = time.NewTicker(100 * time.Millisecond)
		timeout   = time.After(d.cfg.Timeout + d.cfg.StreamFor)
		crashed   = d.victim.crashed
		restart   <-chan time.Time
		replaced  bool
		producing = true
		armedAt   time.Time
	)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: %w", ctx.Err())
		case err := <-prodDone:
			if err != nil {
				return fmt.Errorf("demo: produce the input: %w", err)
			}
			producing = false
			d.pg.event("produced all %d input records", d.cfg.Records)
		case <-crashed:
			crashed = nil
			v := d.victim
			d.res.Crash = Crash{Processor: v.name, TransactionalID: v.txnID, AtCopied: d.copied(), OpenTxnRecords: v.atTxn}
			if v.atTxn > 0 {
				d.pg.event("CRASH: %s died mid-transaction (%d records handled in its open transaction, not committed)", v.name, v.atTxn)
			} else {
				d.pg.event("CRASH: %s died between transactions", v.name)
			}
			restart = time.After(500 * time.Millisecond)
		case <-restart:
			restart = nil
			v := d.victim
			pr, err := d.startProc(v.name+"'", v.txnID, false)
			if err != nil {
				return err
			}
			d.res.Crash.Replacement = pr.name
			replaced = true
			d.pg.event("restart: %s takes over transactional ID %s, fencing %s and aborting its open transaction", pr.name, v.txnID, v.name)
		case <-timeout:
			d.pg.event("timed out after %v waiting for the output to catch up", d.cfg.Timeout+d.cfg.StreamFor)
			return nil
		case <-tick.C:
			d.pg.status("%s", d.statusLine())
			switch v := d.victim; {
			case v.isCrashed():
			case armedAt.IsZero() && d.copied() >= crashAt:
				armedAt = time.Now()
				v.armed.Store(true)
			case !armedAt.IsZero() && time.Since(armedAt) > 500*time.Millisecond:
				v.threshold.Store(1) // small transactions: crash at the next record
				if !producing && time.Since(armedAt) > 3*time.Second {
					v.crash() // the victim gets no records: crash it between transactions
				}
			}
			if producing || !replaced {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			done, err := d.c.caughtUp(cctx, d.res.Group, d.res.Input)
			cancel()
			if err == nil && done {
				d.res.CaughtUp = true
				d.pg.event("the group has consumed all %d input records", d.cfg.Records)
				return nil
			}
		}
	}
}

// copied returns the input records the processors committed so far.
func (d *driver) copied() int64 {
	var n int64
	for _, p := range d.procs {
		n += p.p.Stats().RecordsIn
	}
	return n
}

func (d *driver) statusLine() string {
	var in, ok, ab int64
	var names []string
	for _, p := range d.procs {
		s := p.p.Stats()
		in, ok, ab = in+s.RecordsIn, ok+s.TxnsCommitted, ab+s.TxnsAborted
		n := p.name
		if p.isCrashed() {
			n += "(crashed)"
		}
		names = append(names, n)
	}
	return fmt.Sprintf("produced %d/%d  copied %d (%d%%)  transactions %d committed, %d aborted  processors %s",
		d.produced.Load(), d.cfg.Records, in, in*100/int64(d.cfg.Records), ok, ab, strings.Join(names, " "))
}

// stopAll shuts the live processors down gracefully (each commits or
// aborts its open transaction and leaves the group).
func (d *driver) stopAll() {
	var live []*proc
	for _, p := range d.procs {
		if !p.isCrashed() {
			p.cancel()
			live = append(live, p)
		}
	}
	for _, p := range live {
		if !p.stop(30 * time.Second) {
			d.res.Problems = append(d.res.Problems, fmt.Sprintf("processor %s did not stop within 30s", p.name))
		}
	}
}

func (d *driver) summaries() []ProcessorSummary {
	var out []ProcessorSummary
	for _, p := range d.procs {
		s := p.p.Stats()
		ps := ProcessorSummary{
			Name: p.name, TransactionalID: p.txnID, State: "stopped",
			RecordsIn: s.RecordsIn, TxnsCommitted: s.TxnsCommitted, TxnsAborted: s.TxnsAborted,
			Rebalances: s.Rebalances, SessionRestarts: s.SessionRestarts,
		}
		switch {
		case p.isCrashed():
			ps.State = "crashed"
		case !isDone(p.done):
			ps.State = "still running"
		case p.err != nil:
			ps.State = "failed: " + p.err.Error()
			d.res.Problems = append(d.res.Problems, fmt.Sprintf("processor %s: %v", p.name, p.err))
		}
		out = append(out, ps)
	}
	return out
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// produce writes cfg.Records keyed records to topic, spread over about
// cfg.StreamFor, counting acknowledged records in n.
func produce(ctx context.Context, c *cluster, topic string, cfg Config, n *atomic.Int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds...), kgo.ClientID("eoskit-demo-producer"),
		kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	var firstErr atomic.Pointer[error]
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < cfg.Records; {
		target := min(cfg.Records, int(float64(cfg.Records)*time.Since(start).Seconds()/cfg.StreamFor.Seconds())+1)
		for ; i < target; i++ {
			r := &kgo.Record{Key: fmt.Appendf(nil, "key-%03d", i%1000), Value: fmt.Appendf(nil, "record-%06d", i)}
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				n.Add(1)
			})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return nil
}
