//go:build integration

package sink_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/postgres/sink"
)

// scenarioRecords is the input of one fault scenario: 3000 records in CI,
// 30000 with EOSKIT_CHAOS=1; EOSKIT_SINK_RECORDS overrides it.
func scenarioRecords() int { return integration.ScenarioSize("EOSKIT_SINK_RECORDS", 3000, 30000) }

const (
	faultPartitions = 6
	faultBatch      = 100
)

// batchSleep paces the sinks so that a run lasts long enough for faults to
// land mid-run (about 8 s of handler time for one sink in CI).
func batchSleep(records int) time.Duration {
	return max(20*time.Millisecond, time.Duration(8*float64(time.Second)*faultBatch/float64(records)))
}

// sinkProc is one pgsink process of a slot.
type sinkProc struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	fenced  int
	claimed int
	holding bool
	stats   sink.Stats
}

// fleet runs pgsink processes in slots and keeps what they printed.
type fleet struct {
	t      *testing.T
	args   func(slot int) []string
	logDir string

	mu     sync.Mutex
	procs  map[int][]*sinkProc // every incarnation of a slot
	starts int
	kills  int
}

func newFleet(t *testing.T, args func(slot int) []string) *fleet {
	f := &fleet{t: t, args: args, logDir: t.TempDir(), procs: map[int][]*sinkProc{}}
	t.Cleanup(func() {
		f.stopAll()
		if t.Failed() {
			f.dumpLogs()
		}
	})
	return f
}

func (f *fleet) start(slot int) *sinkProc {
	f.t.Helper()
	logf, err := os.OpenFile(filepath.Join(f.logDir, fmt.Sprintf("slot-%d.log", slot)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(logf, "===== %s start\n", time.Now().Format(time.TimeOnly))
	cmd := exec.Command(sinkBin, f.args(slot)...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	p := &sinkProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, "stdout:", line)
			p.mu.Lock()
			switch {
			case strings.HasPrefix(line, "fenced "):
				p.fenced++
			case strings.HasPrefix(line, "claimed "):
				p.claimed++
			case line == "holding":
				p.holding = true
			case strings.HasPrefix(line, "stats "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "stats ")), &p.stats)
			}
			p.mu.Unlock()
		}
		_ = cmd.Wait()
		fmt.Fprintf(logf, "===== %s exit %v\n", time.Now().Format(time.TimeOnly), cmd.ProcessState)
		_ = logf.Close()
		close(p.done)
	}()
	f.mu.Lock()
	f.procs[slot] = append(f.procs[slot], p)
	f.starts++
	f.mu.Unlock()
	return p
}

func (f *fleet) current(slot int) *sinkProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := f.procs[slot]
	return ps[len(ps)-1]
}

// kill SIGKILLs a slot's process and waits for it to die.
func (f *fleet) kill(slot int) {
	p := f.current(slot)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		f.t.Errorf("slot %d: process ended with %v, not by SIGKILL", slot, p.cmd.ProcessState)
	}
	f.mu.Lock()
	f.kills++
	f.mu.Unlock()
}

func (f *fleet) signal(slot int, sig syscall.Signal) {
	if err := f.current(slot).cmd.Process.Signal(sig); err != nil {
		f.t.Errorf("slot %d: signal %v: %v", slot, sig, err)
	}
}

