//go:build integration

package txn_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/txn"
	"github.com/eoskit/eoskit/txn/verify"
)

// shared is the 3-broker cluster (transaction.version 2) of this suite;
// copierBin the test processor (txn/internal/copier), built once.
var (
	shared    *integration.Shared
	copierBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eoskit-txn-copier-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	copierBin = filepath.Join(dir, "copier")
	if out, err := exec.Command("go", "build", "-o", copierBin, "./internal/copier").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: build the copier: %v\n%s", err, out)
		os.Exit(1)
	}
	shared = integration.StartShared(integration.WithNodes(3), fastGroups)
	integration.AnnounceSuite("txn", shared.Cluster)
	code := shared.Run(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// fastGroups lets copiers use a 3 s session timeout, so a killed member's
// partitions move sooner (the broker's minimum is 6 s by default).
var fastGroups = integration.WithBrokerConfig("group.min.session.timeout.ms", "1000")

// suiteSize returns the records per scenario and the seeds to run each
// scenario with: 20k and one seed in CI; with EOSKIT_CHAOS=1, 100k and
// EOSKIT_CHAOS_SEEDS seeds (default 3). EOSKIT_TXN_RECORDS overrides the
// record count.
func suiteSize() (int, []uint64) {
	records, seeds := integration.ScenarioSize("EOSKIT_TXN_RECORDS", 20000, 100000), []uint64{1}
	if integration.Chaos() {
		seeds = nil
		n, _ := strconv.Atoi(os.Getenv("EOSKIT_CHAOS_SEEDS"))
		for i := range max(n, 3) {
			seeds = append(seeds, uint64(i+1))
		}
		if n > 0 && n < 3 {
			seeds = seeds[:n]
		}
	}
	return records, seeds
}

// scenario is one exactly-once run: seed the input, copy it with separate
// copier processes while faults fire at progress points, then verify.
type scenario struct {
	name     string
	in, out  int32 // partitions
	procs    int   // copiers at the start
	order    bool  // check per-partition order
	alo      bool  // at-least-once copier: the checks must FAIL
	copyTime time.Duration
	points   []float64 // fractions of committed input at which fault fires
	fault    func(r *runState, step int) string
}

type runState struct {
	t       *testing.T
	c       *integration.Cluster
	sup     *supervisor
	rng     *rand.Rand
	out     string
	zombies []zombie // frozen copiers' open transactions, checked at the end
}

// zombie is a copier frozen inside an open transaction: its producer and
// where the transaction began in each output partition it wrote.
type zombie struct {
	txnID      string
	producerID int64
	epoch      int16           // the open transaction's epoch (the replacement shares the producer ID)
	starts     map[int32]int64 // output partition -> first offset of the open transaction
}

// result is what a scenario reports.
type result struct {
	records int
	faults  []string
	stats   string
	report  verify.Report
	hidden  int // aborted output records in the log, invisible to read_committed
	wall    time.Duration
}

func runScenario(t *testing.T, c *integration.Cluster, sc scenario, records int, seed uint64) result {
	t.Helper()
	began := time.Now()
	h := fnv.New64a()
	h.Write([]byte(sc.name))
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	rs := &runState{t: t, c: c, rng: rand.New(rand.NewPCG(seed, h.Sum64())), out: out}
	createReplicated(t, c, in, sc.in)
	createReplicated(t, c, out, sc.out)
	seedInput(t, c, in, records)

	copyTime := sc.copyTime
	if integration.Chaos() {
		copyTime *= 3
	}
	rate := max(1, records*int(time.Second)/int(copyTime)/max(1, min(sc.procs, int(sc.in))))
	mode := "eos"
	if sc.alo {
		mode = "alo"
	}
	rs.sup = newSupervisor(t, func(slot int) []string {
		return []string{"-brokers", c.BootstrapString(), "-from", in, "-to", out, "-group", group,
			"-txn-id", fmt.Sprintf("%s-%d", group, slot), "-mode", mode, "-rate", strconv.Itoa(rate), "-session-timeout", "3s", "-v"}
	})
	for range sc.procs {
		rs.sup.add()
	}

	var res result
	res.records = records
	adm := kadm.NewClient(client(t, c.Bootstrap()))
	deadline := time.Now().Add(4*copyTime + 4*time.Minute)
	next := 0
	for {
		done := committedFraction(adm, group, in, records)
		for next < len(sc.points) && done >= sc.points[next] {
			d := sc.fault(rs, next)
			res.faults = append(res.faults, fmt.Sprintf("%.0f%%: %s", 100*done, d))
			t.Logf("%s: fault at %.0f%% committed: %s", sc.name, 100*done, d)
			next++
		}
		if done >= 1 {
			break
		}
		if time.Now().After(deadline) {
			st, exits := rs.sup.totals()
			t.Fatalf("%s: input not fully committed by the deadline: %.1f%% (stats %+v, exits %v)", sc.name, 100*done, st, exits)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rs.sup.close()
	for _, u := range rs.sup.unexpectedExits() {
		t.Errorf("%s: %s", sc.name, u)
	}
	st, exits := rs.sup.totals()
	res.stats = fmt.Sprintf("txns committed %d aborted %d, session restarts %d, rebalances %d, process exits %v",
		st.TxnsCommitted, st.TxnsAborted, st.SessionRestarts, st.Rebalances, exits)

	ctx := testCtx(t, 2*time.Minute)
	rep, err := verify.Run(ctx, kconn(c.Bootstrap()), verify.Config{Input: []string{in}, Output: []string{out}, Order: sc.order, Identity: true})
	if err != nil {
		t.Fatalf("%s: verify: %v", sc.name, err)
	}
	res.report = rep
	res.hidden = countUncommitted(t, c, out) - rep.Counts.OutputRecords
	res.wall = time.Since(began)
	cn := rep.Counts
	t.Logf("SCENARIO %s seed %d (tv%d): records %d; faults %d %v; %s; output %d, aborted records hidden %d; anomalies %d (duplicates %d, missing %d, unexplained %d, order %d, mismatched %d); wall %v",
		sc.name, seed, c.TransactionVersion(), records, len(res.faults), res.faults, res.stats, cn.OutputRecords, res.hidden,
		rep.Anomalies(), cn.Duplicates, cn.Missing, cn.Unexplained, cn.OrderViolations, cn.Mismatched, res.wall.Round(time.Second))
	if len(res.faults) != len(sc.points) {
		t.Errorf("%s: %d of %d faults injected before the copy finished", sc.name, len(res.faults), len(sc.points))
	}
	if sc.alo {
		return res
	}
	if !rep.OK() || cn.OrderViolations != 0 || cn.InputRecords != records {
		t.Errorf("%s: exactly-once violated (input %d of %d):\n%s", sc.name, cn.InputRecords, records, rep.String())
	}
	rs.checkZombies()
	return res
}

// committedFraction returns the group's committed input offsets over records.
func committedFraction(adm *kadm.Client, group, topic string, records int) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At > 0 {
			sum += o.At
		}
	})
	return float64(sum) / float64(records)
}

