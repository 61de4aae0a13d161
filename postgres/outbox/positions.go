package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
)

// ensurePositionsTopic creates the compacted positions topic (1
// partition, the brokers' default replication factor, segment.ms 1 h)
// when it is missing.
func ensurePositionsTopic(ctx context.Context, conn eoskit.Conn, topic string) error {
	cl, err := conn.NewClient()
	if err != nil {
		return fmt.Errorf("outbox: positions topic: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Compacted, with hourly segments so that compaction keeps what a
	// starting relay reads small.
	compact, hour := "compact", "3600000"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact, "segment.ms": &hour}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("outbox: create positions topic %q (compacted): %w", topic, err)
	}
	return nil
}

// readPosition reads the positions topic read_committed to its last
// stable offset and returns the last position stored for slot (zero if
// none) and whether there was one. Control records are kept so that the
// reader knows it reached the end even when the topic ends with a
// transaction marker.
func readPosition(ctx context.Context, conn eoskit.Conn, topic, slot string) (Position, bool, error) {
	cl, err := conn.NewClient()
	if err != nil {
		return Position{}, false, fmt.Errorf("outbox: read positions: %w", err)
	}
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	cl.Close()
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return Position{}, false, nil // the first relay creates it
	}
	if err != nil {
		return Position{}, false, fmt.Errorf("outbox: list the last stable offsets of positions topic %q: %w", topic, err)
	}
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return Position{}, false, nil
	}
	rd, err := conn.NewClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return Position{}, false, fmt.Errorf("outbox: read positions: %w", err)
	}
	defer rd.Close()
	var pos Position
	found := false
	next := map[int32]int64{}
	behind := func() bool {
		for p, e := range want {
			if next[p] < e {
				return true
			}
		}
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for behind() {
		fs := rd.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return Position{}, false, fmt.Errorf("outbox: read positions topic %q to its end: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("outbox: read positions topic %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return Position{}, false, ferr
		}
		var derr error
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Offset >= next[rec.Partition] {
				next[rec.Partition] = rec.Offset + 1
			}
			if rec.Attrs.IsControl() || string(rec.Key) != slot || rec.Offset >= want[rec.Partition] {
				return
			}
			var p Position
			if err := json.Unmarshal(rec.Value, &p); err != nil {
				derr = fmt.Errorf("outbox: position record at %s/%d/%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
				return
			}
			pos, found = p, true
		})
		if derr != nil {
			return Position{}, false, derr
		}
	}
	return pos, found, nil
}
