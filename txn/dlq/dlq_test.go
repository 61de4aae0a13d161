package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/dlq"
)

func cluster(t *testing.T, topics ...string) eoskit.Conn {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return eoskit.Conn{Brokers: c.ListenAddrs()}
}

// deadLetter writes n dead letters of source topic "in" to "dlq" in one
// transaction, the error "bad A" for even i and "bad B" for odd, with
// replays as their replay count.
func deadLetter(t *testing.T, c eoskit.Conn, n, replays int) {
	t.Helper()
	cl, err := c.NewClient(kgo.TransactionalID("dl-writer-"+strconv.Itoa(replays)), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		e := "bad A"
		if i%2 == 1 {
			e = "bad B"
		}
		hs := []kgo.RecordHeader{{Key: "app", Value: []byte("x")}, {Key: txn.DeadLetterError, Value: []byte(e)},
			{Key: txn.DeadLetterTopicHeader, Value: []byte("in")}, {Key: txn.DeadLetterPartition, Value: []byte(strconv.Itoa(i % 2))},
			{Key: txn.DeadLetterOffset, Value: []byte(strconv.Itoa(100 + i))}}
		if replays > 0 {
			hs = append(hs, kgo.RecordHeader{Key: dlq.ReplayCountHeader, Value: []byte(strconv.Itoa(replays))})
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dlq", Partition: int32(i % 2), Key: []byte(fmt.Sprintf("k%03d-%d", i, replays)), Value: []byte("v"), Headers: hs}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

// readAll reads topic read_committed up to its last stable offsets.
func readAll(t *testing.T, c eoskit.Conn, topic string) []dlq.Record {
	t.Helper()
	rep, err := dlq.Inspect(context.Background(), c, topic, dlq.InspectOptions{Show: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rep.Shown)) != rep.Records {
		t.Fatalf("%s: %d records shown of %d", topic, len(rep.Shown), rep.Records)
	}
	return rep.Shown
}

func header(r dlq.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return "", false
}

func fastTxn() dlq.Opt {
	return dlq.WithProcessorOpts(txn.WithCommitInterval(50*time.Millisecond), txn.WithSessionTimeout(6*time.Second))
}

func TestInspectAndReplayWithFilterAndMaxReplays(t *testing.T) {
	ctx := context.Background()
	c := cluster(t, "in", "dlq", "other")
	deadLetter(t, c, 10, 0) // 5 "bad A", 5 "bad B", never replayed
	deadLetter(t, c, 4, 3)  // replayed 3 times already

	rep, err := dlq.Inspect(ctx, c, "dlq", dlq.InspectOptions{Show: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 14 || rep.From != "start" || len(rep.ByError) != 2 || rep.ByError[0] != (dlq.Count{Value: "bad A", Count: 7}) ||
		len(rep.BySource) != 2 || rep.BySource[0] != (dlq.SourceCount{Topic: "in", Partition: 0, Count: 7}) ||
		len(rep.ByReplays) != 2 || rep.ByReplays[0] != (dlq.Count{Value: "0", Count: 10}) || len(rep.Shown) != 3 {
		t.Fatalf("Inspect: %+v", rep)
	}
	if s := rep.Shown[0]; s.SourceTopic != "in" || s.SourceOffset < 100 || s.Error == "" || len(s.Headers) != 1 || s.Headers[0].Key != "app" {
		t.Fatalf("decoded record: %+v", s)
	}

	// Replay "bad A" only: 5 + 2 records match, the 2 replayed 3 times
	// already are kept, as are the 7 "bad B".
	var last [2]int64
	r, err := dlq.New(c, "dlq", dlq.WithErrorFilter(regexp.MustCompile("A$")), fastTxn(),
		dlq.WithProgress(func(done, total int64) { last = [2]int64{done, total} }))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete || sum.Total != 14 || sum.Done != 14 || sum.Replayed != 5 || sum.ByTarget["in"] != 5 ||
		sum.KeptFiltered != 7 || sum.KeptMaxReplays != 2 || len(sum.Kept) != 2 || last != [2]int64{14, 14} {
		t.Fatalf("Summary: %+v (progress %v)", sum, last)
	}
	in := readAll(t, c, "in")
	if len(in) != 5 {
		t.Fatalf("%d records in the source topic, want 5", len(in))
	}
	for _, rec := range in {
		if rec.ReplayCount != 1 {
			t.Errorf("replayed %s: replay count %d, want 1", rec.Key, rec.ReplayCount)
		}
		if rec.Error != "" || rec.SourceTopic != "" || len(rec.Headers) != 1 {
			t.Errorf("replayed %s still has its dead-letter headers: %+v", rec.Key, rec)
		}
		if v, _ := header(rec, "app"); v != "x" {
			t.Errorf("replayed %s lost its own header", rec.Key)
		}
	}
	// What is left to replay: the 9 kept records, written again after the
	// group's position.
	rep, err = dlq.Inspect(ctx, c, "dlq", dlq.InspectOptions{Group: dlq.GroupFor("dlq")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 9 || rep.From != "group "+dlq.GroupFor("dlq") {
		t.Fatalf("pending after the filtered replay: %+v", rep)
	}

	// Everything else, to another topic, with no replay limit.
	r, err = dlq.New(c, "dlq", dlq.WithTarget("other"), dlq.WithMaxReplays(0), fastTxn())
	if err != nil {
		t.Fatal(err)
	}
	if sum, err = r.Run(ctx); err != nil || sum.Total != 9 || sum.Replayed != 9 || sum.ByTarget["other"] != 9 {
		t.Fatalf("second replay: %+v %v", sum, err)
	}
	if n := len(readAll(t, c, "other")); n != 9 {
		t.Fatalf("%d records in other, want 9", n)
	}
	// Nothing left: a third run does nothing.
	r, _ = dlq.New(c, "dlq", fastTxn())
	if sum, err = r.Run(ctx); err != nil || sum.Total != 0 || !sum.Complete {
		t.Fatalf("third replay: %+v %v", sum, err)
	}
	if n := len(readAll(t, c, "in")); n != 5 {
		t.Fatalf("%d records in the source topic after all replays, want 5", n)
	}
}

func TestReplayOptionsAndErrors(t *testing.T) {
	_, err := dlq.New(eoskit.Conn{}, "", dlq.WithMaxReplays(-1), dlq.WithTarget(""), dlq.WithLogger(nil))
	var oe *eoskit.OptionError
	if !errors.Is(err, eoskit.ErrInvalidOption) || !errors.As(err, &oe) || len(oe.Problems) != 4 {
		t.Fatalf("invalid options: %v", err)
	}
	if _, err := dlq.New(eoskit.Conn{Brokers: []string{"h:1"}}, "d", dlq.WithTarget("d")); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Fatalf("target = dlq: %v", err)
	}
	c := cluster(t, "dlq")
	if _, err := dlq.Inspect(context.Background(), c, "nope", dlq.InspectOptions{}); !errors.Is(err, dlq.ErrUnknownTopic) {
		t.Fatalf("Inspect of a missing topic: %v", err)
	}
	if rec := dlq.Redrive(&kgo.Record{Topic: "dlq"}, ""); rec != nil {
		t.Fatalf("Redrive without origin: %+v", rec)
	}
}
