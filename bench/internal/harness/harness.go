// Package harness runs eoskit's benchmark: one single-node Kafka, every
// case's sides interleaved round by round, a correctness gate on every run,
// and a report of medians, ranges and ratios to the baseline.
package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eoskit/eoskit/bench/internal/report"
	"github.com/eoskit/eoskit/integration"
)

// Config is one benchmark run.
type Config struct {
	Records     int64    // 100-byte produce records per run; other cases scale from it
	Rounds      int      // measured rounds (each side once per round)
	Warmup      int      // rounds run first and discarded
	Cases       []string // case names or prefixes to run; empty: all
	TxnVersions []int    // transaction.version of the broker, e.g. [2 1]
	Tare        bool     // subtract each side's start-up CPU (a 1-record run) from its CPU figure
	RunTimeout  time.Duration
	Java        Java
	Backend     integration.Backend
	// Self and SelfArgs start this program's hidden client command.
	Self     string
	SelfArgs []string
	// Peers are the built peer clients (BuildPeers); the sides of missing
	// ones are left out of their cases, which say so.
	Peers    map[string]Peer
	Progress io.Writer // progress lines; nil: discarded
	// Cluster, when set, is used instead of starting one (its
	// transaction.version replaces TxnVersions); Run does not close it.
	Cluster *integration.Cluster
	// Catalog, when set, replaces Catalog(Records).
	Catalog []Case
	// ProfileDir, when set, receives a pprof CPU profile of every measured
	// Go client run, named case_side_round.pprof.
	ProfileDir string
}

// Env is what sides need to run: the cluster and the tools.
type Env struct {
	Brokers  []string
	Admin    *kadm.Client
	Java     Java
	Self     string
	SelfArgs []string
	Peers    map[string]Peer
	WorkDir  string
	// ProfileDir: see Config.ProfileDir.
	ProfileDir string
	runID      string
	seq        atomic.Int64
}

func (e *Env) name(kind string) string {
	return fmt.Sprintf("eosbench-%s-%s-%d", e.runID, kind, e.seq.Add(1))
}