// term stops a slot cleanly and checks it exited 0.
func (f *fleet) term(slot int) {
	p := f.current(slot)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		f.t.Errorf("slot %d: no exit 60 s after SIGTERM", slot)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		f.t.Errorf("slot %d: exit code %d after SIGTERM", slot, code)
	}
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	var running []*sinkProc
	for _, ps := range f.procs {
		for _, p := range ps {
			running = append(running, p)
		}
	}
	f.mu.Unlock()
	for _, p := range running {
		select {
		case <-p.done:
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// totals sums what every incarnation reported.
func (f *fleet) totals() (fenced int, st sink.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ps := range f.procs {
		for _, p := range ps {
			p.mu.Lock()
			fenced += p.fenced
			st.Records += p.stats.Records
			st.FenceRefusals += p.stats.FenceRefusals
			st.DBRetries += p.stats.DBRetries
			st.Claims += p.stats.Claims
			st.Dropped += p.stats.Dropped
			p.mu.Unlock()
		}
	}
	return fenced, st
}

func (f *fleet) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(f.logDir, "*.log"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		lines := strings.Split(string(b), "\n")
		if len(lines) > 80 {
			lines = lines[len(lines)-80:]
		}
		f.t.Logf("%s (tail):\n%s", filepath.Base(file), strings.Join(lines, "\n"))
	}
}

// run is one scenario's setup: topic, input, table, group.
type run struct {
	t      *testing.T
	ctx    context.Context
	pool   *pgxpool.Pool
	topic  string
	group  string
	table  string
	input  map[int32]int
	n      int
	began  time.Time
	faults []string
}

func newRun(t *testing.T) *run {
	n := scenarioRecords()
	ctx := integration.Context(t, 10*time.Minute+time.Duration(n/100)*time.Second)
	r := &run{t: t, ctx: ctx, n: n, began: time.Now(),
		topic: integration.UniqueName(t, "in"), group: integration.UniqueName(t, "g"), table: tableName(t)}
	r.pool = newPool(t, ctx)
	if err := sink.Migrate(ctx, r.pool); err != nil {
		t.Fatal(err)
	}
	createSinkTable(t, ctx, r.pool, r.table)
	createTopic(t, ctx, r.topic, faultPartitions)
	r.input = produce(t, ctx, r.topic, n)
	return r
}

func (r *run) args(mode string, extra ...string) func(slot int) []string {
	return func(slot int) []string {
		return append([]string{"-brokers", shared.BootstrapString(), "-dsn", pg.DSN(), "-group", r.group,
			"-topic", r.topic, "-table", r.table, "-mode", mode, "-session-timeout", "3s",
			"-max-batch", strconv.Itoa(faultBatch), "-batch-sleep", batchSleep(r.n).String(), "-v"}, extra...)
	}
}

// waitFraction waits until the table holds frac of the input.
func (r *run) waitFraction(frac float64) {
	r.t.Helper()
	if _, err := waitRows(r.ctx, r.pool, r.table, int(frac*float64(r.n))); err != nil {
		r.t.Fatalf("waiting for %.0f%% of the rows: %v", 100*frac, err)
	}
}

func (r *run) fault(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.faults = append(r.faults, s)
	r.t.Logf("fault: %s", s)
}

// finish waits for every row, stops the fleet and checks exactly once.
func (r *run) finish(f *fleet, slots ...int) check {
	r.t.Helper()
	r.waitFraction(1)
	time.Sleep(2 * time.Second) // a duplicate would land in the next batches
	for _, s := range slots {
		f.term(s)
	}
	c := tableCheck(r.t, r.ctx, r.pool, r.table)
	r.report(f, c)
	return c
}

func (r *run) report(f *fleet, c check) {
	fenced, st := f.totals()
	line := fmt.Sprintf("records=%d rows=%d distinct=%d duplicates=%d faults=%q fence_refusals=%d (printed %d) db_retries=%d claims=%d dropped=%d starts=%d kills=%d wall=%s",
		r.n, c.rows, c.distinct, c.dupRows, r.faults, st.FenceRefusals, fenced, st.DBRetries, st.Claims, st.Dropped, f.starts, f.kills,
		time.Since(r.began).Round(100*time.Millisecond))
	r.t.Log(line)
	fmt.Printf("eoskit-sink-scenario: %s %s\n", r.t.Name(), line)
}

// killRounds runs two sinks and SIGKILLs one of them in three rounds (at
// 15, 35 and 55% of the input), restarting it each time.
func killRounds(r *run, f *fleet) {
	f.start(0)
	f.start(1)
	for round := range 3 {
		r.waitFraction(0.15 + 0.2*float64(round))
		slot := round % 2
		f.kill(slot)
		r.fault("SIGKILL slot %d", slot)
		f.start(slot)
	}
}

// TestExactlyOnceSinkKilled: two sinks; three rounds of SIGKILL of one of
// them mid-run (its batch in the handler or committing), each restarted.
func TestExactlyOnceSinkKilled(t *testing.T) {
	r := newRun(t)
	f := newFleet(t, r.args("eos"))
	killRounds(r, f)
	c := r.finish(f, 0, 1)
	assertExactlyOnce(t, c, r.input)
	if f.kills != 3 {
		t.Fatalf("%d kills, want 3", f.kills)
	}
}

// TestExactlyOnceSinkPausedZombie: a sink is frozen (SIGSTOP) inside its
// handler past the session timeout; the other takes its partitions over
// and commits; the frozen one wakes (SIGCONT) and tries to commit its
// batch: the fence must refuse it.
func TestExactlyOnceSinkPausedZombie(t *testing.T) {
	r := newRun(t)
	hold := filepath.Join(t.TempDir(), "hold")
	args := r.args("eos")
	f := newFleet(t, func(slot int) []string {
		if slot == 0 {
			return append(args(slot), "-hold-file", hold)
		}
		return args(slot)
	})
	a, b := f.start(0), f.start(1)
	waitFor(t, r.ctx, "both sinks claimed their partitions", func() bool {
		a.mu.Lock()
		b.mu.Lock()
		defer a.mu.Unlock()
		defer b.mu.Unlock()
		return a.claimed > 0 && b.claimed > 0 && a.claimed+b.claimed >= faultPartitions
	})
	r.waitFraction(0.1)
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r.ctx, "slot 0 holding a batch in its handler", func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.holding })
	f.signal(0, syscall.SIGSTOP)
	r.fault("SIGSTOP slot 0 in its handler")
	bClaimed := func() int { b.mu.Lock(); defer b.mu.Unlock(); return b.claimed }
	before := bClaimed()
	waitFor(t, r.ctx, "slot 1 claimed slot 0's partitions", func() bool { return bClaimed() >= faultPartitions && bClaimed() > before })
	var rows0 int
	_ = r.pool.QueryRow(r.ctx, fmt.Sprintf("SELECT count(*) FROM %s", r.table)).Scan(&rows0)
	r.waitFraction(min(1, float64(rows0)/float64(r.n)+0.05)) // slot 1 committed past the takeover
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	f.signal(0, syscall.SIGCONT)
	r.fault("SIGCONT slot 0 after slot 1 took over")
	waitFor(t, r.ctx, "slot 0's late commit refused by the fence", func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.fenced > 0 })
	c := r.finish(f, 0, 1)
	assertExactlyOnce(t, c, r.input)
}

