package consumer

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// PartitionLag is how far the group is behind on one partition, to both
// ends of the log: a read_committed consumer can read up to the last
// stable offset (LSO); the records between the LSO and the high watermark
// (HWM) wait for the oldest open transaction. A partition whose LSO stays
// below its HWM across calls has a hanging transaction: its lag to the LSO
// looks fine while nothing after it can be read (admin's lag report names
// the producer holding it).
type PartitionLag struct {
	Topic     string
	Partition int32
	Committed int64 // next offset the group will consume; -1 if it never committed
	LSO       int64 // last stable offset
	HWM       int64 // high watermark
	End       int64 // the end this consumer reads to: LSO (read_committed) or HWM
	Lag       int64 // End - Committed, or End - log start without a commit
	LagToLSO  int64
	LagToHWM  int64
	Pinned    bool // LSO < HWM: an open transaction holds read_committed readers back
}

// Lag returns the group's lag on every partition of its topics, sorted by
// topic and partition, from the committed offsets (so it counts records
// handled but not yet committed). It may be called while Run runs, and
// before or after.
func (c *Consumer) Lag(ctx context.Context) ([]PartitionLag, error) {
	adm := kadm.NewClient(c.adm)
	committed, err := adm.FetchOffsets(ctx, c.cfg.group)
	if err != nil {
		return nil, fmt.Errorf("consumer: lag: fetch committed offsets of group %q: %w", c.cfg.group, err)
	}
	list := func(what string, fn func(context.Context, ...string) (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
		l, err := fn(ctx, c.cfg.topics...)
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("consumer: lag: list %s: %w", what, err)
		}
		return l, nil
	}
	lsos, err := list("last stable offsets", adm.ListCommittedOffsets)
	if err != nil {
		return nil, err
	}
	hwms, err := list("high watermarks", adm.ListEndOffsets)
	if err != nil {
		return nil, err
	}
	starts, err := list("start offsets", adm.ListStartOffsets)
	if err != nil {
		return nil, err
	}
	var out []PartitionLag
	hwms.Each(func(h kadm.ListedOffset) {
		l := PartitionLag{Topic: h.Topic, Partition: h.Partition, Committed: -1, HWM: h.Offset, LSO: h.Offset}
		if s, ok := lsos.Lookup(h.Topic, h.Partition); ok {
			l.LSO = s.Offset
		}
		base := int64(0)
		if s, ok := starts.Lookup(h.Topic, h.Partition); ok {
			base = s.Offset
		}
		if o, ok := committed.Lookup(h.Topic, h.Partition); ok && o.Err == nil && o.At >= 0 {
			l.Committed, base = o.At, o.At
		}
		l.LagToLSO, l.LagToHWM = max(0, l.LSO-base), max(0, l.HWM-base)
		l.End, l.Lag = l.LSO, l.LagToLSO
		if c.cfg.readUncommitted {
			l.End, l.Lag = l.HWM, l.LagToHWM
		}
		l.Pinned = l.LSO < l.HWM
		out = append(out, l)
	})
	sort.Slice(out, func(i, j int) bool {
		return out[i].Topic < out[j].Topic || out[i].Topic == out[j].Topic && out[i].Partition < out[j].Partition
	})
	return out, nil
}
