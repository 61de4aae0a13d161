// Command pgsink is the sink the fault tests run as an OS process: the
// postgres/sink library in append mode (-mode eos), or a hand-written
// at-least-once sink with the same batching (-mode alo: offsets committed
// to Kafka after each database commit), into a table
// (topic, partition, "offset", value) with no unique constraint, so that a
// duplicate stays visible.
//
// Stdout carries lines the tests parse:
//
//	claimed TOPIC PARTITION EPOCH   a partition claimed (eos)
//	fenced TOPIC PARTITION EPOCH CURRENT   a commit the fence refused (eos)
//	holding                     the handler found -hold-file and waits
//	stats JSON                  sink.Stats, every second and at exit
//
// SIGTERM or SIGINT stops it cleanly (exit 0).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/postgres/sink"
)

type flags struct {
	brokers, dsn, group, topic, table, mode, holdFile string
	sessionTimeout, batchSleep, aloGap                time.Duration
	maxBatch                                          int
	verbose                                           bool
}

func main() {
	var f flags
	flag.StringVar(&f.brokers, "brokers", "", "seed brokers")
	flag.StringVar(&f.dsn, "dsn", "", "PostgreSQL DSN")
	flag.StringVar(&f.group, "group", "", "consumer group")
	flag.StringVar(&f.topic, "topic", "", "input topic")
	flag.StringVar(&f.table, "table", "", "output table")
	flag.StringVar(&f.mode, "mode", "eos", "eos (postgres/sink) or alo (offsets to Kafka after the DB commit)")
	flag.StringVar(&f.holdFile, "hold-file", "", "while this file exists, the handler waits (after printing 'holding')")
	flag.DurationVar(&f.sessionTimeout, "session-timeout", 6*time.Second, "group session timeout")
	flag.DurationVar(&f.batchSleep, "batch-sleep", 0, "sleep in the handler per batch (paces the run)")
	flag.DurationVar(&f.aloGap, "alo-gap", 0, "alo: wait between the DB commit and the Kafka commit")
	flag.IntVar(&f.maxBatch, "max-batch", 100, "records per batch")
	flag.BoolVar(&f.verbose, "v", false, "log to stderr")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, f); err != nil {
		fmt.Fprintln(os.Stderr, "pgsink:", err)
		os.Exit(1)
	}
}

var out sync.Mutex

func say(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Printf(format+"\n", args...)
}

func run(ctx context.Context, f flags) error {
	pool, err := pgxpool.New(ctx, f.dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	insert := func(ctx context.Context, tx pgx.Tx, recs []*kgo.Record) error {
		if f.holdFile != "" {
			if _, err := os.Stat(f.holdFile); err == nil {
				say("holding")
				for {
					if _, err := os.Stat(f.holdFile); err != nil {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}
		if f.batchSleep > 0 {
			time.Sleep(f.batchSleep)
		}
		rows := make([][]any, len(recs))
		for i, r := range recs {
			rows[i] = []any{r.Topic, r.Partition, r.Offset, string(r.Value)}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier(strings.Split(f.table, ".")), []string{"topic", "partition", "offset", "value"}, pgx.CopyFromRows(rows))
		return err
	}
	conn := eoskit.Conn{Brokers: eoskit.ParseBrokers(f.brokers), ClientID: "pgsink"}
	if f.mode == "alo" {
		return runALO(ctx, f, conn, pool, insert)
	}
	rec := &recorder{}
	s, err := sink.New(conn, pool, insert, sink.WithGroup(f.group), sink.WithTopics(f.topic),
		sink.WithSessionTimeout(f.sessionTimeout), sink.WithMaxBatchRecords(f.maxBatch),
		sink.WithRetryBackoff(50*time.Millisecond), sink.WithMaxBackoff(time.Second),
		sink.WithLogger(logger), sink.WithHooks(rec))
	if err != nil {
		return err
	}
	if err := sink.Migrate(ctx, pool); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				printStats(s.Stats())
			}
		}
	}()
	err = s.Run(ctx)
	close(done)
	printStats(s.Stats())
	return err
}

func printStats(st sink.Stats) {
	b, _ := json.Marshal(st)
	say("stats %s", b)
}

type recorder struct{}

func (recorder) OnFenceRefused(e sink.FenceRefused) {
	say("fenced %s %d %d %d", e.Topic, e.Partition, e.Epoch, e.Current)
}

func (recorder) OnAssigned(a eoskit.Assignment) {
	for t, ps := range a.Partitions {
		for _, p := range ps {
			say("claimed %s %d", t, p)
		}
	}
}

// runALO is the control: at-least-once, the way most hand-written sinks
// are (and the JDBC sink without upserts): DB commit, then Kafka commit.
func runALO(ctx context.Context, f flags, conn eoskit.Conn, pool *pgxpool.Pool, insert sink.Handler) error {
	cl, err := conn.NewClient(kgo.ConsumerGroup(f.group), kgo.ConsumeTopics(f.topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(f.sessionTimeout), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var n int64
	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, f.maxBatch)
		recs := fs.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		// Retry the batch until the database takes it (at least once).
		for {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return insert(ctx, tx, recs) })
			if err == nil || ctx.Err() != nil {
				break
			}
			fmt.Fprintln(os.Stderr, "pgsink alo: batch:", err)
			time.Sleep(100 * time.Millisecond)
		}
		if ctx.Err() != nil {
			cl.AllowRebalance()
			break
		}
		n += int64(len(recs))
		if f.aloGap > 0 {
			time.Sleep(f.aloGap)
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "pgsink alo: kafka commit:", err)
		}
		cl.AllowRebalance()
	}
	printStats(sink.Stats{Records: n})
	return nil
}
