package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/bench/internal/client"
	"github.com/eoskit/eoskit/bench/internal/stats"
	"github.com/eoskit/eoskit/integration"
)

// The outbox-relay case (issue 17): messages committed in PostgreSQL by
// writer goroutines of the harness, relayed to Kafka by the side's process,
// read back read_committed by the harness. Every run gets a PostgreSQL server
// of its own (processes backend, logical replication on), the outbox table,
// publication and slot of `eosctl outbox init`, and a fresh topic.

// Labels of the outbox-relay sides.
const (
	outboxLabelEOS      = "eoskit relay exactly-once"
	outboxLabelALO      = "eoskit relay --at-least-once"
	outboxLabelDebezium = "Debezium PostgreSQL + outbox router, Connect EOS"
)

// outboxRelay is who moves the messages: eoskit's relay (either mode) or
// Debezium on Kafka Connect.
type outboxRelay int

const (
	relayEOS outboxRelay = iota
	relayALO
	relayDebezium
)

// outboxTools are the programs the outbox sides share: eosctl, built once
// per work folder, and the Debezium plugin folder.
type outboxTools struct {
	mu       sync.Mutex
	built    map[string]string // work folder -> eosctl binary
	debezium string            // debeziumHome
}

// eosctl builds cmd/eosctl into dir (once) and checks it has the outbox
// commands.
func (t *outboxTools) eosctl(ctx context.Context, dir string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.built[dir]; ok {
		return p, nil
	}
	bin := filepath.Join(dir, "eosctl")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/eoskit/eoskit/cmd/eosctl")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/eosctl (the relay of the eoskit sides): %w: %s", err, lastLines(string(b), 5))
	}
	if b, err := exec.CommandContext(ctx, bin, "outbox", "relay", "--help").CombinedOutput(); err != nil {
		return "", fmt.Errorf("eosctl has no `outbox relay` command: %w: %s", err, lastLines(string(b), 3))
	}
	if t.built == nil {
		t.built = map[string]string{}
	}
	t.built[dir] = bin
	return bin, nil
}

// outboxSide is one contender of the outbox-relay case.
type outboxSide struct {
	relay   outboxRelay
	tools   *outboxTools
	writers int // writer goroutines (one connection each)
	perTxn  int // messages per database transaction
}

func (s outboxSide) Label() string {
	switch s.relay {
	case relayALO:
		return outboxLabelALO
	case relayDebezium:
		return outboxLabelDebezium
	}
	return outboxLabelEOS
}

func (outboxSide) SeqPayload() bool { return true }

func (s outboxSide) Run(ctx context.Context, e *Env, w Work) (Measurement, error) {
	pg, err := integration.StartPostgres(ctx, integration.WithPostgresBackend(integration.BackendProcesses),
		integration.WithLogicalReplication())
	if err != nil {
		return Measurement{}, fmt.Errorf("postgres: %w", err)
	}
	defer pg.Close()
	slot := sqlName(w.Group)
	var rp *relayProcess
	switch s.relay {
	case relayDebezium:
		if err := createOutbox(ctx, pg.DSN(), slot); err != nil {
			return Measurement{}, err
		}
		rp, err = startDebezium(ctx, e, debeziumRun{
			home: s.tools.debezium, pg: pg, slot: slot, table: "public." + outboxTable,
			publication: outboxPublication, name: w.Group,
		})
	default:
		bin, err := s.tools.eosctl(ctx, e.WorkDir)
		if err != nil {
			return Measurement{}, err
		}
		if out, err := exec.CommandContext(ctx, bin, "outbox", "init", "--dsn", pg.DSN(), "--slot", slot).CombinedOutput(); err != nil {
			return Measurement{}, fmt.Errorf("eosctl outbox init: %w: %s", err, lastLines(string(out), 5))
		}
		positions := e.name("positions")
		defer deleteTopic(e, positions)
		args := []string{"outbox", "relay", "--dsn", pg.DSN(), "--slot", slot, "--brokers", strings.Join(e.Brokers, ","),
			"--positions-topic", positions}
		if s.relay == relayALO {
			args = append(args, "--at-least-once")
		}
		rp, err = startRelayProcess(ctx, exec.CommandContext(ctx, bin, args...), "outbox relay ready slot="+slot)
		if err == nil {
			err = rp.waitReady(ctx, 2*time.Minute)
		}
	}
	if err != nil {
		if rp != nil {
			rp.stop()
		}
		return Measurement{}, err
	}
	if err := waitSlotActive(ctx, pg.DSN(), slot, time.Minute); err != nil {
		rp.stop()
		return Measurement{}, fmt.Errorf("%w; relay stderr ends:\n%s", err, rp.stderr.String())
	}
	res, lerr := runOutboxLoad(ctx, e.Brokers, outboxLoad{
		dsn: pg.DSN(), topic: w.Topic, records: w.Records, writers: s.writers, perTxn: s.perTxn, size: 100,
	})
	pr := rp.stop()
	if lerr != nil {
		return Measurement{}, fmt.Errorf("%w; relay stderr ends:\n%s", lerr, pr.stderr)
	}
	m := measured(pr)
	m.Records, m.RecPerSec, m.E2EP50, m.E2EP99 = res.figures()
	return m, nil
}