func createReplicated(t *testing.T, c *integration.Cluster, topic string, partitions int32) {
	t.Helper()
	minISR := "2"
	resp, err := kadm.NewClient(client(t, c.Bootstrap())).CreateTopic(testCtx(t, 30*time.Second), partitions, 3,
		map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// seedInput produces records "v-<i>" with keys "k-<i>" from an idempotent
// producer (acks=all), as Kafka's transactions test seeds its input.
func seedInput(t *testing.T, c *integration.Cluster, topic string, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte("k-" + strconv.Itoa(i)), Value: []byte(fmt.Sprintf("v-%07d", i))}
	}
	produceAll(t, client(t, c.Bootstrap(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MaxBufferedRecords(10000)), recs)
}

// countUncommitted counts the data records of topic read_uncommitted:
// committed and aborted alike.
func countUncommitted(t *testing.T, c *integration.Cluster, topic string) int {
	t.Helper()
	return len(readTopic(t, c.Bootstrap(), topic, kgo.ReadUncommitted()))
}

// Faults.

func (r *runState) pick() int {
	live := r.sup.live()
	return live[r.rng.IntN(len(live))]
}

func procHardBounce(r *runState, _ int) string {
	id := r.pick()
	r.sup.signal(id, syscall.SIGKILL)
	return fmt.Sprintf("SIGKILL copier slot %d (restarted)", id)
}

func procCleanBounce(r *runState, _ int) string {
	id := r.pick()
	r.sup.signal(id, syscall.SIGTERM)
	return fmt.Sprintf("SIGTERM copier slot %d (restarted)", id)
}

func brokerBounce(hard bool) func(r *runState, step int) string {
	return func(r *runState, step int) string {
		id := int32(step%3 + 1)
		ctx := testCtx(r.t, 3*time.Minute)
		var err error
		how := "clean restart"
		if hard {
			how = "SIGKILL + start"
			if err = r.c.Kill(ctx, id); err == nil {
				err = r.c.Start(ctx, id)
			}
		} else {
			err = r.c.Restart(ctx, id)
		}
		if err == nil {
			err = r.c.WaitHealthy(ctx)
		}
		if err != nil {
			r.t.Fatalf("bounce broker %d: %v", id, err)
		}
		return fmt.Sprintf("broker %d %s, cluster healthy again", id, how)
	}
}

// pauseZombie freezes a copier while it holds an open transaction (the
// coordinator says so), past the session timeout (3 s) so the group gives
// its partitions away, then starts a replacement with the same
// transactional ID, as an orchestrator that took it for dead would, and
// thaws it. The zombie must exit fenced, and nothing of its open
// transaction may become visible (checked at the end). The first pause
// (6 s, plus 2 s for the replacement) ends before the zombie's transaction
// times out (10 s); later ones (14 s) outlast it, so the coordinator has
// aborted it first.
func pauseZombie(r *runState, step int) string {
	id := r.pick()
	pause := 6 * time.Second
	if step > 0 {
		pause = 14 * time.Second
	}
	z := r.freezeInTransaction(id)
	time.Sleep(pause)
	old, fenced := r.sup.replace(id)
	time.Sleep(2 * time.Second) // the replacement initialises the ID, fencing the zombie
	_ = old.Signal(syscall.SIGCONT)
	select {
	case <-fenced:
	case <-time.After(time.Minute):
		r.t.Errorf("zombie slot %d (pid %d) did not exit fenced within a minute of SIGCONT", id, old.Pid)
	}
	r.zombies = append(r.zombies, z)
	return fmt.Sprintf("SIGSTOP copier slot %d in an open transaction over output partitions %v for %v (session timeout 3s, transaction timeout 10s), replacement started, SIGCONT: the zombie exited fenced",
		id, z.starts, pause)
}

// freezeInTransaction SIGSTOPs slot id's process at a moment the
// coordinator reports its transaction open with output partitions, and
// returns where that transaction began.
func (r *runState) freezeInTransaction(id int) zombie {
	adm := kadm.NewClient(client(r.t, r.c.Bootstrap()))
	txnID := r.sup.txnID(id)
	for try := range 100 {
		r.sup.signal(id, syscall.SIGSTOP)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ds, err := adm.DescribeTransactions(ctx, txnID)
		var z zombie
		if d, ok := ds[txnID]; err == nil && ok && d.State == "Ongoing" {
			z = zombie{txnID: txnID, producerID: d.ProducerID, epoch: d.ProducerEpoch, starts: map[int32]int64{}}
			ps, perr := adm.DescribeProducers(ctx, kadm.TopicsSet{r.out: nil})
			if perr == nil {
				ps.EachProducer(func(p kadm.DescribedProducer) {
					if p.ProducerID == d.ProducerID && p.ProducerEpoch == d.ProducerEpoch && p.CurrentTxnStartOffset >= 0 {
						z.starts[p.Partition] = p.CurrentTxnStartOffset
					}
				})
			}
		}
		cancel()
		if len(z.starts) > 0 {
			return z
		}
		r.sup.signal(id, syscall.SIGCONT)
		time.Sleep(time.Duration(20+try) * time.Millisecond)
	}
	r.t.Fatalf("copier slot %d never held an open transaction with outputs when frozen", id)
	return zombie{}
}

// checkZombies fails the scenario if any record of a frozen copier's open
// transaction is visible to read_committed readers.
func (r *runState) checkZombies() {
	if len(r.zombies) == 0 {
		return
	}
	visible := readCommitted(r.t, r.c.Bootstrap(), r.out)
	for _, z := range r.zombies {
		leaked := 0
		for _, rec := range visible {
			if start, ok := z.starts[rec.Partition]; ok && rec.ProducerID == z.producerID && rec.ProducerEpoch == z.epoch && rec.Offset >= start {
				leaked++
			}
		}
		if leaked > 0 {
			r.t.Errorf("zombie %s (producer %d): %d records of its open transaction are visible", z.txnID, z.producerID, leaked)
		}
	}
}

func joinLeave(r *runState, step int) string {
	switch step % 4 {
	case 0, 1, 3:
		return fmt.Sprintf("copier slot %d joined", r.sup.add())
	default:
		id := r.pick()
		r.sup.retire(id)
		return fmt.Sprintf("copier slot %d left (SIGTERM, not restarted)", id)
	}
}

var rounds = []float64{0.2, 0.45, 0.7}

func eosScenarios() []scenario {
	return []scenario{
		{name: "processor-hard-bounce-2to3", in: 2, out: 3, procs: 2, copyTime: 12 * time.Second, points: rounds, fault: procHardBounce},
		{name: "processor-clean-bounce-2to3", in: 2, out: 3, procs: 2, copyTime: 12 * time.Second, points: rounds, fault: procCleanBounce},
		{name: "broker-hard-bounce-2to3", in: 2, out: 3, procs: 2, copyTime: 30 * time.Second, points: rounds, fault: brokerBounce(true)},
		{name: "broker-clean-bounce-2to3", in: 2, out: 3, procs: 2, copyTime: 30 * time.Second, points: rounds, fault: brokerBounce(false)},
		{name: "processor-hard-bounce-1to1-order", in: 1, out: 1, procs: 1, order: true, copyTime: 12 * time.Second, points: rounds, fault: procHardBounce},
		{name: "zombie-sigstop-2to3", in: 2, out: 3, procs: 2, copyTime: 12 * time.Second, points: []float64{0.2, 0.5}, fault: pauseZombie},
		{name: "join-leave-9to9", in: 9, out: 9, procs: 1, copyTime: 12 * time.Second, points: []float64{0.1, 0.25, 0.45, 0.65}, fault: joinLeave},
	}
}

// TestExactlyOnce runs every scenario on the shared 3-broker cluster
// (transaction.version 2).
func TestExactlyOnce(t *testing.T) {
	records, seeds := suiteSize()
	for _, sc := range eosScenarios() {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed-%d", sc.name, seed), func(t *testing.T) {
				runScenario(t, shared.Cluster, sc, records, seed)
			})
		}
	}
}

