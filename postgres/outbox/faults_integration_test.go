//go:build integration

package outbox_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/postgres/outbox"
)

// The fault suite of the relay (issue #17): 8 concurrent writers commit
// outbox messages out of id order (and roll a share back) while the relay,
// an eosctl process, is SIGKILLed, doubled on its slot, and sees a broker
// bounce and a PostgreSQL restart. A read_committed consumer then checks:
// every committed message exactly once, no rolled-back message, per key in
// commit order.
// CI size (3000 messages a scenario) in make test, 30000 in make chaos.

// faultMessages is the number of committed messages of one scenario: 3000
// in CI, 30000 with EOSKIT_CHAOS=1; EOSKIT_OUTBOX_MESSAGES overrides it.
func faultMessages() int { return integration.ScenarioSize("EOSKIT_OUTBOX_MESSAGES", 3000, 30000) }

const (
	faultWriters    = 8
	faultKeys       = 40
	faultPartitions = 3
	faultMaxPerTxn  = 5    // messages per database transaction: 1..faultMaxPerTxn
	faultRollback   = 0.15 // share of the database transactions rolled back
	faultPairs      = 10   // forced out-of-id-order commit pairs
)

// faultDuration is how long the writers take (the window the faults land in).
func faultDuration() time.Duration {
	if integration.Chaos() {
		return 2 * time.Minute
	}
	return 25 * time.Second
}

var (
	eosctlOnce sync.Once
	eosctlBin  string
	eosctlErr  error
)

// eosctl builds cmd/eosctl once per test binary and returns its path.
func eosctl(t *testing.T) string {
	t.Helper()
	eosctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eoskit-outbox-eosctl-")
		if err != nil {
			eosctlErr = err
			return
		}
		eosctlBin = filepath.Join(dir, "eosctl")
		if out, err := exec.Command("go", "build", "-o", eosctlBin, "../../cmd/eosctl").CombinedOutput(); err != nil {
			eosctlErr = fmt.Errorf("build eosctl: %v\n%s", err, out)
		}
	})
	if eosctlErr != nil {
		t.Fatal(eosctlErr)
	}
	return eosctlBin
}

// relayProc is one eosctl outbox relay process.
type relayProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string // its stderr file

	mu     sync.Mutex
	ready  bool
	readyN int      // ready lines: 1 + replication sessions restarted
	lines  []string // stderr
}

func (p *relayProc) readies() int { p.mu.Lock(); defer p.mu.Unlock(); return p.readyN }

func (p *relayProc) isReady() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.ready }