// The outbox of the Debezium side: postgres/outbox's table (its documented
// schema, as a service in another language would create it), publication
// and slot, under the names `eosctl outbox init` gives them by default.
const (
	outboxTable       = "eoskit_outbox"
	outboxPublication = "eoskit_outbox_pub"
	outboxDDL         = `CREATE TABLE eoskit_outbox (id bigserial PRIMARY KEY, topic text NOT NULL, key bytea, value bytea, headers jsonb, created_at timestamptz DEFAULT now());
CREATE PUBLICATION eoskit_outbox_pub FOR TABLE eoskit_outbox`
)

func createOutbox(ctx context.Context, dsn, slot string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, outboxDDL); err != nil {
		return fmt.Errorf("create the outbox table: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot); err != nil {
		return fmt.Errorf("create slot %s: %w", slot, err)
	}
	return nil
}

// sqlName turns a harness name into a PostgreSQL identifier (slot names
// allow lower-case letters, digits and underscores).
func sqlName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '_'
	}, s)
}

// outboxLoad is one run's database load: writers goroutines commit records
// messages of size bytes to topic, perTxn per database transaction.
type outboxLoad struct {
	dsn, topic      string
	records         int64
	writers, perTxn int
	size            int
}

// outboxResult is what a load saw: per sequence number, when its database
// transaction's COMMIT returned and when a read_committed consumer first
// received it (Unix ns; 0: never), from the start of the first write.
type outboxResult struct {
	start      int64
	commitAt   []int64
	seenAt     []int64
	duplicates int64
}

// figures returns the messages received, messages/s from the start of the
// writes to the last message received, and the p50 and p99 delay in ms from
// a message's commit in PostgreSQL to its delivery in Kafka. A message seen
// before its writer heard back from COMMIT counts as 0 ms.
func (r outboxResult) figures() (records int64, perSec, p50, p99 float64) {
	var last int64
	var delays []float64
	for i, seen := range r.seenAt {
		if seen == 0 {
			continue
		}
		records++
		last = max(last, seen)
		if c := r.commitAt[i]; c != 0 {
			delays = append(delays, float64(max(seen-c, 0))/1e6)
		}
	}
	perSec, p50, p99 = nanNaN(), stats.Percentile(delays, 50), stats.Percentile(delays, 99)
	if records > 0 && last > r.start {
		perSec = float64(records) / (float64(last-r.start) / 1e9)
	}
	return records, perSec, p50, p99
}

func nanNaN() float64 { return unmeasured().RecPerSec }

