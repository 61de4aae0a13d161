package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/bench/internal/stats"
	"github.com/eoskit/eoskit/txn"
)

// copyRecord copies a record to out, keeping its partition (as Kafka's
// TransactionalMessageCopier does).
func copyRecord(in *kgo.Record, out string) *kgo.Record {
	return &kgo.Record{Topic: out, Partition: in.Partition, Key: in.Key, Value: in.Value}
}

// copyEOS copies s.Records records from Topic to OutTopic exactly once.
// Transactions end after TxnRecords records (one poll of at most that many,
// as the copier) or, when TxnRecords is 0, after TxnIntervalMs.
func copyEOS(ctx context.Context, s Spec) (Result, error) {
	if s.Impl == ImplEoskit {
		return copyEoskit(ctx, s)
	}
	opts := append(consumeOpts(s), kgo.TransactionalID(s.TxnID), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	opts = append(opts, producerOpts(s)...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return Result{}, err
	}
	defer sess.Close()
	if _, _, err := sess.Client().ProducerID(ctx); err != nil {
		return Result{}, fmt.Errorf("init producer ID: %w", err)
	}
	interval := time.Duration(s.TxnIntervalMs) * time.Millisecond
	var (
		done, aborted int64
		commits       []float64
		start         time.Time
		a             acks
	)
	for done < s.Records {
		var n int64
		open := false
		began := time.Now()
		for {
			pctx, cancel := ctx, context.CancelFunc(func() {})
			if open && interval > 0 {
				pctx, cancel = context.WithDeadline(ctx, began.Add(interval))
			}
			fs := sess.PollRecords(pctx, s.TxnRecords)
			cancel()
			if err := fetchErr(ctx, fs); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return Result{Records: done}, err
			}
			if fs.NumRecords() > 0 && !open {
				if start.IsZero() {
					start = time.Now()
				}
				if err := sess.Begin(); err != nil {
					return Result{Records: done}, fmt.Errorf("begin: %w", err)
				}
				open, began = true, time.Now()
			}
			fs.EachRecord(func(r *kgo.Record) {
				n++
				sess.Produce(ctx, copyRecord(r, s.OutTopic), a.done)
			})
			// Like eoskit's processor, never end early because the input
			// is known to be drained: a copier cannot know that.
			if open && (s.TxnRecords > 0 || time.Since(began) >= interval) {
				break
			}
		}
		c := time.Now()
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			return Result{Records: done}, fmt.Errorf("end transaction: %w", err)
		}
		if !committed {
			aborted++
			continue
		}
		commits = append(commits, ms(time.Since(c)))
		done += n
	}
	return Result{
		Records: done, Seconds: time.Since(start).Seconds(), Aborted: aborted,
		CommitP50: stats.Percentile(commits, 50), CommitP99: stats.Percentile(commits, 99),
	}, a.err()
}

// copyALO copies at least once: produce, flush, then commit the offsets,
// every TxnIntervalMs.
func copyALO(ctx context.Context, s Spec) (Result, error) {
	if s.Impl != ImplFranz {
		return Result{}, errors.New("the at-least-once copy has only a franz-go implementation")
	}
	opts := append(consumeOpts(s), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	opts = append(opts, producerOpts(s)...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	interval := time.Duration(max(s.TxnIntervalMs, 1)) * time.Millisecond
	var (
		a       acks
		n, done int64 // polled; flushed and committed
		start   time.Time
		last    = time.Now()
		commits []float64
	)
	for done < s.Records {
		pctx, cancel := context.WithDeadline(ctx, last.Add(interval))
		fs := cl.PollRecords(pctx, 0)
		cancel()
		if err := fetchErr(ctx, fs); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return Result{Records: n}, err
		}
		if start.IsZero() && fs.NumRecords() > 0 {
			start = time.Now()
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			cl.Produce(ctx, copyRecord(r, s.OutTopic), a.done)
		})
		if time.Since(last) >= interval {
			c := time.Now()
			if err := cl.Flush(ctx); err != nil {
				return Result{Records: n}, err
			}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				return Result{Records: n}, fmt.Errorf("commit offsets: %w", err)
			}
			commits = append(commits, ms(time.Since(c)))
			last, done = time.Now(), n
		}
	}
	return Result{
		Records: a.ok.Load(), Seconds: time.Since(start).Seconds(),
		CommitP50: stats.Percentile(commits, 50), CommitP99: stats.Percentile(commits, 99),
	}, a.err()
}

// txnEnds collects commit latencies from the eoskit processor's hook and
// stops the processor once every input record is committed.
type txnEnds struct {
	mu       sync.Mutex
	want     int64
	done     int64
	aborted  int64
	first    time.Time
	last     time.Time
	commits  []float64
	finished func()
}

func (h *txnEnds) OnTxnEnd(e eoskit.TxnEnd) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Outcome != eoskit.TxnCommitted {
		h.aborted++
		return
	}
	h.done += int64(e.Records)
	h.commits = append(h.commits, ms(e.Duration))
	if h.done >= h.want && h.last.IsZero() {
		h.last = time.Now()
		h.finished()
	}
}

// copyEoskit runs eoskit's txn.Processor with txn.Copy.
func copyEoskit(ctx context.Context, s Spec) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &txnEnds{want: s.Records, finished: cancel}
	conn := eoskit.Conn{Brokers: s.Brokers, KgoOpts: append(producerOpts(s), kgo.RecordPartitioner(kgo.ManualPartitioner()))}
	opts := []txn.Opt{
		txn.WithGroup(s.Group), txn.WithTopics(s.Topic),
		txn.WithTransactionalID(s.TxnID), txn.WithProvenance(false), txn.WithHooks(h),
	}
	if s.Observe {
		hooks, kopts, err := observeHooks(s)
		if err != nil {
			return Result{}, err
		}
		conn.KgoOpts = append(conn.KgoOpts, kopts...)
		opts = append(opts, txn.WithHooks(hooks...))
	}
	if s.TxnRecords > 0 {
		opts = append(opts, txn.WithMaxTxnRecords(s.TxnRecords))
	}
	if s.TxnIntervalMs > 0 {
		opts = append(opts, txn.WithCommitInterval(time.Duration(s.TxnIntervalMs)*time.Millisecond))
	} else {
		// The processor has no one-transaction-per-poll mode: close by size,
		// or after 100 ms so a short tail does not wait.
		opts = append(opts, txn.WithCommitInterval(100*time.Millisecond))
	}
	p, err := txn.New(conn, func(_ context.Context, in *kgo.Record, emit txn.Emit) error {
		h.mu.Lock()
		if h.first.IsZero() {
			h.first = time.Now()
		}
		h.mu.Unlock()
		emit(copyRecord(in, s.OutTopic))
		return nil
	}, opts...)
	if err != nil {
		return Result{}, err
	}
	err = p.Run(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last.IsZero() {
		h.last = time.Now()
	}
	return Result{
		Records: h.done, Seconds: h.last.Sub(h.first).Seconds(), Aborted: h.aborted,
		CommitP50: stats.Percentile(h.commits, 50), CommitP99: stats.Percentile(h.commits, 99),
	}, err
}
