package dlq

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/stable"
	"github.com/eoskit/eoskit/txn"
)

// DefaultMaxReplays is how many times a record may be replayed unless
// WithMaxReplays says otherwise.
const DefaultMaxReplays = 3

// GroupFor and TransactionalIDFor are the replay group and transactional
// ID derived from a dead-letter topic's name: stable, so a replay that is
// killed and started again resumes where it committed and fences the
// killed one.
func GroupFor(topic string) string { return "eoskit-dlq-replay-" + topic }

// TransactionalIDFor: see GroupFor.
func TransactionalIDFor(topic string) string { return "eoskit-dlq-replay-" + topic + "-0" }

// Opt configures a Replayer.
type Opt interface{ apply(*config) }

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

type config struct {
	to         string
	errFilter  *regexp.Regexp
	since      time.Time
	maxReplays int
	group      string
	txnID      string
	progress   func(done, total int64)
	logger     *slog.Logger
	txnOpts    []txn.Opt
}

// WithTarget writes every replayed record to topic instead of its origin
// (the txn.DeadLetterTopicHeader header).
func WithTarget(topic string) Opt { return opt(func(c *config) { c.to = topic }) }

// WithErrorFilter replays only records whose error (txn.DeadLetterError)
// matches re.
func WithErrorFilter(re *regexp.Regexp) Opt { return opt(func(c *config) { c.errFilter = re }) }

// WithSince replays only records dead-lettered at or after t (their
// timestamp in the dead-letter topic).
func WithSince(t time.Time) Opt { return opt(func(c *config) { c.since = t }) }

// WithMaxReplays keeps in the dead-letter topic records already replayed
// n times (ReplayCountHeader): replaying them would exceed n. Default
// DefaultMaxReplays; 0 means no limit.
func WithMaxReplays(n int) Opt { return opt(func(c *config) { c.maxReplays = n }) }

// WithGroup sets the replay's consumer group. Default GroupFor(topic).
func WithGroup(g string) Opt { return opt(func(c *config) { c.group = g }) }

// WithTransactionalID sets the replay's transactional ID. Default
// TransactionalIDFor(topic).
func WithTransactionalID(id string) Opt { return opt(func(c *config) { c.txnID = id }) }

// WithProgress calls fn (from one goroutine, a few times a second) with
// the records done — committed — of the total to replay.
func WithProgress(fn func(done, total int64)) Opt { return opt(func(c *config) { c.progress = fn }) }

// WithLogger logs what the replay does. Default: silent.
func WithLogger(l *slog.Logger) Opt { return opt(func(c *config) { c.logger = l }) }

// WithProcessorOpts passes options to the txn.Processor that does the
// replay (WithCommitInterval, WithMaxTxnRecords, WithHooks...). Group,
// topics, transactional ID and provenance are the Replayer's.
func WithProcessorOpts(opts ...txn.Opt) Opt {
	return opt(func(c *config) { c.txnOpts = append(c.txnOpts, opts...) })
}

// Replayer redrives a dead-letter topic exactly once: a txn.Processor
// over the topic writes each record back to its origin (or WithTarget)
// with Redrive, committing the dead-letter offsets in the same
// transaction. Records the filters leave out, and records replayed
// WithMaxReplays times already, are kept: written again, unchanged, at the
// end of the dead-letter topic in the same transaction, so that a later
// replay (with other filters) still finds them. A Replayer runs once.
type Replayer struct {
	conn  eoskit.Conn
	topic string
	cfg   config
}