func (p *relayProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *relayProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// scenario is one fault scenario's setup and record.
type scenario struct {
	t         *testing.T
	ctx       context.Context
	pool      *pgxpool.Pool
	n         int
	slot      string
	table     string
	pub       string
	topic     string
	positions string
	counters  string
	began     time.Time
	logDir    string

	mu       sync.Mutex
	relays   []*relayProc
	faults   []string
	kills    int
	restarts int

	committed  map[string]string // value -> key of every committed message
	uncertain  map[string]string // value -> key of messages whose COMMIT failed
	rolledBack int               // messages of rolled-back transactions
	rbTxns     int
	txns       int
	commitErrs int
	writeErrs  atomic.Int64 // statements or BEGINs that failed (a database restart)
	pairs      []pairResult

	seen *consumed // read_committed
	raw  *consumed // read_uncommitted (aborted records included)

	kc *integration.Cluster
	pg *integration.Postgres
	w  *outbox.Writer // into s.table
}

// faultEnv is the suite's 3-broker cluster (the fault topics: RF 3,
// min.insync 2) and PostgreSQL server (logical replication).
type faultEnv struct {
	kc *integration.Cluster
	pg *integration.Postgres
}

// pairResult is one forced out-of-order pair: first got the lower id,
// second the higher id and committed first.
type pairResult struct {
	key                   string
	firstID, secondID     int64
	firstVal, secondValue string
}

func newScenario(t *testing.T, fe faultEnv) *scenario {
	n := faultMessages()
	ctx := integration.Context(t, 10*time.Minute+time.Duration(n/50)*time.Second)
	base := strings.Map(func(r rune) rune { // slot names: [a-z0-9_]
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()[strings.LastIndex(t.Name(), "/")+1:]))
	if len(base) > 30 {
		base = base[:30]
	}
	base = fmt.Sprintf("%s_%d", base, time.Now().UnixNano()%1e9)
	s := &scenario{t: t, ctx: ctx, n: n, began: time.Now(), logDir: t.TempDir(),
		slot: "s_" + base, table: "ob_" + base, pub: "p_" + base, counters: "c_" + base,
		topic: integration.UniqueName(t, "out"), positions: integration.UniqueName(t, "pos"),
		committed: map[string]string{}, uncertain: map[string]string{}, kc: fe.kc, pg: fe.pg}
	pool, err := pgxpool.New(ctx, s.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s.pool = pool
	if s.w, err = outbox.NewWriter(outbox.WithTable(s.table)); err != nil {
		t.Fatal(err)
	}
	opts := s.options()
	if err := outbox.Migrate(ctx, s.pg.DSN(), opts...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if _, err := pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s (key text PRIMARY KEY, seq int NOT NULL)`, s.counters)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT 'k-'||i, 0 FROM generate_series(0, %d) i`, s.counters, faultKeys-1)); err != nil {
		t.Fatal(err)
	}
	createTopicRF3(t, ctx, s.kc, s.topic, faultPartitions, nil)
	compact := "compact"
	createTopicRF3(t, ctx, s.kc, s.positions, 1, map[string]*string{"cleanup.policy": &compact})
	t.Cleanup(func() {
		s.stopAll()
		if t.Failed() {
			s.dumpLogs()
		}
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = s.pool.Exec(cctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, s.slot)
	})
	s.seen = consume(t, ctx, s.kc, s.topic, kgo.ReadCommitted())
	s.raw = consume(t, ctx, s.kc, s.topic, kgo.ReadUncommitted())
	return s
}

func (s *scenario) options() []outbox.Option {
	return []outbox.Option{outbox.WithSlot(s.slot), outbox.WithTable(s.table), outbox.WithPublication(s.pub)}
}

func createTopicRF3(t *testing.T, ctx context.Context, kc *integration.Cluster, topic string, partitions int32, cfg map[string]*string) {
	t.Helper()
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	minISR := "2"
	if cfg == nil {
		cfg = map[string]*string{}
	}
	cfg["min.insync.replicas"] = &minISR
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 3, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func (s *scenario) fault(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.faults = append(s.faults, msg)
	s.mu.Unlock()
	s.t.Logf("fault: %s", msg)
}

// relayArgs are the eosctl arguments of this scenario's relay.
func (s *scenario) relayArgs(extra ...string) []string {
	return append([]string{"outbox", "relay", "--brokers", s.kc.BootstrapString(), "--dsn", s.pg.DSN(),
		"--slot", s.slot, "--table", s.table, "--publication", s.pub, "--positions-topic", s.positions,
		"--log-level", "info", "-o", "json"}, extra...)
}

// startRelay starts an eosctl outbox relay process.
func (s *scenario) startRelay(name string, args []string) *relayProc {
	s.t.Helper()
	logPath := filepath.Join(s.logDir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(logf, "===== %s start %v\n", time.Now().Format(time.TimeOnly), args)
	cmd := exec.Command(eosctl(s.t), args...)
	cmd.Stdout = logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	p := &relayProc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			p.mu.Lock()
			p.lines = append(p.lines, line)
			if strings.HasPrefix(line, "outbox relay ready slot="+s.slot) {
				p.ready = true
				p.readyN++
			}
			p.mu.Unlock()
		}
		_ = cmd.Wait()
		fmt.Fprintf(logf, "===== %s exit %v\n", time.Now().Format(time.TimeOnly), cmd.ProcessState)
		_ = logf.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.relays = append(s.relays, p)
	s.mu.Unlock()
	return p
}

// waitReady waits for p's ready line.
func (s *scenario) waitReady(p *relayProc) {
	s.t.Helper()
	waitUntil(s.t, s.ctx, p.name+" ready", func() bool {
		if p.exited() {
			s.t.Fatalf("%s exited before it was ready (%v):\n%s", p.name, p.cmd.ProcessState, tail(p.stderr(), 30))
		}
		return p.isReady()
	})
}

// kill SIGKILLs p and checks it died of it.
func (s *scenario) kill(p *relayProc) {
	s.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		s.t.Errorf("%s ended with %v, not by SIGKILL", p.name, p.cmd.ProcessState)
		return
	}
	s.mu.Lock()
	s.kills++
	s.mu.Unlock()
}

// term stops p with SIGTERM and checks it exited 0.
func (s *scenario) term(p *relayProc) {
	s.t.Helper()
	if !p.terminate(60 * time.Second) {
		s.t.Errorf("%s: no exit 60 s after SIGTERM", p.name)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("%s: exit code %d after SIGTERM:\n%s", p.name, code, tail(p.stderr(), 20))
	}
}

func (s *scenario) stopAll() {
	s.mu.Lock()
	ps := append([]*relayProc(nil), s.relays...)
	s.mu.Unlock()
	for _, p := range ps {
		if !p.exited() {
			p.terminate(30 * time.Second)
		}
	}
}

// terminate sends p SIGTERM and waits for it to exit, SIGKILLing it after
// grace; it reports whether p exited within grace.
func (p *relayProc) terminate(grace time.Duration) bool {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return false
	}
}

