// Package cli builds eosbench's commands: the benchmark itself and the
// hidden client command the harness starts for each Go run.
package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/bench/internal/client"
	"github.com/eoskit/eoskit/bench/internal/harness"
	"github.com/eoskit/eoskit/bench/internal/report"
	"github.com/eoskit/eoskit/integration"
)

// ExitError carries a process exit code: 1 when a case failed its gate
// (the report says why), 2 for invalid flags (Err says why).
type ExitError struct {
	Code int
	Err  error
}

func (e ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "exit status " + strconv.Itoa(e.Code)
}

func (e ExitError) Unwrap() error { return e.Err }

type options struct {
	records     int64
	rounds      int
	warmup      int
	cases       []string
	txnVersions []int
	tare        bool
	runTimeout  time.Duration
	kafkaHome   string
	heap        string
	outDir      string
	name        string
	list        bool
	profileDir  string
	peers       string
}

// NewCommand returns the eosbench root command.
func NewCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "eosbench",
		Short: "Benchmark eoskit against Kafka's Java tools and raw franz-go on one Kafka node",
		Long: `eosbench starts one combined KRaft node (processes backend), then runs every
case's sides interleaved round by round after warm-up rounds (in the orders of
a Williams design: A B C, B C A, C A B, C B A, A C B, B A C), checks every
run's output (counts, duplicates, gaps), and prints the median and
min-max of each figure and of its ratio to the baseline (the last side). The
same table is written as JSON and Markdown to --out.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return run(cmd, o) },
	}
	home := os.Getenv(integration.EnvKafkaHome)
	if home == "" {
		home = integration.DefaultKafkaHome(integration.DefaultKafkaVersion)
	}
	f := cmd.Flags()
	f.Int64Var(&o.records, "records", 1_000_000, "the base size, in 100-byte records; every case scales from it (see --list: produce-100B, txn-produce-100B and consume-read-committed x3, observe-consume x5, observe-copy and sink-postgres x2, 1 KB and eos-overhead /4, copies at the copier's settings /30, end-to-end /40 up to 10000)")
	f.IntVar(&o.rounds, "rounds", 6, "measured rounds; each runs every side of a case once (a multiple of 6 balances the order of two or three sides)")
	f.IntVar(&o.warmup, "warmup", 1, "warm-up rounds, run first and discarded")
	f.StringSliceVar(&o.cases, "cases", nil, "cases to run, by name or prefix (default all; see --list)")
	f.IntSliceVar(&o.txnVersions, "txn-versions", []int{2, 1}, "transaction.version values; transactional cases run on each, the others on the first")
	f.BoolVar(&o.tare, "tare", true, "subtract each side's start-up CPU (a 1-record run) from its CPU figure")
	f.DurationVar(&o.runTimeout, "run-timeout", 10*time.Minute, "limit on one run of one side")
	f.StringVar(&o.kafkaHome, "kafka-home", home, "folder with Kafka's libs/ (for the broker and the Java tools; $"+integration.EnvKafkaHome+")")
	f.StringVar(&o.heap, "java-heap", "-Xmx512M", "heap flags of the Java tools (Kafka's perf-test scripts use -Xmx512M)")
	f.StringVar(&o.outDir, "out", "bench/results", "folder for NAME.json and NAME.md (empty: write nothing)")
	f.StringVar(&o.name, "name", "latest", "base name of the result files")
	f.BoolVar(&o.list, "list", false, "list the cases and exit")
	f.StringVar(&o.peers, "peers", "bench/peers", "folder of the peer clients' module (sarama, confluent-kafka-go), built at start; empty: run without them")
	f.StringVar(&o.profileDir, "profile-dir", "", "write a pprof CPU profile of every measured Go client run to this folder (go tool pprof FILE)")
	cmd.AddCommand(newClientCommand())
	return cmd
}

func run(cmd *cobra.Command, o options) error {
	if o.list {
		for _, c := range harness.Catalog(o.records) {
			fmt.Fprintf(cmd.OutOrStdout(), "%-24s %9d records  %s\n", c.Name, c.Records, c.Title)
		}
		return nil
	}
	if o.rounds < 1 || o.warmup < 0 || o.records < 1 || len(o.txnVersions) == 0 {
		return ExitError{Code: 2, Err: fmt.Errorf("--rounds and --records must be at least 1, --warmup at least 0, --txn-versions not empty")}
	}
	for _, v := range o.txnVersions {
		if v != 1 && v != 2 {
			return ExitError{Code: 2, Err: fmt.Errorf("--txn-versions %d: use 1 and/or 2", v)}
		}
	}
	if len(harness.Selected(harness.Catalog(o.records), o.cases)) == 0 {
		return ExitError{Code: 2, Err: fmt.Errorf("--cases %v selects no case: see --list", o.cases)}
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to start its client command: %w", err)
	}
	os.Setenv(integration.EnvKafkaHome, o.kafkaHome) // the broker uses the same jars
	var peers map[string]harness.Peer
	if o.peers != "" {
		bin, err := os.MkdirTemp("", "eosbench-peers-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(bin)
		fmt.Fprintf(cmd.ErrOrStderr(), "eosbench: building the peer clients in %s\n", o.peers)
		peers = harness.BuildPeers(cmd.Context(), o.peers, bin)
		for impl, p := range peers {
			if p.Err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "eosbench: %s left out: %v\n", impl, p.Err)
			}
		}
	}
	rep, err := harness.Run(cmd.Context(), harness.Config{
		Records: o.records, Rounds: o.rounds, Warmup: o.warmup, Cases: o.cases,
		TxnVersions: o.txnVersions, Tare: o.tare, RunTimeout: o.runTimeout,
		Java:    harness.Java{Home: o.kafkaHome, HeapFlags: o.heap},
		Backend: integration.BackendProcesses, Self: self, Peers: peers,
		Progress: cmd.ErrOrStderr(), ProfileDir: o.profileDir,
	})
	if rep == nil {
		return err
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("GOMAXPROCS %d; %d-core machine shared with other work: absolute numbers are noise, compare ratios", runtime.GOMAXPROCS(0), runtime.NumCPU()))
	if werr := rep.WriteText(cmd.OutOrStdout()); werr != nil {
		return werr
	}
	if o.outDir != "" {
		if werr := write(rep, o.outDir, o.name); werr != nil {
			return werr
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "eosbench: wrote %s.json and %s.md in %s\n", o.name, o.name, o.outDir)
	}
	if err != nil {
		return err
	}
	for _, c := range rep.Cases {
		if c.Failure != "" {
			return ExitError{Code: 1}
		}
	}
	return nil
}

func write(rep *report.Report, dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for ext, w := range map[string]func(*os.File) error{
		".json": func(f *os.File) error { return rep.WriteJSON(f) },
		".md":   func(f *os.File) error { return rep.WriteMarkdown(f) },
	} {
		f, err := os.Create(filepath.Join(dir, name+ext))
		if err != nil {
			return err
		}
		err = w(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s%s: %w", name, ext, err)
		}
	}
	return nil
}

// newClientCommand is the hidden command the harness starts in a child
// process for each Go run, so the run's CPU and memory are its own.
func newClientCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "client SPEC-JSON",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s client.Spec
			dec := json.NewDecoder(strings.NewReader(args[0]))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				return fmt.Errorf("client spec: %w", err)
			}
			if err := client.Run(cmd.Context(), s, cmd.OutOrStdout()); err != nil {
				return ExitError{Code: 1} // the error is in the result line
			}
			return nil
		},
	}
}