// runOutboxLoad writes the messages and reads them back until every one
// arrived (or ctx ends). Values are client.Payload values (sequence number,
// insert time); keys spread over 16 values.
func runOutboxLoad(ctx context.Context, brokers []string, l outboxLoad) (outboxResult, error) {
	res := outboxResult{commitAt: make([]int64, l.records), seenAt: make([]int64, l.records)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(l.topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return res, err
	}
	defer cl.Close()
	conns := make([]*pgx.Conn, l.writers)
	for i := range conns {
		if conns[i], err = pgx.Connect(ctx, l.dsn); err != nil {
			return res, fmt.Errorf("writer %d: %w", i, err)
		}
		defer conns[i].Close(context.WithoutCancel(ctx))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readDone := make(chan error, 1)
	go func() { readDone <- readOutbox(ctx, cl, &res) }()
	res.start = time.Now().UnixNano()
	var next atomic.Int64
	var wg sync.WaitGroup
	werrs := make([]error, l.writers)
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			werrs[i] = writeOutbox(ctx, conn, l, &next, res.commitAt)
			if werrs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(werrs...); err != nil {
		<-readDone
		return res, fmt.Errorf("write the outbox: %w", err)
	}
	if err := <-readDone; err != nil {
		return res, err
	}
	return res, nil
}

// writeOutbox commits batches of l.perTxn messages until l.records are
// taken, recording when each COMMIT returned.
func writeOutbox(ctx context.Context, conn *pgx.Conn, l outboxLoad, next *atomic.Int64, commitAt []int64) error {
	per := int64(max(l.perTxn, 1))
	for {
		first := next.Add(per) - per
		if first >= l.records {
			return nil
		}
		n := min(per, l.records-first)
		var sql strings.Builder
		sql.WriteString("INSERT INTO eoskit_outbox (topic, key, value) VALUES ")
		args := make([]any, 0, 2*n+1)
		args = append(args, l.topic)
		for i := range n {
			if i > 0 {
				sql.WriteString(", ")
			}
			fmt.Fprintf(&sql, "($1, $%d, $%d)", 2*i+2, 2*i+3)
			seq := first + i
			args = append(args, []byte(fmt.Sprintf("k%02d", seq%16)), client.Payload(seq, l.size))
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sql.String(), args...); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		at := time.Now().UnixNano()
		for i := range n {
			commitAt[first+i] = at
		}
	}
}

// readOutbox reads until every sequence number arrived, counting
// duplicates; foreign values are an error.
func readOutbox(ctx context.Context, cl *kgo.Client, res *outboxResult) error {
	want := int64(len(res.seenAt))
	var got int64
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("read back: %d of %d messages arrived: %w", got, want, ctx.Err())
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("fetch %s/%d: %w", t, p, err)) })
		if ferr != nil {
			return ferr
		}
		now := time.Now().UnixNano()
		fs.EachRecord(func(r *kgo.Record) {
			seq, ok := client.Seq(r.Value)
			switch {
			case !ok || seq < 0 || seq >= want:
				ferr = fmt.Errorf("a foreign value at %s/%d@%d: %q", r.Topic, r.Partition, r.Offset, r.Value)
			case res.seenAt[seq] != 0:
				res.duplicates++
			default:
				res.seenAt[seq] = now
				got++
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// waitSlotActive waits until a WAL sender streams from slot: the relay (or
// connector) is replicating, so timing the writes measures no start-up.
func waitSlotActive(ctx context.Context, dsn, slot string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var active bool
		err := conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
		if err == nil && active {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replication slot %s is not streaming after %v (last: active=%v, %v)", slot, timeout, active, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// relayProcess is a long-running relay (eosctl or a Connect worker): started,
// waited for, stopped with SIGTERM, measured like runProcess's children.
type relayProcess struct {
	cmd    *exec.Cmd
	stderr *tailBuffer
	ready  chan struct{} // closed when the ready line appeared on stderr or stdout
	exited chan struct{}
	hwm    func() float64
	werr   error
	onStop func() // after the process exited, e.g. delete its topics
}

// startRelayProcess starts cmd; readyLine (when not empty) is a substring
// of the output line that says it is ready.
func startRelayProcess(ctx context.Context, cmd *exec.Cmd, readyLine string) (*relayProcess, error) {
	rp := &relayProcess{cmd: cmd, stderr: &tailBuffer{}, ready: make(chan struct{}), exited: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	rp.hwm = watchHWM(cmd.Process.Pid)
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			_, _ = rp.stderr.Write(append(sc.Bytes(), '\n'))
			if readyLine != "" && strings.Contains(sc.Text(), readyLine) {
				once.Do(func() { close(rp.ready) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		rp.werr = cmd.Wait()
		_ = pw.Close()
		close(rp.exited)
	}()
	return rp, nil
}

func (rp *relayProcess) waitReady(ctx context.Context, timeout time.Duration) error {
	select {
	case <-rp.ready:
		return nil
	case <-rp.exited:
		return fmt.Errorf("%s exited before it was ready: %v; output ends:\n%s", rp.cmd.Args[0], rp.werr, rp.stderr.String())
	case <-time.After(timeout):
		return fmt.Errorf("%s not ready after %v; output ends:\n%s", rp.cmd.Args[0], timeout, rp.stderr.String())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop sends SIGTERM, waits up to a minute (then SIGKILL) and returns the
// process's CPU and peak RSS; stop may be called once.
func (rp *relayProcess) stop() *procResult {
	_ = rp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-rp.exited:
	case <-time.After(time.Minute):
		_ = rp.cmd.Process.Kill()
		<-rp.exited
	}
	if rp.onStop != nil {
		rp.onStop()
	}
	res := &procResult{maxRSS: rp.hwm(), stderr: rp.stderr.String(), exited: time.Now()}
	if ru, ok := rp.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.cpu = tv(ru.Utime) + tv(ru.Stime)
	}
	return res
}

// Debezium's versions: the connector, and the Kafka Connect it is built
// against (build/debezium/connect-pom.xml says why not Kafka 4.4.0's own).
const (
	debeziumVersion        = "3.6.1.Final"
	debeziumConnectVersion = "4.3.0"
	// debeziumOn440 is what Kafka 4.4.0's own Connect does with it.
	debeziumOn440 = "on Kafka 4.4.0's own Connect the connector's task fails at start with NoClassDefFoundError: org/apache/kafka/common/utils/Sanitizer " +
		"(io.debezium.metrics.Metrics; Kafka 4.4.0 moved the class to org.apache.kafka.common.utils.internals)"
)

// debeziumHome is the folder of build/debezium/fetch.sh (make debezium):
// plugins/ (the worker's plugin.path) and connect/libs (its class path),
// or why it is not there.
func debeziumHome() (string, error) {
	home := os.Getenv("EOSKIT_DEBEZIUM_HOME")
	if home == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		home = filepath.Join(cache, "eoskit", "debezium-"+debeziumVersion)
	}
	for _, jar := range []string{
		filepath.Join(home, "plugins", "debezium-connector-postgres", "debezium-connector-postgres-"+debeziumVersion+".jar"),
		filepath.Join(home, "connect", "libs", "connect-runtime-"+debeziumConnectVersion+".jar"),
	} {
		if _, err := os.Stat(jar); err != nil {
			return "", fmt.Errorf("Debezium is not fetched (no %s): run `make debezium`", jar)
		}
	}
	return home, nil
}

// outboxCase is issue 17's performance case.
func outboxCase(r int64) Case {
	tools := &outboxTools{}
	const writers, perTxn = 4, 10
	side := func(k outboxRelay) outboxSide {
		return outboxSide{relay: k, tools: tools, writers: writers, perTxn: perTxn}
	}
	c := Case{
		Name: "outbox-relay", Title: "transactional outbox: PostgreSQL commit -> visible read_committed in Kafka, 100 B values, 6 partitions",
		Settings: fmt.Sprintf("%d writer goroutines commit %d messages per PostgreSQL transaction (plain multi-row INSERTs into the eoskit_outbox table: `eosctl outbox init` made it, its publication and the slot for the eoskit sides, the same DDL in SQL for Debezium) as fast as they can, "+
			"in a fresh local PostgreSQL 15 per run (processes backend, wal_level=logical, fsync off); a read_committed consumer in the harness reads the topic. "+
			"Throughput: messages from the first write to the last delivery; delay: from the return of a message's COMMIT to its delivery (one process, one clock; under a closed-loop load, so it includes the relay's backlog). "+
			"Relays start (and are seen streaming from the slot) before the clock starts; CPU and RSS are the relay process's (eosctl, or the Connect JVM). "+
			"eoskit: `eosctl outbox relay` with defaults (exactly-once: a Kafka transaction per database transaction with its position; --at-least-once: idempotent produce, then the flush LSN confirmed). "+
			"Debezium 3.6.1.Final PostgreSQL connector (pgoutput, the same slot and publication, snapshot.mode no_data, defaults otherwise: poll.interval.ms 500, max.batch.size 2048) "+
			"with its outbox EventRouter (route by the topic column, key and value columns as bytes), on one Kafka Connect worker in distributed mode with exactly.once.source.support=enabled "+
			"(the connector declares exactly.once.support=required, transaction.boundary=poll: one Kafka transaction per poll with the source offsets; standalone mode has no exactly-once), "+
			"Connect "+debeziumConnectVersion+" (the version Debezium "+debeziumVersion+" is built against, against the 4.4.0 broker): "+debeziumOn440+". "+
			"Runs on the first transaction.version only.", writers, perTxn),
		Kind: KindProduce, Partitions: 6, RecordSize: 100, Records: max(r/200, 1), Reference: outboxLabelALO,
		Sides: []Side{side(relayALO), side(relayDebezium), side(relayEOS)},
	}
	home, err := debeziumHome()
	if err != nil {
		c.Settings += fmt.Sprintf(" %s left out: %v.", outboxLabelDebezium, err)
		c.Sides = []Side{side(relayALO), side(relayEOS)}
	}
	tools.debezium = home
	return c
}