// TestExactlyOnceTransactionV1 runs the processor and broker hard bounces on
// a second 3-broker cluster formatted with transaction.version 1.
func TestExactlyOnceTransactionV1(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(3), integration.WithTransactionVersion(1), fastGroups)
	if c.TransactionVersion() != 1 {
		t.Fatalf("transaction.version %d", c.TransactionVersion())
	}
	records, seeds := suiteSize()
	all := eosScenarios()
	// Not the zombie with a replacement: under transaction.version 1 Kafka
	// answers an InitProducerID carrying the previous epoch as a retry of
	// the replacement's bump, so a woken zombie can still take the ID back
	// (a known limitation; exactly-once holds, liveness does not).
	for _, sc := range []scenario{all[0], all[2]} {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed-%d", sc.name, seed), func(t *testing.T) {
				runScenario(t, c, sc, records, seed)
			})
		}
	}
	t.Run("first-transaction-timed-out", func(t *testing.T) { firstTransactionTimedOut(t, c) })
}

// firstTransactionTimedOut: a session's first transaction outlives its
// timeout, so the coordinator aborts it and bumps the epoch. Under
// transaction.version 1 that is no fence: the session is rebuilt and every
// record copied once (stop 22 CI: a session that had not committed yet
// took the tv2 fence probe, whose KIP-360 re-initialisation the coordinator
// refuses after a timeout abort, and Run stopped with ErrFenced).
func firstTransactionTimedOut(t *testing.T, c *integration.Cluster) {
	in, out, group := uniq(t, "in"), uniq(t, "out"), uniq(t, "g")
	createReplicated(t, c, in, 1)
	createReplicated(t, c, out, 1)
	const records = 50
	seedInput(t, c, in, records)
	var calls atomic.Int64
	h := func(ctx context.Context, r *kgo.Record, emit txn.Emit) error {
		// The first record's output is produced (the coordinator sees the
		// transaction open); then the transaction stalls past its 3 s
		// timeout (the coordinator checks every 2 s).
		if calls.Add(1) == 2 {
			time.Sleep(8 * time.Second)
		}
		return txn.Copy(out)(ctx, r, emit)
	}
	p, err := txn.New(kconn(c.Bootstrap()), h, txn.WithGroup(group), txn.WithTopics(in),
		txn.WithTransactionalID(group+"-0"), txn.WithTransactionTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r := runProc(t, p)
	waitCommitted(t, c.Bootstrap(), group, in)
	if err := r.stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v (want the session rebuilt, not %v)", err, eoskit.ErrFenced)
	}
	if st := p.Stats(); st.SessionRestarts < 1 || st.TxnsAborted < 1 {
		t.Fatalf("stats %+v: want the timed-out transaction aborted and the session restarted", st)
	}
	got := readCommitted(t, c.Bootstrap(), out)
	seen := map[string]int{}
	for _, rec := range got {
		seen[string(rec.Value)]++
	}
	if len(got) != records || len(seen) != records {
		t.Fatalf("output: %d records, %d distinct, want %d once each", len(got), len(seen), records)
	}
}

// TestAtLeastOnceFailsTheChecks proves the checks can fail: a copier that
// commits offsets outside any transaction, SIGKILLed between producing and
// committing, leaves duplicates that the verifier reports.
func TestAtLeastOnceFailsTheChecks(t *testing.T) {
	records, _ := suiteSize()
	sc := scenario{name: "at-least-once-hard-bounce", in: 2, out: 3, procs: 2, alo: true, copyTime: 10 * time.Second,
		points: rounds, fault: procHardBounce}
	res := runScenario(t, shared.Cluster, sc, records, 1)
	if res.report.Counts.Duplicates == 0 || res.report.OK() {
		t.Fatalf("the at-least-once pipeline passed the checks (duplicates %d): the checks cannot fail\n%s",
			res.report.Counts.Duplicates, res.report.String())
	}
	if res.report.Counts.Missing != 0 {
		t.Errorf("at-least-once lost records: %d missing", res.report.Counts.Missing)
	}
}