// New returns a Replayer of the dead-letter topic topic on conn. It
// validates the options and connects to nothing. Errors match
// eoskit.ErrInvalidOption and list every problem.
func New(c eoskit.Conn, topic string, opts ...Opt) (*Replayer, error) {
	cfg := config{maxReplays: DefaultMaxReplays, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o.apply(&cfg)
	}
	ps := eoskit.NewProblems("dlq")
	ps.Add(c.Validate())
	if topic == "" {
		ps.Addf("no dead-letter topic: name it")
	}
	if cfg.to == topic && topic != "" {
		ps.Addf("WithTarget(%q) is the dead-letter topic itself: name the topic to replay to", cfg.to)
	}
	if cfg.maxReplays < 0 {
		ps.Addf("WithMaxReplays(%d): use 0 (no limit) or more", cfg.maxReplays)
	}
	if cfg.logger == nil {
		ps.Addf("WithLogger(nil): leave the option out for silence")
	}
	if cfg.group == "" {
		cfg.group = GroupFor(topic)
	}
	if cfg.txnID == "" {
		cfg.txnID = TransactionalIDFor(topic)
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &Replayer{conn: c, topic: topic, cfg: cfg}, nil
}

// Decision is what a replay does with one record.
type Decision string

const (
	Replay        Decision = "replay"           // written back with Redrive
	KeepFiltered  Decision = "kept-filtered"    // left out by WithErrorFilter or WithSince
	KeepMaxReplay Decision = "kept-max-replays" // replayed WithMaxReplays times already
	KeepNoOrigin  Decision = "kept-no-origin"   // no origin header and no WithTarget
)

// Decide returns what the replay does with r.
func (rp *Replayer) Decide(r *kgo.Record) Decision {
	d := Decode(r)
	switch {
	case rp.cfg.errFilter != nil && !rp.cfg.errFilter.MatchString(d.Error),
		!rp.cfg.since.IsZero() && r.Timestamp.Before(rp.cfg.since):
		return KeepFiltered
	case rp.cfg.maxReplays > 0 && d.ReplayCount >= rp.cfg.maxReplays:
		return KeepMaxReplay
	case rp.cfg.to == "" && d.SourceTopic == "":
		return KeepNoOrigin
	}
	return Replay
}

// Summary is what a replay did. Counts cover the records committed by
// this run (a run started again after a kill reports its own part).
type Summary struct {
	Topic           string           `json:"topic"`
	Group           string           `json:"group"`
	TransactionalID string           `json:"transactionalId"`
	Total           int64            `json:"total"` // records to go through when the run started
	Done            int64            `json:"done"`  // of them, committed
	Replayed        int64            `json:"replayed"`
	ByTarget        map[string]int64 `json:"byTarget"`
	KeptFiltered    int64            `json:"keptFiltered"`
	KeptMaxReplays  int64            `json:"keptMaxReplays"`
	KeptNoOrigin    int64            `json:"keptNoOrigin"`
	Kept            []Record         `json:"kept,omitempty"` // the records kept for max replays or no origin (first 100)
	Complete        bool             `json:"complete"`       // every record to go through was committed
	Elapsed         time.Duration    `json:"elapsedNs"`
}

type planned struct {
	offset int64
	d      Decision
	to     string
	rec    *Record // only for kept-max-replays / no-origin, for the report
}

// Run replays the records between the replay group's committed position
// (the topic's start for a new group) and the topic's last stable offsets
// when Run starts, then returns. Records dead-lettered after that are left
// for the next run. Cancelling ctx stops the replay: what was committed
// stays replayed, the rest stays in the topic, and a later Run resumes
// there without duplicating anything. Errors: ErrUnknownTopic and those of
// txn.Processor.Run (eoskit.ErrFenced when another replay of the same
// topic started, eoskit.ErrUnproducible for a target that does not exist,
// eoskit.ErrAccessDenied).
func (rp *Replayer) Run(ctx context.Context) (Summary, error) {
	began := time.Now()
	sum := Summary{Topic: rp.topic, Group: rp.cfg.group, TransactionalID: rp.cfg.txnID, ByTarget: map[string]int64{}}
	cl, err := rp.conn.NewClient()
	if err != nil {
		return sum, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	spans, _, err := ranges(ctx, adm, rp.topic, rp.cfg.group)
	if err != nil {
		return sum, err
	}
	plan := map[int32][]planned{}
	err = scan(ctx, rp.conn, rp.topic, spans, func(r *kgo.Record) {
		d := rp.Decide(r)
		p := planned{offset: r.Offset, d: d, to: rp.cfg.to}
		if d == Replay && p.to == "" {
			p.to = Decode(r).SourceTopic
		}
		if d == KeepMaxReplay || d == KeepNoOrigin {
			dr := Decode(r)
			p.rec = &dr
		}
		plan[r.Partition] = append(plan[r.Partition], p)
	})
	if err != nil {
		return sum, err
	}
	target := map[int32]int64{} // one past the last record to go through
	for part, ps := range plan {
		sort.Slice(ps, func(i, j int) bool { return ps[i].offset < ps[j].offset })
		target[part] = ps[len(ps)-1].offset + 1
		sum.Total += int64(len(ps))
	}
	rp.cfg.logger.Info("dlq: replay starting", "topic", rp.topic, "group", rp.cfg.group, "txn_id", rp.cfg.txnID, "records", sum.Total)
	if sum.Total == 0 {
		sum.Complete, sum.Elapsed = true, time.Since(began)
		rp.report(0, 0)
		return sum, nil
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	pos := map[int32]int64{}
	for part, sp := range spans {
		pos[part] = sp.From
	}
	// Every committed transaction moves the position: report it, and stop
	// once everything planned is committed. (Stopping from the handler
	// instead would abort the last transaction when records past the plan
	// are already buffered.)
	h := &txnEnds{fn: func(e eoskit.TxnEnd) {
		if e.Outcome != eoskit.TxnCommitted {
			return
		}
		for part, at := range e.Offsets[rp.topic] {
			pos[part] = max(pos[part], at)
		}
		rp.report(doneOf(plan, pos), sum.Total)
		if reached(target, pos) {
			stop()
		}
	}}
	// A replay killed and started again waits for its old member to leave
	// the group: 10 s, not franz-go's 45 s, unless WithProcessorOpts says.
	proc, err := txn.New(rp.conn, rp.handler(target), append(append([]txn.Opt{txn.WithSessionTimeout(10 * time.Second)}, rp.cfg.txnOpts...),
		txn.WithGroup(rp.cfg.group), txn.WithTopics(rp.topic), txn.WithTransactionalID(rp.cfg.txnID),
		txn.WithProvenance(false), txn.WithLogger(rp.cfg.logger), txn.WithHooks(h))...)
	if err != nil {
		return sum, err
	}
	rp.report(doneOf(plan, pos), sum.Total)
	runErr := proc.Run(runCtx)
	stop()
	// The final position, read after Run committed its last transaction.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	committed, err := rp.position(fctx, adm)
	if err != nil && runErr == nil {
		runErr = err
	}
	sum.Done = doneOf(plan, committed)
	rp.report(sum.Done, sum.Total)
	for part, ps := range plan {
		for _, p := range ps {
			if p.offset >= committed[part] {
				break
			}
			switch p.d {
			case Replay:
				sum.Replayed++
				sum.ByTarget[p.to]++
			case KeepFiltered:
				sum.KeptFiltered++
			case KeepMaxReplay:
				sum.KeptMaxReplays++
			case KeepNoOrigin:
				sum.KeptNoOrigin++
			}
			if p.rec != nil && len(sum.Kept) < 100 {
				sum.Kept = append(sum.Kept, *p.rec)
			}
		}
	}
	sort.Slice(sum.Kept, func(i, j int) bool {
		if sum.Kept[i].Partition != sum.Kept[j].Partition {
			return sum.Kept[i].Partition < sum.Kept[j].Partition
		}
		return sum.Kept[i].Offset < sum.Kept[j].Offset
	})
	sum.Complete = sum.Done == sum.Total
	sum.Elapsed = time.Since(began)
	rp.cfg.logger.Info("dlq: replay ended", "topic", rp.topic, "done", sum.Done, "total", sum.Total, "replayed", sum.Replayed)
	if runErr != nil {
		return sum, fmt.Errorf("dlq: replay of %q: %w", rp.topic, runErr)
	}
	if !sum.Complete && ctx.Err() != nil {
		return sum, fmt.Errorf("dlq: replay of %q interrupted after %d of %d records (run it again to resume): %w", rp.topic, sum.Done, sum.Total, ctx.Err())
	}
	if !sum.Complete {
		return sum, fmt.Errorf("dlq: replay of %q stopped at %d of %d records by the group's committed offsets (run it again to resume)", rp.topic, sum.Done, sum.Total)
	}
	return sum, nil
}

// txnEnds is a txn hook calling fn for each ended transaction.
type txnEnds struct{ fn func(eoskit.TxnEnd) }

func (h *txnEnds) OnTxnEnd(e eoskit.TxnEnd) { h.fn(e) }

// handler replays or keeps each record; records past the planned range
// (dead-lettered after Run began, or kept by this very run) are kept, so
// this run never decides about a record it did not plan.
func (rp *Replayer) handler(target map[int32]int64) txn.Handler {
	return func(_ context.Context, in *kgo.Record, emit txn.Emit) error {
		if end, ok := target[in.Partition]; !ok || in.Offset >= end {
			emit(requeue(in, rp.topic))
			return nil
		}
		if rp.Decide(in) == Replay {
			emit(Redrive(in, rp.cfg.to))
		} else {
			emit(requeue(in, rp.topic))
		}
		return nil
	}
}

// position returns the replay group's committed offsets on the topic.
func (rp *Replayer) position(ctx context.Context, adm *kadm.Client) (map[int32]int64, error) {
	// Stable: the last transaction's offsets are pending until its commit
	// marker is written, and a plain read then gives the position before
	// it (seen in CI: a complete replay reported 0 of 20 done).
	offs, err := stable.Fetch(ctx, adm, rp.cfg.group, rp.topic)
	if err != nil {
		return nil, err
	}
	pos := map[int32]int64{}
	offs.Each(func(r kadm.OffsetResponse) {
		if r.Err == nil && r.Topic == rp.topic {
			pos[r.Partition] = r.At
		}
	})
	return pos, nil
}

func (rp *Replayer) report(done, total int64) {
	if rp.cfg.progress != nil {
		rp.cfg.progress(done, total)
	}
}

func reached(target, pos map[int32]int64) bool {
	for p, end := range target {
		if pos[p] < end {
			return false
		}
	}
	return true
}

// doneOf counts the planned records below the committed positions.
func doneOf(plan map[int32][]planned, pos map[int32]int64) int64 {
	var n int64
	for part, ps := range plan {
		at := pos[part]
		n += int64(sort.Search(len(ps), func(i int) bool { return ps[i].offset >= at }))
	}
	return n
}
