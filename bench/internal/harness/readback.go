package harness

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/bench/internal/client"
)

// readBack reads topic read_committed up to its last stable offsets and
// checks it holds exactly want records. With seqs, it also checks that the
// values carry sequence numbers 0..want-1, each exactly once.
func readBack(ctx context.Context, e *Env, topic string, want int64, seqs bool) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	starts, err := e.Admin.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	ends, err := stableEnds(ctx, e, topic)
	if err != nil {
		return err
	}
	next := map[int32]int64{}
	end := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	var ferr error
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && ferr == nil {
			ferr = o.Err
		}
		next[o.Partition] = o.Offset
		parts[o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && ferr == nil {
			ferr = o.Err
		}
		end[o.Partition] = o.Offset
	})
	if ferr != nil {
		return fmt.Errorf("list offsets of %s: %w", topic, ferr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // to see how far each partition got
		kgo.ConsumeResetOffset(kgo.NoResetOffset()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var (
		count, dups, bad int64
		seen             []bool
	)
	if seqs {
		seen = make([]bool, want)
	}
	behind := func() bool {
		for p, e := range end {
			if next[p] < e {
				return true
			}
		}
		return false
	}
	for behind() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read back %s: %w", topic, err)
		}
		fs.EachError(func(_ string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("read back %s/%d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= next[r.Partition] {
				next[r.Partition] = r.Offset + 1
			}
			if r.Attrs.IsControl() || r.Offset >= end[r.Partition] {
				return
			}
			count++
			if !seqs {
				return
			}
			s, ok := client.Seq(r.Value)
			switch {
			case !ok || s < 0 || s >= want:
				bad++
			case seen[s]:
				dups++
			default:
				seen[s] = true
			}
		})
	}
	var missing, firstMissing int64 = 0, -1
	for i, ok := range seen {
		if !ok {
			if firstMissing < 0 {
				firstMissing = int64(i)
			}
			missing++
		}
	}
	if count != want || dups > 0 || bad > 0 || missing > 0 {
		msg := fmt.Sprintf("read back %d committed records from %s, want %d", count, topic, want)
		if seqs {
			msg += fmt.Sprintf(" (%d duplicates, %d missing, first missing sequence %d, %d foreign values)", dups, missing, firstMissing, bad)
		}
		return fmt.Errorf("%s", msg)
	}
	return nil
}

// stableEnds waits until topic's last stable offsets reach its high
// watermarks (a commit returns before its markers are written) and returns
// them. A transaction left open keeps them apart: that fails after 30 s.
func stableEnds(ctx context.Context, e *Env, topic string) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		hw, err := e.Admin.ListEndOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
		}
		lso, err := e.Admin.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("list last stable offsets of %s: %w", topic, err)
		}
		var open []string
		lso.Each(func(o kadm.ListedOffset) {
			if h, ok := hw.Lookup(topic, o.Partition); !ok || h.Offset != o.Offset {
				open = append(open, fmt.Sprintf("%d: stable %d, end %d", o.Partition, o.Offset, h.Offset))
			}
		})
		if len(open) == 0 {
			return lso, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s has a transaction still open 30 s after the run (partition %v)", topic, open)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fill writes n client.Payload records of size bytes to topic in
// transactions of 10000 records (so read_committed readers meet control
// records), and returns once they are committed.
func fill(ctx context.Context, e *Env, topic string, n int64, size int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers...), kgo.DefaultProduceTopic(topic),
		kgo.TransactionalID(e.name("fill")), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	var a struct {
		sync.Mutex
		err error
	}
	for i := int64(0); i < n; {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		for j := 0; j < 10000 && i < n; j, i = j+1, i+1 {
			cl.Produce(ctx, &kgo.Record{Value: client.Payload(i, size)}, func(_ *kgo.Record, perr error) {
				a.Lock()
				defer a.Unlock()
				if perr != nil && a.err == nil {
					a.err = perr
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		a.Lock()
		err := a.err
		a.Unlock()
		if err != nil {
			return fmt.Errorf("fill %s: %w", topic, err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return fmt.Errorf("fill %s: commit: %w", topic, err)
		}
	}
	return nil
}
