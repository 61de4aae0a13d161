package prom_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/metrics/prom"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLagCollectorOnKfake: a group committed at 4 of 10 records on
// partition 0 (partition 1 empty, committed at 0), then an open
// transaction of 3 records from a second, transactional client that never
// commits: the LSO stays at 10, the HWM moves to 13, and the open
// transaction's age rises with the clock.
func TestLagCollectorOnKfake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("in"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "in", Partition: 0, At: 4, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "in", Partition: 1, At: 0, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}

	clock := &fakeClock{now: time.Now()}
	lag, err := prom.NewLagCollector(admin.NewWithClient(cl), "g", prom.LagTopics("in"), prom.LagClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(lag)

	want := func(lso0, hwm0, age0 float64) string {
		return strings.NewReplacer("LSO0", ftoa(lso0), "HWM0", ftoa(hwm0), "AGE0", ftoa(age0)).Replace(`
# HELP eoskit_lag_to_hwm_records Records between the group's committed offset and the high watermark (never 0 under transactions: markers take offsets).
# TYPE eoskit_lag_to_hwm_records gauge
eoskit_lag_to_hwm_records{group="g",partition="0",topic="in"} HWM0
eoskit_lag_to_hwm_records{group="g",partition="1",topic="in"} 0
# HELP eoskit_lag_to_lso_records Records between the group's committed offset and the last stable offset: what a read_committed member can still read.
# TYPE eoskit_lag_to_lso_records gauge
eoskit_lag_to_lso_records{group="g",partition="0",topic="in"} LSO0
eoskit_lag_to_lso_records{group="g",partition="1",topic="in"} 0
# HELP eoskit_lag_up 1 if the last lag poll got every answer, else 0.
# TYPE eoskit_lag_up gauge
eoskit_lag_up{group="g"} 1
# HELP eoskit_open_txn_age_seconds Age of the oldest open transaction on the partition, which holds its last stable offset (0: none). Rising: a stuck transaction.
# TYPE eoskit_open_txn_age_seconds gauge
eoskit_open_txn_age_seconds{group="g",partition="0",topic="in"} AGE0
eoskit_open_txn_age_seconds{group="g",partition="1",topic="in"} 0
`)
	}
	names := []string{"eoskit_lag_to_hwm_records", "eoskit_lag_to_lso_records", "eoskit_lag_up", "eoskit_open_txn_age_seconds"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want(6, 6, 0)), names...); err != nil {
		t.Fatalf("before the open transaction: %v", err)
	}

	// A second, transactional producer writes 3 records and never commits.
	hang, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("hanging"),
		kgo.DefaultProduceTopic("in"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	if err := hang.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := hang.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("open")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The real time plus 5 ms: the start time has millisecond resolution, so
	// an age measured in the same millisecond would be 0.
	clock.Add(time.Since(clock.Now()) + 5*time.Millisecond)
	parts, err := lag.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p0 := parts.Partitions[0]
	if p0.Committed != 4 || p0.LSO != 10 || p0.HWM != 13 || p0.LagToLSO != 6 || p0.LagToHWM != 9 || p0.PinnedBy == nil {
		t.Fatalf("partition 0 with an open transaction: %+v, want committed 4, LSO 10, HWM 13, lag 6 to the LSO and 9 to the HWM, pinned", p0)
	}
	first := p0.PinnedBy.Age
	if first <= 0 || p0.PinnedBy.TransactionalID != "hanging" {
		t.Fatalf("open transaction %+v right after it began: want age > 0 (its start time from DescribeTransactions) and transactional ID hanging", *p0.PinnedBy)
	}
	clock.Add(90 * time.Second)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want(6, 9, (first+90*time.Second).Seconds())), names...); err != nil {
		t.Fatalf("90 s later: %v", err)
	}
	clock.Add(60 * time.Second)
	parts, err = lag.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := parts.Partitions[0].PinnedBy.Age, first+150*time.Second; got != want {
		t.Fatalf("open transaction age %v after 150 s more, want %v (rising with the clock)", got, want)
	}
	if parts.Partitions[1].PinnedBy != nil {
		t.Fatalf("partition 1 has no open transaction, pinned by %+v", *parts.Partitions[1].PinnedBy)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