// TestExactlyOnceSinkMembership: three sinks join one by one and two
// leave (SIGTERM) while the input is consumed.
func TestExactlyOnceSinkMembership(t *testing.T) {
	r := newRun(t)
	f := newFleet(t, r.args("eos"))
	f.start(0)
	r.waitFraction(0.15)
	f.start(1)
	r.fault("slot 1 joins")
	r.waitFraction(0.3)
	f.start(2)
	r.fault("slot 2 joins")
	r.waitFraction(0.5)
	f.term(0)
	r.fault("slot 0 leaves")
	r.waitFraction(0.7)
	f.term(1)
	r.fault("slot 1 leaves")
	c := r.finish(f, 2)
	assertExactlyOnce(t, c, r.input)
}

// TestExactlyOnceSinkPostgresRestart: PostgreSQL is killed (SIGKILL, a
// crash) mid-run and started again; the sinks lose their connections,
// retry their batches and carry on.
func TestExactlyOnceSinkPostgresRestart(t *testing.T) {
	r := newRun(t)
	f := newFleet(t, r.args("eos"))
	f.start(0)
	f.start(1)
	r.waitFraction(0.3)
	if err := pg.Kill(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.fault("PostgreSQL SIGKILL")
	time.Sleep(3 * time.Second)
	if err := pg.Restart(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.fault("PostgreSQL restarted after 3 s")
	c := r.finish(f, 0, 1)
	assertExactlyOnce(t, c, r.input)
	if _, st := f.totals(); st.DBRetries == 0 {
		t.Fatalf("no batch was retried after the database crash (stats %+v): the fault had no effect", st)
	}
}

// TestExactlyOnceSinkBrokerBounce: one of the three brokers is stopped
// and started again mid-run.
func TestExactlyOnceSinkBrokerBounce(t *testing.T) {
	r := newRun(t)
	f := newFleet(t, r.args("eos"))
	f.start(0)
	f.start(1)
	r.waitFraction(0.3)
	if err := shared.Kill(r.ctx, 2); err != nil {
		t.Fatal(err)
	}
	r.fault("broker 2 SIGKILL")
	r.waitFraction(0.5)
	if err := shared.Start(r.ctx, 2); err != nil {
		t.Fatal(err)
	}
	r.fault("broker 2 started")
	c := r.finish(f, 0, 1)
	assertExactlyOnce(t, c, r.input)
	if err := shared.WaitHealthy(r.ctx); err != nil {
		t.Fatalf("cluster not healthy after the bounce: %v", err)
	}
}

// TestAtLeastOnceSinkControl: the control. A hand-written sink that
// commits offsets to Kafka after the database commit, SIGKILLed between
// the two (a 1 s gap there, nearly all of each batch's time), must show
// duplicates; nothing is lost.
func TestAtLeastOnceSinkControl(t *testing.T) {
	r := newRun(t)
	f := newFleet(t, r.args("alo", "-alo-gap", "1s", "-batch-sleep", "20ms"))
	killRounds(r, f)
	// Duplicates make the row count reach the input early: wait for every
	// position instead.
	waitFor(t, r.ctx, "every position in the table", func() bool {
		var d int
		err := r.pool.QueryRow(r.ctx, fmt.Sprintf(`SELECT count(DISTINCT (partition, "offset")) FROM %s`, r.table)).Scan(&d)
		return err == nil && d >= r.n
	})
	time.Sleep(2 * time.Second)
	f.term(0)
	f.term(1)
	c := tableCheck(t, r.ctx, r.pool, r.table)
	r.report(f, c)
	if c.distinct != r.n {
		t.Errorf("%d distinct positions, want %d (at least once loses nothing)", c.distinct, r.n)
	}
	if c.dupRows == 0 {
		t.Fatalf("no duplicate after 3 kills between the DB commit and the Kafka commit: the control did not control")
	}
}

// waitFor polls cond for up to 2 minutes (a stuck scenario fails with the
// sinks' logs instead of hitting the test binary's timeout).
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