func (s *scenario) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(s.logDir, "*.log"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		s.t.Logf("%s (tail):\n%s", filepath.Base(file), tail(string(b), 60))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// committedCount is how many messages the writers know committed.
func (s *scenario) committedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.committed)
}

// waitLeadersOff waits until broker id leads no partition of the output
// topic and is out of every ISR: the kill took effect on the cluster.
func (s *scenario) waitLeadersOff(id int32) {
	s.t.Helper()
	cl, err := s.kc.NewClient()
	if err != nil {
		s.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitUntil(s.t, s.ctx, fmt.Sprintf("broker %d out of the leaders and ISRs of %s", id, s.topic), func() bool {
		td, err := adm.ListTopics(s.ctx, s.topic)
		if err != nil || td[s.topic].Err != nil || len(td[s.topic].Partitions) == 0 {
			return false
		}
		for _, p := range td[s.topic].Partitions {
			if p.Leader == id || slices.Contains(p.ISR, id) {
				return false
			}
		}
		return true
	})
	s.fault("broker %d no longer leads nor is in an ISR of the output topic", id)
}

// begin starts the writers and the first relay (with args) and waits for
// it to replicate; stop stops the writers.
func (s *scenario) begin(args []string) (stop func(), relay *relayProc) {
	s.t.Helper()
	stop = s.write()
	relay = s.startRelay("relay-0", args)
	s.waitReady(relay)
	return stop, relay
}

// waitRead waits until the read_committed consumer read frac of the
// scenario's messages. It fails only when nothing new was read for 2
// minutes (a stalled relay), not on a slow machine.
func (s *scenario) waitRead(frac float64) {
	s.t.Helper()
	want := int(frac * float64(s.n))
	waitProgress(s.t, s.ctx, fmt.Sprintf("%d messages read", want), s.seen.count, func() bool { return s.seen.count() >= want })
}

// write runs the writers until n messages committed, with the forced
// out-of-order pairs spread over the run. pause, when it returns true,
// makes the writers wait (a database restart).
func (s *scenario) write() (stop func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	var wg sync.WaitGroup
	avgTxns := float64(s.n) / (float64(faultMaxPerTxn+1) / 2) / (1 - faultRollback)
	pace := time.Duration(float64(faultDuration()) * faultWriters / avgTxns)
	var txnSeq atomic.Int64
	for w := range faultWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(s.began.UnixNano())))
			for s.committedCount() < s.n && ctx.Err() == nil {
				s.writeTxn(ctx, rng, w, txnSeq.Add(1))
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(rng.Int64N(int64(2*pace) + 1))):
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range faultPairs {
			select {
			case <-ctx.Done():
				return
			case <-time.After(faultDuration() / (faultPairs + 1)):
			}
			if err := s.forcePair(ctx, i); err != nil && ctx.Err() == nil {
				s.t.Logf("forced pair %d: %v (retried later)", i, err)
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// writersDone waits until the writers committed the scenario's n
// messages (they stop by themselves then), so that every scenario checks
// its full count however soon its faults were over. It fails only when no
// commit happened for 2 minutes.
func (s *scenario) writersDone() {
	s.t.Helper()
	waitProgress(s.t, s.ctx, fmt.Sprintf("the writers' %d committed messages", s.n), s.committedCount, func() bool { return s.committedCount() >= s.n })
}

// writeTxn writes one database transaction of 1..faultMaxPerTxn messages;
// each takes its key's next sequence number under the key's row lock, so
// that per key the sequence order is the commit order.
func (s *scenario) writeTxn(ctx context.Context, rng *rand.Rand, w int, txnID int64) {
	rollback := rng.Float64() < faultRollback
	n := 1 + rng.IntN(faultMaxPerTxn)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		s.writeErrs.Add(1)
		time.Sleep(100 * time.Millisecond)
		return
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	msgs := make([]outbox.Message, 0, n)
	keys := make([]string, 0, n)
	picked := make([]string, n)
	for i := range picked {
		picked[i] = fmt.Sprintf("k-%d", rng.IntN(faultKeys))
	}
	slices.Sort(picked) // row locks in one order: no deadlock between writers
	for i, key := range picked {
		var seq int
		if err := tx.QueryRow(ctx, fmt.Sprintf(`UPDATE %s SET seq = seq + 1 WHERE key = $1 RETURNING seq`, s.counters), key).Scan(&seq); err != nil {
			s.writeErrs.Add(1)
			return
		}
		val := fmt.Sprintf("%s|%d|w%d-t%d-m%d", key, seq, w, txnID, i)
		msgs = append(msgs, outbox.Message{Topic: s.topic, Key: []byte(key), Value: []byte(val),
			Headers: []kgo.RecordHeader{{Key: "writer", Value: []byte(strconv.Itoa(w))}}})
		keys = append(keys, key)
	}
	if err := s.w.Write(ctx, tx, msgs...); err != nil {
		s.writeErrs.Add(1)
		return
	}
	if rollback {
		if err := tx.Rollback(ctx); err == nil {
			s.mu.Lock()
			s.rolledBack += n
			s.rbTxns++
			s.mu.Unlock()
		}
		return
	}
	err = tx.Commit(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txns++
	for i, m := range msgs {
		if err == nil {
			s.committed[string(m.Value)] = keys[i]
		} else {
			s.uncertain[string(m.Value)] = keys[i]
		}
	}
	if err != nil {
		s.commitErrs++
	}
}

// forcePair makes a later id commit first: A inserts, B inserts and
// commits, then A commits. Both use key "pair-i" (one partition), so the
// relay must deliver B before A.
func (s *scenario) forcePair(ctx context.Context, i int) error {
	key := fmt.Sprintf("pair-%d", i)
	insert := func(tx pgx.Tx, v string) (int64, error) {
		if err := s.w.Write(ctx, tx, outbox.Message{Topic: s.topic, Key: []byte(key), Value: []byte(v)}); err != nil {
			return 0, err
		}
		var id int64
		err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT currval(pg_get_serial_sequence('%s', 'id'))`, s.table)).Scan(&id)
		return id, err
	}
	txA, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = txA.Rollback(context.Background()) }()
	txB, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = txB.Rollback(context.Background()) }()
	va, vb := key+"|a", key+"|b"
	idA, err := insert(txA, va)
	if err != nil {
		return err
	}
	idB, err := insert(txB, vb)
	if err != nil {
		return err
	}
	if err := txB.Commit(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.committed[vb] = key
	s.mu.Unlock()
	if err := txA.Commit(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.committed[va] = key
	s.pairs = append(s.pairs, pairResult{key: key, firstID: idA, secondID: idB, firstVal: va, secondValue: vb})
	s.mu.Unlock()
	return nil
}

// resolveUncertain looks up the messages whose COMMIT failed (a database
// restart) in the outbox table: there, they committed; absent, they did not.
func (s *scenario) resolveUncertain() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for v, k := range s.uncertain {
		var n int
		if err := s.pool.QueryRow(s.ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE value = $1`, s.table), []byte(v)).Scan(&n); err != nil {
			s.t.Fatalf("resolve an uncertain commit: %v", err)
		}
		if n > 0 {
			s.committed[v] = k
		} else {
			s.rolledBack++
		}
	}
	s.uncertain = map[string]string{}
}

// consumed is what a consumer of the output topic read, in order.
type consumed struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func (c *consumed) count() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.recs) }

