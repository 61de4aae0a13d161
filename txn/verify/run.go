package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnknownTopic reports an input or output topic that does not exist.
var ErrUnknownTopic = errors.New("topic does not exist")

// Run verifies that cfg.Output is an exactly-once image of cfg.Input and
// returns the report. A report with anomalies is not an error: check
// Report.OK. Errors are invalid configs (ErrInvalidConfig), missing topics
// (ErrUnknownTopic), and failures to list offsets or read records.
//
// opts are the franz-go options to reach the cluster (seed brokers, TLS,
// SASL, client ID); Run adds its own consuming options. Run first lists the
// input's last stable offsets, then the output's, reads both topics from
// their start with read_committed isolation up to those offsets (so aborted
// and still-open transactions are never seen), and calls Match. Records
// written after that are not read, except with cfg.Wait. Verify a pipeline
// that has stopped or caught up: a running one shows inputs not yet
// processed as missing.
//
// Run holds every record in memory. It returns when done or when ctx ends
// (with ctx's error).
func Run(ctx context.Context, cfg Config, opts ...kgo.Opt) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	log := cfg.logger()
	start := time.Now()
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		return Report{}, fmt.Errorf("verify: client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	// Input first: every output below the output's end then comes from an
	// input that is, or is later than, the input snapshot.
	inStarts, inEnds, err := listRange(ctx, adm, cfg.Input)
	if err != nil {
		return Report{}, err
	}
	outStarts, outEnds, err := listRange(ctx, adm, cfg.Output)
	if err != nil {
		return Report{}, err
	}
	inR, err := newReader(opts, inStarts)
	if err != nil {
		return Report{}, err
	}
	defer inR.close()
	outR, err := newReader(opts, outStarts)
	if err != nil {
		return Report{}, err
	}
	defer outR.close()

	inErr := make(chan error, 1)
	go func() { inErr <- inR.readTo(ctx, inEnds) }()
	err = outR.readTo(ctx, outEnds)
	if ierr := <-inErr; ierr != nil {
		return Report{}, ierr
	}
	if err != nil {
		return Report{}, err
	}
	snap := Snapshot{Inputs: inR.records(inEnds), InputEnds: endsByTopic(inEnds)}
	log.Debug("verify: input read", "topics", cfg.Input, "records", len(snap.Inputs))

	deadline := start.Add(cfg.Wait)
	for {
		snap.Outputs = outR.records(outEnds)
		rep := Match(cfg, snap)
		log.Debug("verify: output read", "topics", cfg.Output, "records", len(snap.Outputs), "missing", rep.Counts.Missing)
		if cfg.Wait <= 0 || rep.Counts.Missing == 0 || !time.Now().Before(deadline) {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return Report{}, fmt.Errorf("verify: waiting for the output: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		if _, outEnds, err = listRange(ctx, adm, cfg.Output); err != nil {
			return Report{}, err
		}
		if err := outR.readTo(ctx, outEnds); err != nil {
			return Report{}, err
		}
	}
}

// listRange returns the start offsets and last stable offsets of topics'
// partitions, retrying for a few seconds while the cluster catches up with
// a topic just created.
func listRange(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends map[tp]int64, err error) {
	for attempt := 0; ; attempt++ {
		starts, ends, err = tryListRange(ctx, adm, topics)
		if err == nil || attempt == 10 || ctx.Err() != nil {
			return starts, ends, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tryListRange(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends map[tp]int64, err error) {
	s, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: list start offsets of %v: %w", topics, err)
	}
	e, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: list last stable offsets of %v: %w", topics, err)
	}
	starts, ends = map[tp]int64{}, map[tp]int64{}
	for _, l := range []kadm.ListedOffsets{s, e} {
		for _, t := range topics {
			if _, ok := l[t]; !ok {
				return nil, nil, fmt.Errorf("verify: %w: %q (create it, or check the name)", ErrUnknownTopic, t)
			}
		}
		for _, o := range offsetsOf(l) {
			if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				return nil, nil, fmt.Errorf("verify: %w: %q (create it, or check the name)", ErrUnknownTopic, o.Topic)
			}
			if o.Err != nil {
				return nil, nil, fmt.Errorf("verify: list offsets of %s/%d: %w", o.Topic, o.Partition, o.Err)
			}
		}
	}
	for _, o := range offsetsOf(s) {
		starts[tp{o.Topic, o.Partition}] = o.Offset
	}
	for _, o := range offsetsOf(e) {
		ends[tp{o.Topic, o.Partition}] = o.Offset
	}
	return starts, ends, nil
}

func offsetsOf(l kadm.ListedOffsets) []kadm.ListedOffset {
	var out []kadm.ListedOffset
	l.Each(func(o kadm.ListedOffset) { out = append(out, o) })
	return out
}

func endsByTopic(ends map[tp]int64) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	for p, e := range ends {
		if out[p.topic] == nil {
			out[p.topic] = map[int32]int64{}
		}
		out[p.topic][p.partition] = e
	}
	return out
}

// reader reads partitions with read_committed isolation, keeping control
// records so that it knows how far it got: aborted records are skipped
// silently, but each transaction's end marker is seen.
type reader struct {
	cl   *kgo.Client
	next map[tp]int64 // offset after the last record (data or control) seen
	recs []Record
}

func newReader(opts []kgo.Opt, starts map[tp]int64) (*reader, error) {
	r := &reader{next: map[tp]int64{}}
	parts := map[string]map[int32]kgo.Offset{}
	for p, s := range starts {
		if parts[p.topic] == nil {
			parts[p.topic] = map[int32]kgo.Offset{}
		}
		parts[p.topic][p.partition] = kgo.NewOffset().At(s)
		r.next[p] = s
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(parts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("verify: consumer: %w", err)
	}
	r.cl = cl
	return r, nil
}

func (r *reader) close() { r.cl.Close() }

// readTo reads until every partition in ends has been read up to its end.
func (r *reader) readTo(ctx context.Context, ends map[tp]int64) error {
	behind := func() bool {
		for p, e := range ends {
			// Partitions created after the reader started are not read.
			if next, ok := r.next[p]; ok && next < e {
				return true
			}
		}
		return false
	}
	for behind() {
		fs := r.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("verify: reading: %w", err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("verify: read %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			p := tp{rec.Topic, rec.Partition}
			if rec.Offset >= r.next[p] {
				r.next[p] = rec.Offset + 1
			}
			if !rec.Attrs.IsControl() {
				r.recs = append(r.recs, FromKgo(rec))
			}
		})
	}
	return nil
}

// records returns the data records read below ends.
func (r *reader) records(ends map[tp]int64) []Record {
	out := make([]Record, 0, len(r.recs))
	for _, rec := range r.recs {
		if rec.Offset < ends[rec.tp()] {
			out = append(out, rec)
		}
	}
	return out
}
