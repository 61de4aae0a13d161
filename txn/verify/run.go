package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// ErrUnknownTopic reports an input or output topic that does not exist.
var ErrUnknownTopic = errors.New("topic does not exist")

// ErrCompactedOutput reports an output topic whose cleanup.policy includes
// compact: compaction may delete duplicates before they are read. Set
// Config.AllowCompacted to verify it anyway.
var ErrCompactedOutput = errors.New("output topic is compacted")

// Run verifies, on the cluster conn names, that cfg.Output is an
// exactly-once image of cfg.Input and returns the report. A report with
// anomalies is not an error: check Report.OK. Errors are an invalid cfg or
// conn (an *eoskit.OptionError, matching eoskit.ErrInvalidOption), missing
// topics (ErrUnknownTopic), a compacted output (ErrCompactedOutput),
// partitions that did not settle (eoskit.ErrNotSettled, returned with the
// failed report that names them), and failures to list offsets or read
// records.
//
// Run first waits, up to cfg.SettleTimeout, until every input and output
// partition's last stable offset has reached its high watermark (no open
// transaction hides records). It then lists the input's last stable
// offsets, then the output's, reads both topics from their start with
// read_committed isolation up to those offsets (so aborted transactions
// are never seen), and calls Match. Records written after that are not
// read, except with cfg.Wait. Verify a pipeline that has stopped or caught
// up: a running one shows inputs not yet processed as missing.
//
// Run holds every record in memory. It returns when done or when ctx ends
// (with ctx's error).
func Run(ctx context.Context, conn eoskit.Conn, cfg Config) (Report, error) {
	ps := eoskit.NewProblems("verify")
	ps.Add(conn.Validate())
	ps.Add(cfg.Validate())
	if err := ps.Err(); err != nil {
		return Report{}, err
	}
	opts := conn.Opts()
	log := cfg.logger()
	start := time.Now()
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		return Report{}, fmt.Errorf("verify: client: %w: %w", eoskit.ErrInvalidOption, err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	if !cfg.AllowCompacted {
		if err := refuseCompacted(ctx, adm, cfg.Output); err != nil {
			return Report{}, err
		}
	}
	// Input first: every output below the output's end then comes from an
	// input that is, or is later than, the input snapshot. Both must be
	// settled (LSO = HWM) or what lies past an open transaction is unread.
	inStarts, inEnds, outStarts, outEnds, unsettled, err := settle(ctx, adm, cfg)
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
		if len(unsettled) > 0 {
			rep.Unsettled, rep.Counts.Unsettled = unsettled, len(unsettled)
			msgs := make([]string, len(unsettled))
			for i, u := range unsettled {
				msgs[i] = u.String()
			}
			return rep, fmt.Errorf("verify: %w after %v: %s: end or abort the transaction (or wait for its timeout), then verify again",
				eoskit.ErrNotSettled, cfg.settleTimeout(), strings.Join(msgs, "; "))
		}
		if cfg.Wait <= 0 || rep.Counts.Missing == 0 || !time.Now().Before(deadline) {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return Report{}, fmt.Errorf("verify: waiting for the output: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		if _, outEnds, _, err = listRange(ctx, adm, cfg.Output); err != nil {
			return Report{}, err
		}
		if err := outR.readTo(ctx, outEnds); err != nil {
			return Report{}, err
		}
	}
}

// refuseCompacted returns ErrCompactedOutput for an output topic whose
// cleanup.policy includes compact.
func refuseCompacted(ctx context.Context, adm *kadm.Client, topics []string) error {
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return fmt.Errorf("verify: describe the output topics' configs: %w", err)
	}
	for _, rc := range rcs {
		if errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("verify: %w: %q (create it, or check the name)", ErrUnknownTopic, rc.Name)
		}
		if rc.Err != nil {
			return fmt.Errorf("verify: describe the configs of %q: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && strings.Contains(c.MaybeValue(), "compact") {
				return fmt.Errorf("verify: %w: %q has cleanup.policy=%s, and compaction may have deleted duplicates before they are read: verify a non-compacted copy, or set Config.AllowCompacted to check what is left",
					ErrCompactedOutput, rc.Name, c.MaybeValue())
			}
		}
	}
	return nil
}