func (c *consumed) snapshot() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.recs...)
}

// consume reads topic from the start until the test ends.
func consume(t *testing.T, ctx context.Context, kc *integration.Cluster, topic string, iso kgo.IsolationLevel) *consumed {
	t.Helper()
	cl, err := kc.NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c := &consumed{}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for cctx.Err() == nil {
			fs := cl.PollFetches(cctx)
			fs.EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				c.recs = append(c.recs, r)
				c.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return c
}

// aborted counts the records read_uncommitted that read_committed did not
// return: those of aborted Kafka transactions (a SIGKILLed relay's open
// one, aborted when its successor initialised the transactional ID).
func (s *scenario) aborted() int {
	committed := map[string]int{}
	for _, r := range s.seen.snapshot() {
		committed[string(r.Value)]++
	}
	n := 0
	for _, r := range s.raw.snapshot() {
		if committed[string(r.Value)] > 0 {
			committed[string(r.Value)]--
		} else {
			n++
		}
	}
	return n
}

// verdict is the check of one scenario's output.
type verdict struct {
	committed, rolledBack, rbTxns, txns, commitErrs int
	read, distinct, duplicates, lost, leaked        int
	outOfOrder, pairsOK, pairs, aborted             int
}

// check waits for every committed message, then checks exactly once, no
// rolled-back message, per key in commit order and the forced pairs.
func (s *scenario) check() verdict {
	s.t.Helper()
	s.resolveUncertain()
	s.mu.Lock()
	want := make(map[string]string, len(s.committed))
	for v, k := range s.committed {
		want[v] = k
	}
	v := verdict{committed: len(s.committed), rolledBack: s.rolledBack, rbTxns: s.rbTxns, txns: s.txns, commitErrs: s.commitErrs, pairs: len(s.pairs)}
	pairs := append([]pairResult(nil), s.pairs...)
	s.mu.Unlock()
	distinct := func() int {
		seen := map[string]bool{}
		for _, r := range s.seen.snapshot() {
			if _, ok := want[string(r.Value)]; ok {
				seen[string(r.Value)] = true
			}
		}
		return len(seen)
	}
	waitProgress(s.t, s.ctx, fmt.Sprintf("all %d committed messages read", len(want)), s.seen.count, func() bool { return distinct() >= len(want) })
	time.Sleep(2 * time.Second) // a duplicate would land right after
	recs := s.seen.snapshot()
	v.read = len(recs)
	waitProgress(s.t, s.ctx, "the read_uncommitted consumer caught up", s.raw.count, func() bool { return s.raw.count() >= len(recs) })
	v.aborted = s.aborted()
	count := map[string]int{}
	lastSeq := map[string]int{}
	pos := map[string]int{}
	for i, r := range recs {
		val := string(r.Value)
		count[val]++
		pos[val] = i
		if _, ok := want[val]; !ok {
			v.leaked++
			s.t.Errorf("read %q (key %s, %s/%d@%d), which no writer committed (rolled back?)", val, r.Key, r.Topic, r.Partition, r.Offset)
			continue
		}
		if count[val] > 1 {
			continue
		}
		parts := strings.Split(val, "|")
		if !strings.HasPrefix(parts[0], "k-") {
			continue
		}
		seq, _ := strconv.Atoi(parts[1])
		if seq <= lastSeq[parts[0]] {
			v.outOfOrder++
			if v.outOfOrder <= 5 {
				s.t.Errorf("key %s: seq %d read after seq %d: not in commit order", parts[0], seq, lastSeq[parts[0]])
			}
		}
		lastSeq[parts[0]] = seq
	}
	for val := range want {
		switch c := count[val]; {
		case c == 0:
			v.lost++
			if v.lost <= 5 {
				s.t.Errorf("committed message %q never read", val)
			}
		case c > 1:
			v.duplicates += c - 1
		}
	}
	v.distinct = len(want) - v.lost
	for _, p := range pairs {
		if p.secondID <= p.firstID {
			s.t.Errorf("pair %s: ids %d then %d: the second insert did not get the higher id", p.key, p.firstID, p.secondID)
			continue
		}
		if pos[p.secondValue] < pos[p.firstVal] {
			v.pairsOK++
		} else {
			s.t.Errorf("pair %s: id %d committed first but was read after id %d: not in commit order", p.key, p.secondID, p.firstID)
		}
	}
	return v
}

// report logs the scenario's line (the closing note's figures).
func (s *scenario) report(v verdict) {
	s.mu.Lock()
	line := fmt.Sprintf("committed=%d (in %d txns, %d commit errors) rolled_back=%d (%d txns) read=%d distinct=%d duplicates=%d lost=%d leaked_rolled_back=%d out_of_order=%d pairs_out_of_id_order=%d/%d aborted_records=%d faults=%q kills=%d relay_starts=%d wall=%s",
		v.committed, v.txns, v.commitErrs, v.rolledBack, v.rbTxns, v.read, v.distinct, v.duplicates, v.lost, v.leaked, v.outOfOrder,
		v.pairsOK, v.pairs, v.aborted, s.faults, s.kills, len(s.relays), time.Since(s.began).Round(100*time.Millisecond))
	s.mu.Unlock()
	s.t.Log(line)
	fmt.Printf("eoskit-outbox-scenario: %s %s\n", s.t.Name(), line)
}

// assertExactlyOnce fails unless v shows every committed message exactly
// once, none rolled back, in commit order, with the forced pairs done and
// rollbacks made.
func (s *scenario) assertExactlyOnce(v verdict) {
	s.t.Helper()
	if v.duplicates != 0 || v.lost != 0 || v.leaked != 0 || v.outOfOrder != 0 {
		s.t.Errorf("not exactly once: %d duplicates, %d lost, %d rolled-back messages read, %d out of commit order", v.duplicates, v.lost, v.leaked, v.outOfOrder)
	}
	if v.pairs < faultPairs/2 || v.pairsOK != v.pairs {
		s.t.Errorf("%d forced out-of-id-order pairs (want at least %d), %d read in commit order", v.pairs, faultPairs/2, v.pairsOK)
	}
	if v.rbTxns == 0 {
		s.t.Errorf("no transaction was rolled back: the writers did not test it")
	}
	if v.committed < s.n {
		s.t.Errorf("%d messages committed, want at least %d", v.committed, s.n)
	}
}

// waitProgress polls cond until it holds, failing when progress() did not
// change for 2 minutes.
func waitProgress(t *testing.T, ctx context.Context, what string, progress func() int, cond func() bool) {
	t.Helper()
	last, since := progress(), time.Now()
	for !cond() {
		if p := progress(); p != last {
			last, since = p, time.Now()
		}
		if time.Since(since) > 2*time.Minute {
			t.Fatalf("waiting for %s: no progress for 2 minutes (at %d)", what, last)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitUntil polls cond for up to 2 minutes.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
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

// faultKilled: the relay is SIGKILLed mid Kafka
// transaction in 3 rounds and restarted each time; then a second relay is
// started on the same slot while the first runs: one of them must wait or
// be fenced, never produce beside the other.
func faultKilled(t *testing.T, fe faultEnv) {
	s := newScenario(t, fe)
	stop, relay := s.begin(s.relayArgs())
	defer stop()
	for round := range 3 {
		s.waitRead(0.1 + 0.15*float64(round))
		s.kill(relay)
		s.fault("round %d: SIGKILL relay at %d messages read", round+1, s.seen.count())
		relay = s.startRelay(fmt.Sprintf("relay-%d", round+1), s.relayArgs())
		s.waitReady(relay)
		s.fault("round %d: restarted; records of aborted transactions so far %d", round+1, s.aborted())
	}
	// A second relay on the same slot while the first runs.
	s.waitRead(0.6)
	second := s.startRelay("second", s.relayArgs())
	s.fault("second relay started on slot %s beside %s", s.slot, relay.name)
	first := relay
	// The second initialises the slot's transactional ID (fencing the
	// first) and waits for the slot, which the first holds until it learns
	// it was fenced and exits 1; then the second replicates alone. The
	// first may instead meet the new epoch as INVALID_TXN_STATE on a
	// commit (transaction version 2 aborts its open transaction); the
	// producer then re-initialises at its own epoch first (KIP-360) and is
	// fenced. Before that check it initialised afresh and fenced the
	// second (1 of 4 runs in session 5); with it, 3 of 3 runs fenced the
	// first. A second initialising in the moment between the check and
	// the fresh client (producer/txn.go) can still lose the ID, so either
	// one may be the fenced relay: exactly one exits 1 saying so, the
	// other relays to the end (term checks exit 0), and none produces
	// beside the other (the exactly-once check).
	waitUntil(t, s.ctx, "one of the two relays fenced", func() bool { return first.exited() || second.exited() })
	fenced, survivor := first, second
	if second.exited() {
		fenced, survivor = second, first
	}
	if code := fenced.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(fenced.stderr(), "fenced") {
		t.Errorf("relay %s exited %d without saying it was fenced:\n%s", fenced.name, code, tail(fenced.stderr(), 20))
	}
	waited := hasAny(second.stderr(), "held by another connection", "in use by another connection")
	if !waited {
		t.Errorf("the second relay's log does not show it waited for the slot the first held:\n%s", tail(second.stderr(), 20))
	}
	s.fault("relay %s was fenced (exit 1), %s relays on; the second waited for the slot: %v", fenced.name, survivor.name, waited)
	s.waitReady(survivor)
	relay = survivor
	s.writersDone()
	stop()
	v := s.check()
	s.term(relay)
	s.report(v)
	s.assertExactlyOnce(v)
	if s.kills != 3 {
		t.Errorf("%d SIGKILLs, want 3", s.kills)
	}
	if v.aborted <= 0 {
		t.Errorf("no aborted record in the topic after 3 SIGKILLs: no kill landed in a Kafka transaction")
	}
}

// faultBrokerBounce: one of the three brokers is killed
// and started again while the relay runs.
func faultBrokerBounce(t *testing.T, fe faultEnv) {
	s := newScenario(t, fe)
	stop, relay := s.begin(s.relayArgs())
	defer stop()
	s.waitRead(0.3)
	if err := s.kc.Kill(s.ctx, 2); err != nil {
		t.Fatal(err)
	}
	atKill := s.seen.count()
	s.fault("broker 2 SIGKILL at %d messages read", atKill)
	s.waitLeadersOff(2)
	s.waitRead(0.6)
	read := s.seen.count() - atKill
	if err := s.kc.Start(s.ctx, 2); err != nil {
		t.Fatal(err)
	}
	s.fault("broker 2 started; %d messages read while it was down", read)
	if read <= 0 {
		t.Errorf("no message relayed while broker 2 was down")
	}
	s.writersDone()
	stop()
	v := s.check()
	if relay.exited() {
		t.Errorf("the relay exited during the broker bounce (%v):\n%s", relay.cmd.ProcessState, tail(relay.stderr(), 20))
	} else {
		s.term(relay)
	}
	s.report(v)
	s.assertExactlyOnce(v)
	if err := s.kc.WaitHealthy(s.ctx); err != nil {
		t.Fatalf("cluster not healthy after the bounce: %v", err)
	}
}

// faultPostgresRestart: PostgreSQL crashes (SIGKILL) and is started again
// while the writers write and the relay replicates: the writers' commits
// in flight have an unknown outcome (resolved from the table), the relay's
// replication connection breaks and it must start a new session by itself.
func faultPostgresRestart(t *testing.T, fe faultEnv) {
	s := newScenario(t, fe)
	stop, relay := s.begin(s.relayArgs())
	defer stop()
	s.waitRead(0.4)
	// A crash: a fast shutdown waits for the logical walsender's client to
	// confirm all WAL (PostgreSQL 15), which a busy relay may not do before
	// the harness's 30 s stop timeout.
	if err := s.pg.Kill(s.ctx); err != nil {
		t.Fatal(err)
	}
	s.fault("PostgreSQL SIGKILL at %d messages read", s.seen.count())
	time.Sleep(2 * time.Second)
	if err := s.pg.Restart(s.ctx); err != nil {
		t.Fatal(err)
	}
	s.fault("PostgreSQL restarted after 2 s")
	// The restart must have broken the replication connection: the relay
	// logs it and reconnects, or exits.
	waitUntil(t, s.ctx, "the relay replicating again after the restart", func() bool { return relay.exited() || relay.readies() >= 2 })
	if relay.exited() {
		t.Errorf("the relay exited after the PostgreSQL restart (%v) instead of starting a new session:\n%s", relay.cmd.ProcessState, tail(relay.stderr(), 20))
		relay = s.startRelay("relay-1", s.relayArgs())
		s.waitReady(relay)
	} else {
		if !strings.Contains(relay.stderr(), "session ended") {
			t.Errorf("the relay is ready again but did not log its session ending:\n%s", tail(relay.stderr(), 20))
		}
		s.fault("the relay lost its replication connection and started a new session (%d ready lines)", relay.readies())
	}
	s.writersDone()
	stop()
	v := s.check()
	s.term(relay)
	s.report(v)
	s.assertExactlyOnce(v)
	t.Logf("writers: %d failed statements, %d commits of unknown outcome during the crash", s.writeErrs.Load(), v.commitErrs)
}

func hasAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// faultAtLeastOnceControl: the control. The relay in --at-least-once
// mode (plain idempotent produce; the flush position confirmed to
// PostgreSQL after it, at the standby interval as Kafka Connect flushes
// source offsets) SIGKILLed in 3 rounds while messages are flowing: what
// it produced since its last confirmation is sent again by the next relay,
// so the control must show duplicates; nothing is lost.
func faultAtLeastOnceControl(t *testing.T, fe faultEnv) {
	s := newScenario(t, fe)
	args := s.relayArgs("--at-least-once", "--standby-timeout", "5s")
	stop, relay := s.begin(args)
	defer stop()
	for round := range 3 {
		s.waitRead(0.2 + 0.2*float64(round))
		s.kill(relay)
		s.fault("round %d: SIGKILL at-least-once relay at %d messages read (confirmations every 5 s)", round+1, s.seen.count())
		relay = s.startRelay(fmt.Sprintf("relay-%d", round+1), args)
		s.waitReady(relay)
	}
	s.writersDone()
	stop()
	v := s.check()
	s.term(relay)
	s.report(v)
	if v.lost != 0 || v.leaked != 0 {
		t.Errorf("at least once lost %d messages or read %d rolled-back ones", v.lost, v.leaked)
	}
	if s.kills != 3 {
		t.Errorf("%d SIGKILLs, want 3", s.kills)
	}
	if v.duplicates == 0 {
		t.Fatalf("no duplicate after 3 SIGKILLs between produce and confirm: the control did not control")
	}
}

// TestOutboxFaultsExactlyOnce is the relay's OS-process fault suite on the
// package's 3-broker cluster and PostgreSQL server: SIGKILL rounds and a second
// relay on the slot, a broker bounce, a PostgreSQL restart, and the
// at-least-once control.
func TestOutboxFaultsExactlyOnce(t *testing.T) {
	began := time.Now()
	fe := faultEnv{kc: shared.Cluster, pg: pg}
	if n := len(fe.kc.NodeIDs()); n != 3 {
		t.Fatalf("the suite's cluster has %d brokers, the fault suite needs 3", n)
	}
	eosctl(t)
	t.Logf("eosctl built in %v; %d messages per scenario", time.Since(began).Round(time.Second), faultMessages())
	for _, sc := range []struct {
		name string
		run  func(*testing.T, faultEnv)
	}{
		{"relay-killed-and-doubled", faultKilled},
		{"broker-bounce", faultBrokerBounce},
		{"postgres-restart", faultPostgresRestart},
		{"at-least-once-control", faultAtLeastOnceControl},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, fe) })
	}
}