// Selected returns the catalog cases named by names: a name selects the
// case of that name, and every case it is a dash-separated prefix of
// ("copy" selects copy-tuned, but copy-matched-500 not copy-matched-5000).
func Selected(cases []Case, names []string) []Case {
	if len(names) == 0 {
		return cases
	}
	var out []Case
	for _, c := range cases {
		for _, n := range names {
			if c.Name == n || strings.HasPrefix(c.Name, strings.TrimSuffix(n, "-")+"-") {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// Run starts a broker per transaction.version, runs the selected cases and
// returns the report. A case whose gate fails is reported as failed. Run
// returns an error when the benchmark cannot run (nil report), or, with the
// report of what did run, when a cluster did not start or ctx ended.
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	catalog := cfg.Catalog
	if catalog == nil {
		catalog = Catalog(cfg.Records)
	}
	cases := Selected(catalog, cfg.Cases)
	for i := range cases {
		cases[i] = withPeers(cases[i], cfg.Peers)
	}
	if len(cases) == 0 {
		return nil, errors.New("no case matches the names given: see -list")
	}
	if err := cfg.Java.Check(); err != nil {
		return nil, err
	}
	if cfg.Cluster != nil {
		cfg.TxnVersions, cfg.Backend = []int{cfg.Cluster.TransactionVersion()}, cfg.Cluster.Backend()
	}
	rep := &report.Report{
		Started: time.Now().UTC(), KafkaVersion: integration.DefaultKafkaVersion, Backend: string(cfg.Backend),
		Brokers: 1, Pairs: cfg.Rounds, Warmup: cfg.Warmup, CPUs: runtime.NumCPU(),
		GoVersion: runtime.Version(), JavaVersion: cfg.Java.Version(), LoadBefore: loadavg(),
	}
	if cfg.Tare {
		rep.Notes = append(rep.Notes, "client CPU is the process's user+system CPU time (wait4 rusage) minus that of a 1-record run of the same side (JVM or Go start-up, connection, metadata), per million records")
	} else {
		rep.Notes = append(rep.Notes, "client CPU is the process's whole user+system CPU time (wait4 rusage), start-up included, per million records")
	}
	work, err := os.MkdirTemp("", "eosbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	if cfg.Java.Log4j == "" {
		cfg.Java.Log4j = filepath.Join(work, "tools-log4j2.properties")
		if err := os.WriteFile(cfg.Java.Log4j, []byte(ToolsLog4j), 0o644); err != nil {
			return nil, err
		}
	}
	var runErr error // a cluster that did not start; the other versions still run
	for i, tv := range cfg.TxnVersions {
		var todo []Case
		for _, c := range cases {
			if c.Transactional || i == 0 {
				todo = append(todo, c)
			}
		}
		if len(todo) == 0 {
			continue
		}
		cl, closeCluster, err := cluster(ctx, cfg, tv, progress)
		if err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("transaction.version %d: %w", tv, err))
			continue
		}
		kc, err := cl.NewClient()
		if err != nil {
			closeCluster()
			runErr = errors.Join(runErr, err)
			continue
		}
		env := &Env{
			Brokers: cl.Bootstrap(), Admin: kadm.NewClient(kc), Java: cfg.Java,
			Self: cfg.Self, SelfArgs: cfg.SelfArgs, Peers: cfg.Peers, WorkDir: work, ProfileDir: cfg.ProfileDir,
			runID: fmt.Sprintf("%d", time.Now().Unix()%100000),
		}
		for _, c := range todo {
			if ctx.Err() != nil {
				break
			}
			rc := runCase(ctx, cfg, env, c, progress)
			rc.TransactionVersion = tv
			if len(cfg.TxnVersions) > 1 && c.Transactional {
				rc.Name = fmt.Sprintf("%s tv%d", rc.Name, tv)
			}
			rep.Cases = append(rep.Cases, rc)
		}
		kc.Close()
		closeCluster()
	}
	rep.Finished, rep.LoadAfter = time.Now().UTC(), loadavg()
	return rep, errors.Join(runErr, ctx.Err())
}

// cluster returns the configured cluster, or starts a 1-node one.
func cluster(ctx context.Context, cfg Config, tv int, progress io.Writer) (*integration.Cluster, func(), error) {
	if cfg.Cluster != nil {
		return cfg.Cluster, func() {}, nil
	}
	fmt.Fprintf(progress, "eosbench: starting a 1-node Kafka %s (transaction.version %d, %s backend)\n", integration.DefaultKafkaVersion, tv, cfg.Backend)
	cl, err := integration.StartCluster(ctx, integration.WithNodes(1), integration.WithBackend(cfg.Backend),
		integration.WithTransactionVersion(tv))
	if err != nil {
		return nil, nil, err
	}
	return cl, func() {
		if err := cl.Close(); err != nil {
			fmt.Fprintf(progress, "eosbench: closing the cluster: %v\n", err)
		}
	}, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// runCase runs one case: set-up, warm-up rounds, tare runs, measured rounds.
// The first failure ends the case and is all it reports.
func runCase(ctx context.Context, cfg Config, e *Env, c Case, progress io.Writer) report.Case {
	rc := report.Case{Name: c.Name, Title: c.Title, Settings: c.Settings, Reference: c.Reference}
	for _, s := range c.Sides {
		rc.Sides = append(rc.Sides, s.Label())
	}
	fail := func(err error) report.Case {
		rc.Failure = err.Error()
		fmt.Fprintf(progress, "eosbench: %s FAILED: %v\n", c.Name, err)
		return rc
	}
	// Consume and copy cases read a filled input; their tare runs read a
	// one-record input, so the tare is start-up cost, not a first poll.
	var input, tareInput string
	if c.Kind == KindConsume || c.Kind == KindCopy {
		input, tareInput = e.name("in"), e.name("tare-in")
		fmt.Fprintf(progress, "eosbench: %s: writing %d input records\n", c.Name, c.Records)
		for _, in := range []struct {
			topic string
			n     int64
		}{{input, c.Records}, {tareInput, 1}} {
			if err := createTopic(ctx, e, in.topic, c.Partitions); err != nil {
				return fail(err)
			}
			defer deleteTopic(e, in.topic)
			if err := fill(ctx, e, in.topic, in.n, c.RecordSize); err != nil {
				return fail(err)
			}
			if err := readBack(ctx, e, in.topic, in.n, true); err != nil {
				return fail(fmt.Errorf("input: %w", err))
			}
		}
	}
	one := func(round string, s Side, records int64, gate bool) (Measurement, error) {
		if l, ok := s.(recordsLimiter); ok {
			records = min(records, l.maxRecords())
		}
		in := input
		if !gate {
			in = tareInput
		}
		w, cleanup, err := newWork(ctx, e, c, in, records)
		if err != nil {
			return Measurement{}, err
		}
		if gate {
			w.Profile = fileName(c.Name + "_" + s.Label() + "_" + round)
		}
		defer cleanup()
		rctx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
		defer cancel()
		began := time.Now()
		m, err := s.Run(rctx, e, w)
		if err == nil && gate {
			err = checkGate(ctx, e, c, s, w, m)
		}
		if err != nil {
			return m, fmt.Errorf("%s, %s: %w", s.Label(), round, err)
		}
		rate := "-"
		if !math.IsNaN(m.RecPerSec) {
			rate = fmt.Sprintf("%.0f", m.RecPerSec)
		}
		fmt.Fprintf(progress, "eosbench: %s %s %-40s %8d records %10s rec/s %6.2f CPU-s %6.0f MiB (%s)\n",
			c.Name, round, s.Label(), m.Records, rate, m.CPU, m.RSS/(1<<20), time.Since(began).Round(time.Millisecond))
		return m, nil
	}
	for i := range cfg.Warmup {
		for _, s := range c.Sides {
			if _, err := one(fmt.Sprintf("warm-up %d", i+1), s, c.Records, true); err != nil {
				return fail(err)
			}
		}
	}
	tare := make([]float64, len(c.Sides))
	if cfg.Tare {
		for i, s := range c.Sides {
			m, err := one("tare", s, 1, false)
			if err != nil {
				return fail(err)
			}
			tare[i] = m.CPU
		}
	}
	ms, err := measureRounds(cfg.Rounds, len(c.Sides), func(r, i int) (Measurement, error) {
		return one(fmt.Sprintf("round %d", r+1), c.Sides[i], c.Records, true)
	})
	if err != nil {
		return fail(err)
	}
	rc.Figures = figures(rc.Sides, c.Reference, ms, tare)
	return rc
}

// measureRounds runs rounds measured rounds of n sides, round r in row
// r (mod the cycle) of williams(n), and returns the measurements by side, then round (whatever
// the order they ran in); the first error stops it.
func measureRounds(rounds, n int, run func(round, side int) (Measurement, error)) ([][]Measurement, error) {
	ms := make([][]Measurement, n)
	orders := williams(n)
	for r := range rounds {
		for _, i := range orders[r%len(orders)] {
			m, err := run(r, i)
			if err != nil {
				return nil, err
			}
			ms[i] = append(ms[i], m)
		}
	}
	return ms, nil
}

// williams returns the rows of a Williams design for n treatments: row k
// is 0, 1, n-1, 2, n-2, ... shifted by k (mod n); for odd n the reversed
// rows follow.
//
// measureRounds runs round r in row r mod len(rows): a balanced Latin
// square, for odd n with its rows reversed as well. Over a cycle of
// len(rows) rounds (n for even n, 2n for odd) every side runs equally
// often in every position and, within a round, right after every other
// side (the first run of a round follows the last of the round before:
// that is not balanced). The
// client's CPU per record depends on the broker's state the run before
// left (its JVM's garbage and JIT, the log it appended to), and a fixed
// order, or a rotation (A B C, B C A, C A B: A always follows C), turns
// that into a bias between sides that more rounds do not remove. The
// balance is exact when the rounds are a multiple of the cycle.
func williams(n int) [][]int {
	if n <= 1 {
		return [][]int{make([]int, n)}
	}
	first := make([]int, n)
	for i, lo, hi := 1, 1, n-1; i < n; i++ {
		if i%2 == 1 {
			first[i], lo = lo, lo+1
		} else {
			first[i], hi = hi, hi-1
		}
	}
	var rows [][]int
	for k := range n {
		row := make([]int, n)
		for i, v := range first {
			row[i] = (v + k) % n
		}
		rows = append(rows, row)
	}
	if n%2 == 1 {
		for k := range n {
			row := slices.Clone(rows[k])
			slices.Reverse(row)
			rows = append(rows, row)
		}
	}
	return rows
}

// fileName keeps letters, digits, '-' and '_' of s, and turns the rest into '-'.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
}

// figures turns measurements[side][round] into report figures; figures no
// side measured are left out.
func figures(sides []string, reference string, ms [][]Measurement, tare []float64) []report.Figure {
	defs := []struct {
		name, unit string
		get        func(m Measurement, side int) float64
	}{
		{"throughput", "records/s", func(m Measurement, _ int) float64 { return m.RecPerSec }},
		{"client CPU", "CPU-s per M records", func(m Measurement, i int) float64 {
			if m.Records == 0 {
				return math.NaN()
			}
			return max(m.CPU-tare[i], 0) / float64(m.Records) * 1e6
		}},
		{"client peak RSS", "MiB", func(m Measurement, _ int) float64 { return m.RSS / (1 << 20) }},
		{"commit p50", "ms", func(m Measurement, _ int) float64 { return m.CommitP50 }},
		{"commit p99", "ms", func(m Measurement, _ int) float64 { return m.CommitP99 }},
		{"end-to-end p50", "ms", func(m Measurement, _ int) float64 { return m.E2EP50 }},
		{"end-to-end p99", "ms", func(m Measurement, _ int) float64 { return m.E2EP99 }},
	}
	var out []report.Figure
	for _, d := range defs {
		samples := make([][]float64, len(ms))
		for i, runs := range ms {
			for _, m := range runs {
				samples[i] = append(samples[i], d.get(m, i))
			}
		}
		if f := report.NewFigure(d.name, d.unit, sides, samples, reference); len(f.Sides) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// newWork makes one run's fresh topics, group and transactional ID.
func newWork(ctx context.Context, e *Env, c Case, input string, records int64) (Work, func(), error) {
	w := Work{Topic: input, Group: e.name("group"), TxnID: e.name("txn"), Records: records}
	var created []string
	cleanup := func() {
		for _, t := range created {
			deleteTopic(e, t)
		}
	}
	create := func(partitions int32) (string, error) {
		t := e.name("out")
		if err := createTopic(ctx, e, t, partitions); err != nil {
			return "", err
		}
		created = append(created, t)
		return t, nil
	}
	var err error
	switch c.Kind {
	case KindProduce, KindE2E:
		w.Topic, err = create(c.Partitions)
	case KindCopy:
		w.OutTopic, err = create(c.Partitions)
	}
	if err != nil {
		cleanup()
		return w, func() {}, err
	}
	return w, cleanup, nil
}

// checkGate is a run's correctness gate: the committed output holds every
// record exactly once (read back; by sequence number where the values carry
// one), and the client counted as many.
func checkGate(ctx context.Context, e *Env, c Case, s Side, w Work, m Measurement) error {
	if m.Records != w.Records {
		return fmt.Errorf("the client counted %d records, want %d", m.Records, w.Records)
	}
	switch c.Kind {
	case KindProduce:
		return readBack(ctx, e, w.Topic, w.Records, s.SeqPayload())
	case KindCopy:
		return readBack(ctx, e, w.OutTopic, w.Records, true)
	}
	return nil
}

func createTopic(ctx context.Context, e *Env, topic string, partitions int32) error {
	resp, err := e.Admin.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	// Wait until the partitions have leaders, so no side pays for it.
	var last error
	for range 300 {
		md, err := e.Admin.Metadata(ctx, topic)
		last = err
		if err == nil {
			t, ok := md.Topics[topic]
			switch {
			case !ok:
				last = errors.New("not in metadata")
			case t.Err != nil:
				last = t.Err
			case len(t.Partitions) != int(partitions):
				last = fmt.Errorf("%d partitions in metadata", len(t.Partitions))
			default:
				last = nil
				for _, p := range t.Partitions {
					if p.Leader < 0 || p.Err != nil {
						last = fmt.Errorf("partition %d: leader %d, %v", p.Partition, p.Leader, p.Err)
					}
				}
			}
			if last == nil {
				last = partitionsServe(ctx, e, topic)
			}
			if last == nil {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("topic %s is not ready after 30 s: %w", topic, last)
}

// partitionsServe checks that every partition's leader answers for it: a
// leader in the metadata may not have created the log yet, and a client
// told NOT_LEADER_OR_FOLLOWER waits out franz-go's 5 s metadata minimum age.
func partitionsServe(ctx context.Context, e *Env, topic string) error {
	offs, err := e.Admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	var perr error
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && perr == nil {
			perr = fmt.Errorf("partition %d: %w", o.Partition, o.Err)
		}
	})
	return perr
}

func deleteTopic(e *Env, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = e.Admin.DeleteTopic(ctx, topic)
}
