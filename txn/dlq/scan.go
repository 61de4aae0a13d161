package dlq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
	"github.com/eoskit/eoskit/internal/stable"
)

// ErrUnknownTopic reports a dead-letter topic that does not exist.
var ErrUnknownTopic = errors.New("unknown dead-letter topic")

// span is the range of one partition to read: [From, End), End being the
// last stable offset when the read began.
type span struct {
	From, End int64
}

// ranges returns, for every partition of topic, where group's committed
// position is (the log start when it has none, or when group is "") and
// the last stable offset.
func ranges(ctx context.Context, adm *kadm.Client, topic, group string) (map[int32]span, bool, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, false, fmt.Errorf("dlq: list the last stable offsets of %q: %w", topic, explain(err))
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, false, fmt.Errorf("dlq: list the start offsets of %q: %w", topic, explain(err))
	}
	out := map[int32]span{}
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
			lerr = fmt.Errorf("dlq: topic %q: %w", topic, ErrUnknownTopic)
		case o.Err != nil:
			lerr = errors.Join(lerr, fmt.Errorf("dlq: %s/%d: %w", o.Topic, o.Partition, o.Err))
		default:
			s, _ := starts.Lookup(o.Topic, o.Partition)
			out[o.Partition] = span{From: s.Offset, End: o.Offset}
		}
	})
	if lerr != nil {
		return nil, false, lerr
	}
	grouped := false
	if group != "" {
		// Stable: a replay's last transaction's offsets are pending until
		// its commit marker is written.
		offs, err := stable.Fetch(ctx, adm, group, topic)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return nil, false, fmt.Errorf("dlq: fetch the offsets of group %q: %w", group, explain(err))
		}
		offs.Each(func(r kadm.OffsetResponse) {
			if s, ok := out[r.Partition]; ok && r.Err == nil && r.At >= 0 && r.Topic == topic {
				s.From = max(r.At, s.From)
				out[r.Partition] = s
				grouped = true
			}
		})
	}
	return out, grouped, nil
}

// scan reads topic's records in spans read_committed, calling fn for each
// data record, until every partition is read to its End. Control records
// are read too (and not passed to fn), so a partition whose last offsets
// are transaction markers is known to be read to its end.
func scan(ctx context.Context, c eoskit.Conn, topic string, spans map[int32]span, fn func(*kgo.Record)) error {
	parts := map[int32]kgo.Offset{}
	left := map[int32]int64{}
	for p, s := range spans {
		if s.From < s.End {
			parts[p] = kgo.NewOffset().At(s.From)
			left[p] = s.End
		}
	}
	if len(parts) == 0 {
		return nil
	}
	cl, err := c.NewClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	defer cl.Close()
	idle := 0
	for len(left) > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("dlq: read %q: %w", topic, ctx.Err())
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return fmt.Errorf("dlq: read %s/%d: %w", fe.Topic, fe.Partition, explain(fe.Err))
			}
		}
		if fs.NumRecords() == 0 {
			// Everything below the LSO is readable at once: a partition
			// that gives nothing for 5 polls has no more (a compacted
			// topic may end in a gap).
			if idle++; idle >= 5 {
				return nil
			}
			continue
		}
		idle = 0
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset >= end-1 {
				delete(left, r.Partition)
			}
		})
	}
	return nil
}

func explain(err error) error { return conn.ExplainAuthError(err, conn.Access{}) }

// Count is how many records share a value.
type Count struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// SourceCount is how many records came from one source partition.
type SourceCount struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Count     int64  `json:"count"`
}

// Report is what Inspect found in a dead-letter topic.
type Report struct {
	Topic      string        `json:"topic"`
	From       string        `json:"from"` // "start", or "group <name>" when read from a replay group's position
	Records    int64         `json:"records"`
	ByError    []Count       `json:"byError"`       // most frequent first
	BySource   []SourceCount `json:"bySource"`      // by topic and partition
	ByReplays  []Count       `json:"byReplayCount"` // replay count -> records
	Partitions []Range       `json:"partitions"`
	Shown      []Record      `json:"shown,omitempty"` // the first InspectOptions.Show records
}

// Range is the part of one dead-letter partition a Report covers.
type Range struct {
	Partition int32 `json:"partition"`
	From      int64 `json:"from"`
	End       int64 `json:"end"` // the last stable offset when read
}

// InspectOptions scope Inspect.
type InspectOptions struct {
	// Group, when set, starts each partition at that group's committed
	// position (a replay group's: what is still to replay) instead of the
	// log start.
	Group string
	// Show is how many records to return decoded in Report.Shown.
	Show int
}

// Inspect reads a dead-letter topic (read_committed, up to its last
// stable offsets when called) and counts its records by error, by source
// topic and partition, and by replay count. Errors: ErrUnknownTopic,
// eoskit.ErrAccessDenied.
func Inspect(ctx context.Context, c eoskit.Conn, topic string, o InspectOptions) (Report, error) {
	rep := Report{Topic: topic, From: "start", ByError: []Count{}, BySource: []SourceCount{}, ByReplays: []Count{}, Partitions: []Range{}}
	if err := c.Validate(); err != nil {
		return rep, err
	}
	cl, err := c.NewClient()
	if err != nil {
		return rep, err
	}
	defer cl.Close()
	spans, grouped, err := ranges(ctx, kadm.NewClient(cl), topic, o.Group)
	if err != nil {
		return rep, err
	}
	if grouped {
		rep.From = "group " + o.Group
	}
	for p, s := range spans {
		rep.Partitions = append(rep.Partitions, Range{p, s.From, s.End})
	}
	sort.Slice(rep.Partitions, func(i, j int) bool { return rep.Partitions[i].Partition < rep.Partitions[j].Partition })
	byErr, byReplays := map[string]int64{}, map[string]int64{}
	bySrc := map[SourceCount]int64{}
	err = scan(ctx, c, topic, spans, func(r *kgo.Record) {
		d := Decode(r)
		rep.Records++
		byErr[d.Error]++
		byReplays[fmt.Sprint(d.ReplayCount)]++
		bySrc[SourceCount{Topic: d.SourceTopic, Partition: d.SourcePartition}]++
		if len(rep.Shown) < o.Show {
			rep.Shown = append(rep.Shown, d)
		}
	})
	rep.ByError, rep.ByReplays = counts(byErr), counts(byReplays)
	for s, n := range bySrc {
		s.Count = n
		rep.BySource = append(rep.BySource, s)
	}
	sort.Slice(rep.BySource, func(i, j int) bool {
		a, b := rep.BySource[i], rep.BySource[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	sort.Slice(rep.Shown, func(i, j int) bool {
		if rep.Shown[i].Partition != rep.Shown[j].Partition {
			return rep.Shown[i].Partition < rep.Shown[j].Partition
		}
		return rep.Shown[i].Offset < rep.Shown[j].Offset
	})
	return rep, err
}

// counts sorts a histogram, most frequent first, then by value.
func counts(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for v, n := range m {
		out = append(out, Count{v, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	return out
}
