package client

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/bench/internal/stats"
)

// e2e produces s.Records records at s.Rate records/s in transactions of
// TxnIntervalMs and reads them back read_committed in the same process; a
// record's latency runs from the time the schedule says it is due (so time
// spent blocked in a commit counts: no coordinated omission) to its delivery
// by the consumer.
func e2e(ctx context.Context, s Spec) (Result, error) {
	var a acks
	tp, err := newTxnProducer(ctx, s, &a)
	if err != nil {
		return Result{}, err
	}
	defer tp.close()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(s.Brokers...),
		kgo.ConsumeTopics(s.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type received struct {
		lat []float64
		err error
	}
	got := make(chan received, 1)
	go func() {
		var r received
		for int64(len(r.lat)) < s.Records {
			fs := cl.PollFetches(ctx)
			if r.err = fetchErr(ctx, fs); r.err != nil {
				break
			}
			now := time.Now()
			fs.EachRecord(func(rec *kgo.Record) {
				if t, ok := sentAt(rec.Value); ok {
					r.lat = append(r.lat, ms(now.Sub(t)))
				}
			})
		}
		got <- r
	}()

	interval := time.Duration(max(s.TxnIntervalMs, 1)) * time.Millisecond
	rate := max(s.Rate, 1)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var (
		i     int64
		began time.Time
		open  bool
	)
	for i < s.Records {
		<-tick.C
		if !open {
			if err := tp.begin(); err != nil {
				return Result{}, fmt.Errorf("begin: %w", err)
			}
			open, began = true, time.Now()
		}
		due := min(int64(time.Since(start).Seconds()*float64(rate)), s.Records)
		for ; i < due; i++ {
			at := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			tp.produce(&kgo.Record{Topic: s.Topic, Value: PayloadAt(i, s.RecordSize, at)})
		}
		if time.Since(began) >= interval || i == s.Records {
			if err := tp.commit(); err != nil {
				return Result{}, fmt.Errorf("commit: %w", err)
			}
			open = false
		}
	}
	var r received
	select {
	case r = <-got:
	case <-time.After(time.Minute):
		cancel()
		r = <-got
	}
	if r.err != nil {
		return Result{}, r.err
	}
	return Result{
		Records: int64(len(r.lat)), Seconds: time.Since(start).Seconds(),
		E2EP50: stats.Percentile(r.lat, 50), E2EP99: stats.Percentile(r.lat, 99),
	}, a.err()
}
