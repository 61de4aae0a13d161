// Command copier is the test processor of txn's exactly-once suite: it
// copies one topic to another with txn (mode eos), or, to prove the checks
// can fail, as a plain at-least-once consumer-producer that commits offsets
// outside any transaction (mode alo). The suite runs it as separate OS
// processes so SIGKILL and SIGSTOP are real.
//
// Exit codes: 0 after SIGTERM/SIGINT (graceful), 3 fenced, 1 other errors,
// 2 bad flags. It prints a JSON line of txn.Stats to stdout every second and at exit.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn"
)

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("copier", flag.ContinueOnError)
	var (
		brokers     = fs.String("brokers", "", "seed brokers, comma-separated")
		from        = fs.String("from", "", "input topic")
		to          = fs.String("to", "", "output topic")
		group       = fs.String("group", "", "consumer group")
		txnID       = fs.String("txn-id", "", "transactional ID (eos)")
		mode        = fs.String("mode", "eos", "eos | alo (at-least-once, offsets committed outside any transaction)")
		maxRecords  = fs.Int("max-records", 300, "records per transaction")
		pollRecords = fs.Int("poll-records", 50, "records per poll (a transaction spans several polls)")
		interval    = fs.Duration("interval", 100*time.Millisecond, "commit interval")
		txnTimeout  = fs.Duration("txn-timeout", 10*time.Second, "transaction timeout")
		sessTimeout = fs.Duration("session-timeout", 6*time.Second, "group session timeout")
		rate        = fs.Int("rate", 0, "max records per second handled (0: unlimited)")
		verbose     = fs.Bool("v", false, "log to stderr")
	)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	seeds := strings.Split(*brokers, ",")
	throttle := func(n int) {
		if *rate > 0 {
			time.Sleep(time.Duration(n) * time.Second / time.Duration(*rate))
		}
	}
	if *mode == "alo" {
		return atLeastOnce(ctx, log, seeds, *from, *to, *group, *sessTimeout, throttle)
	}
	h := func(ctx context.Context, in []*kgo.Record, emit txn.BatchEmit) error {
		for _, r := range in {
			emit(r, &kgo.Record{Topic: *to, Key: r.Key, Value: r.Value})
		}
		throttle(len(in))
		return nil
	}
	conn := eoskit.Conn{Brokers: seeds, KgoOpts: []kgo.Opt{kgo.ProducerBatchMaxBytes(16 << 10)}}
	p, err := txn.NewBatch(conn, h,
		txn.WithGroup(*group), txn.WithTopics(*from), txn.WithTransactionalID(*txnID),
		txn.WithMaxTxnRecords(*maxRecords), txn.WithMaxPollRecords(*pollRecords), txn.WithCommitInterval(*interval),
		txn.WithTransactionTimeout(*txnTimeout), txn.WithSessionTimeout(*sessTimeout), txn.WithLogger(log),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// One stats line a second (and one at exit): a SIGKILLed copier's work
	// is still accounted for up to its last second.
	go func() {
		for range time.Tick(time.Second) {
			printStats(p)
		}
	}()
	err = p.Run(ctx)
	printStats(p)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, eoskit.ErrFenced):
		fmt.Fprintln(os.Stderr, "copier:", err)
		return 3
	default:
		fmt.Fprintln(os.Stderr, "copier:", err)
		return 1
	}
}

// atLeastOnce is the deliberately unsafe pipeline: produce (idempotent, not
// transactional), then commit offsets separately; a crash between the two
// duplicates the records produced since the last commit.
func atLeastOnce(ctx context.Context, log *slog.Logger, seeds []string, from, to, group string, sess time.Duration, throttle func(int)) int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(from),
		kgo.SessionTimeout(sess), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer cl.Close()
	var in, out, commits int64
	defer func() { fmt.Printf("{\"RecordsIn\":%d,\"RecordsOut\":%d,\"Commits\":%d}\n", in, out, commits) }()
	last := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollRecords(pctx, 300)
		cancel()
		if ctx.Err() != nil {
			return 0
		}
		var outs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			outs = append(outs, &kgo.Record{Topic: to, Key: r.Key, Value: r.Value,
				Headers: []kgo.RecordHeader{{Key: txn.ProvenanceHeader, Value: []byte(txn.Source(r))}}})
		})
		if len(outs) == 0 && time.Since(last) <= time.Second {
			continue
		}
		if err := cl.ProduceSync(ctx, outs...).FirstErr(); err != nil {
			log.Warn("alo: produce", "err", err)
			return 1
		}
		in += int64(len(outs))
		out += int64(len(outs))
		throttle(len(outs))
		// Offsets are committed once a second, outside any transaction.
		if time.Since(last) > time.Second {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				log.Warn("alo: commit", "err", err)
			}
			commits++
			last = time.Now()
		}
	}
}

func printStats(p *txn.Processor) {
	b, _ := json.Marshal(p.Stats())
	fmt.Println(string(b))
}
