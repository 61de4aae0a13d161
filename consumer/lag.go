package consumer

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// PartitionLag is how far the group is behind on one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	Committed int64 // next offset the group will consume; -1 if it never committed
	End       int64 // last stable offset (read_committed) or high watermark
	Lag       int64 // End - Committed, or End - log start without a commit
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
	list := adm.ListCommittedOffsets
	if c.cfg.readUncommitted {
		list = adm.ListEndOffsets
	}
	ends, err := list(ctx, c.cfg.topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: lag: list end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, c.cfg.topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: lag: list start offsets: %w", err)
	}
	var out []PartitionLag
	ends.Each(func(e kadm.ListedOffset) {
		l := PartitionLag{Topic: e.Topic, Partition: e.Partition, Committed: -1, End: e.Offset}
		base := int64(0)
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok {
			base = s.Offset
		}
		if o, ok := committed.Lookup(e.Topic, e.Partition); ok && o.Err == nil && o.At >= 0 {
			l.Committed, base = o.At, o.At
		}
		l.Lag = max(0, l.End-base)
		out = append(out, l)
	})
	sort.Slice(out, func(i, j int) bool {
		return out[i].Topic < out[j].Topic || out[i].Topic == out[j].Topic && out[i].Partition < out[j].Partition
	})
	return out, nil
}