// settle lists the input's, then the output's, start and last stable
// offsets until every partition's last stable offset has reached its high
// watermark or the settle timeout passed; it returns the partitions still
// unsettled then, with the producers holding them open.
func settle(ctx context.Context, adm *kadm.Client, cfg Config) (inStarts, inEnds, outStarts, outEnds map[tp]int64, unsettled []Unsettled, err error) {
	deadline := time.Now().Add(cfg.settleTimeout())
	for {
		var inHWM, outHWM map[tp]int64
		if inStarts, inEnds, inHWM, err = listRange(ctx, adm, cfg.Input); err != nil {
			return
		}
		if outStarts, outEnds, outHWM, err = listRange(ctx, adm, cfg.Output); err != nil {
			return
		}
		unsettled = unsettled[:0]
		for _, side := range []struct{ lso, hwm map[tp]int64 }{{inEnds, inHWM}, {outEnds, outHWM}} {
			for p, lso := range side.lso {
				if hwm := side.hwm[p]; lso < hwm {
					unsettled = append(unsettled, Unsettled{Topic: p.topic, Partition: p.partition, LSO: lso, HWM: hwm})
				}
			}
		}
		if len(unsettled) == 0 || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("verify: waiting for open transactions to end: %w", ctx.Err())
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	if len(unsettled) == 0 {
		return inStarts, inEnds, outStarts, outEnds, nil, nil
	}
	slices.SortFunc(unsettled, func(a, b Unsettled) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	openProducers(ctx, adm, unsettled)
	return inStarts, inEnds, outStarts, outEnds, unsettled, nil
}

// openProducers fills in the producers with an open transaction on each
// unsettled partition, as far as DescribeProducers tells (best effort: an
// older broker or a missing permission leaves them out).
func openProducers(ctx context.Context, adm *kadm.Client, us []Unsettled) {
	set := make(kadm.TopicsSet)
	for _, u := range us {
		set.Add(u.Topic, u.Partition)
	}
	described, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		return
	}
	for i, u := range us {
		dp, ok := described[u.Topic].Partitions[u.Partition]
		if !ok || dp.Err != nil {
			continue
		}
		for _, p := range dp.ActiveProducers.Sorted() {
			if p.CurrentTxnStartOffset >= 0 {
				us[i].OpenProducers = append(us[i].OpenProducers, OpenProducer{
					ProducerID: p.ProducerID, Epoch: p.ProducerEpoch,
					TxnStartOffset: p.CurrentTxnStartOffset, LastTimestamp: p.LastTimestamp,
				})
			}
		}
	}
}

// listRange returns the start offsets, last stable offsets and high
// watermarks of topics' partitions, retrying for a few seconds while the
// cluster catches up with a topic just created.
func listRange(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends, hwms map[tp]int64, err error) {
	for attempt := 0; ; attempt++ {
		starts, ends, hwms, err = tryListRange(ctx, adm, topics)
		if err == nil || attempt == 10 || ctx.Err() != nil {
			return starts, ends, hwms, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tryListRange(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends, hwms map[tp]int64, err error) {
	s, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("verify: list start offsets of %v: %w", topics, err)
	}
	e, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("verify: list last stable offsets of %v: %w", topics, err)
	}
	h, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("verify: list high watermarks of %v: %w", topics, err)
	}
	starts, ends, hwms = map[tp]int64{}, map[tp]int64{}, map[tp]int64{}
	for _, l := range []kadm.ListedOffsets{s, e, h} {
		for _, t := range topics {
			if _, ok := l[t]; !ok {
				return nil, nil, nil, fmt.Errorf("verify: %w: %q (create it, or check the name)", ErrUnknownTopic, t)
			}
		}
		for _, o := range offsetsOf(l) {
			if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				return nil, nil, nil, fmt.Errorf("verify: %w: %q (create it, or check the name)", ErrUnknownTopic, o.Topic)
			}
			if o.Err != nil {
				return nil, nil, nil, fmt.Errorf("verify: list offsets of %s/%d: %w", o.Topic, o.Partition, o.Err)
			}
		}
	}
	for _, o := range offsetsOf(s) {
		starts[tp{o.Topic, o.Partition}] = o.Offset
	}
	for _, o := range offsetsOf(e) {
		ends[tp{o.Topic, o.Partition}] = o.Offset
	}
	for _, o := range offsetsOf(h) {
		hwms[tp{o.Topic, o.Partition}] = o.Offset
	}
	return starts, ends, hwms, nil
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
