//go:build integration

package sink_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/metrics/prom"
	"github.com/eoskit/eoskit/postgres/sink"
)

// The suite's shared parts: 3 brokers (RF 3, min.insync 2 topics), one
// PostgreSQL server, and the pgsink test binary (internal/pgsink).
var (
	shared  *integration.Shared
	pg      *integration.Postgres
	sinkBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eoskit-pgsink-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	sinkBin = filepath.Join(dir, "pgsink")
	if out, err := exec.Command("go", "build", "-o", sinkBin, "./internal/pgsink").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: build pgsink: %v\n%s", err, out)
		os.Exit(1)
	}
	shared = integration.StartShared(integration.WithNodes(3),
		integration.WithBrokerConfig("group.min.session.timeout.ms", "1000"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	pg, err = integration.StartPostgres(ctx, integration.WithPostgresSetting("max_connections", "300"))
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start postgres: %v\n", err)
		_ = shared.Close()
		os.Exit(1)
	}
	integration.AnnounceSuite("sink", shared.Cluster)
	fmt.Printf("eoskit-suite-postgres: sink backend=%s\n", pg.Backend())
	code := shared.Run(m)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "postgres log:\n%s\n", pg.LogTail(context.Background(), 80))
	}
	_ = pg.Close()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func conn() eoskit.Conn { return eoskit.Conn{Brokers: shared.Bootstrap()} }

func newPool(t testing.TB, ctx context.Context) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// createTopic creates a topic with RF 3 and min.insync.replicas 2.
func createTopic(t testing.TB, ctx context.Context, topic string, partitions int32) {
	t.Helper()
	cl, err := shared.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	minISR := "2"
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// produce writes n records round-robin over the partitions (acks=all,
// idempotent), values "v-<i>", and returns how many each partition got.
func produce(t testing.TB, ctx context.Context, topic string, n int) map[int32]int {
	t.Helper()
	cl, err := shared.NewClient(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var mu sync.Mutex
	per := map[int32]int{}
	var failed atomic.Value
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 50)), Value: []byte(fmt.Sprintf("v-%d", i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}}}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				failed.Store(err)
				return
			}
			mu.Lock()
			per[r.Partition]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return per
}

// createSinkTable creates the append table the tests write: no unique
// constraint, so a duplicate would be visible.
func createSinkTable(t testing.TB, ctx context.Context, pool *pgxpool.Pool, table string) {
	t.Helper()
	_, err := pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s (topic text NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL, value text)`,
		pgx.Identifier{table}.Sanitize()))
	if err != nil {
		t.Fatal(err)
	}
}

// tableName is a unique, legal table name for the test.
func tableName(_ testing.TB) string {
	return fmt.Sprintf("t%d", time.Now().UnixNano())
}

// exactlyOnce is the check of every scenario, in SQL: per partition, the
// rows, the distinct offsets and the input count are equal.
type check struct {
	rows, distinct, dupRows int
	perPartition            map[int32][2]int // rows, distinct
}

func tableCheck(t *testing.T, ctx context.Context, pool *pgxpool.Pool, table string) check {
	t.Helper()
	c := check{perPartition: map[int32][2]int{}}
	rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT partition, count(*), count(DISTINCT "offset") FROM %s GROUP BY partition`, pgx.Identifier{table}.Sanitize()))
	if err != nil {
		t.Fatal(err)
	}
	var p int32
	var n, d int
	if _, err := pgx.ForEachRow(rows, []any{&p, &n, &d}, func() error {
		c.perPartition[p] = [2]int{n, d}
		c.rows += n
		c.distinct += d
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.dupRows = c.rows - c.distinct
	return c
}

// assertExactlyOnce fails unless every input record is in the table once.
func assertExactlyOnce(t *testing.T, c check, input map[int32]int) {
	t.Helper()
	total := 0
	for p, n := range input {
		total += n
		got := c.perPartition[p]
		if got[0] != n || got[1] != n {
			t.Errorf("partition %d: %d rows, %d distinct offsets, want %d of each", p, got[0], got[1], n)
		}
	}
	if c.rows != total || c.distinct != total {
		t.Errorf("table: %d rows, %d distinct positions, want %d (input)", c.rows, c.distinct, total)
	}
}

// waitRows polls until the table has at least n rows or ctx ends.
func waitRows(ctx context.Context, pool *pgxpool.Pool, table string, n int) (int, error) {
	for {
		var got int
		err := pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s", pgx.Identifier{table}.Sanitize())).Scan(&got)
		if err == nil && got >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("%d rows of %d: %w (last error %v)", got, n, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func appendHandler(table string) sink.Handler {
	return func(ctx context.Context, tx pgx.Tx, recs []*kgo.Record) error {
		rows := make([][]any, len(recs))
		for i, r := range recs {
			rows[i] = []any{r.Topic, r.Partition, r.Offset, string(r.Value)}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, []string{"topic", "partition", "offset", "value"}, pgx.CopyFromRows(rows))
		return err
	}
}

type recorder struct {
	mu      sync.Mutex
	commits []sink.BatchCommit
	fenced  []sink.FenceRefused
	dead    []eoskit.DeadLetter
	claimed int
}

func (r *recorder) OnBatchCommit(e sink.BatchCommit) {
	r.mu.Lock()
	r.commits = append(r.commits, e)
	r.mu.Unlock()
}
func (r *recorder) OnFenceRefused(e sink.FenceRefused) {
	r.mu.Lock()
	r.fenced = append(r.fenced, e)
	r.mu.Unlock()
}
func (r *recorder) OnDeadLetter(e eoskit.DeadLetter) {
	r.mu.Lock()
	r.dead = append(r.dead, e)
	r.mu.Unlock()
}
func (r *recorder) OnAssigned(a eoskit.Assignment) {
	r.mu.Lock()
	for _, ps := range a.Partitions {
		r.claimed += len(ps)
	}
	r.mu.Unlock()
}

// runSink runs s in the background; stop cancels it and returns Run's error.
func runSink(t *testing.T, s *sink.Sink) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-errc })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// TestSinkAppendsEveryRecordOnce: one in-process sink, 3 partitions; every
// record once in the table, the offsets table at the partitions' ends, and
// the offsets mirrored to the Kafka group.
func TestSinkAppendsEveryRecordOnce(t *testing.T) {
	ctx := integration.Context(t, 3*time.Minute)
	topic, group, table := integration.UniqueName(t, "in"), integration.UniqueName(t, "g"), tableName(t)
	pool := newPool(t, ctx)
	if err := sink.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	createSinkTable(t, ctx, pool, table)
	createTopic(t, ctx, topic, 3)
	input := produce(t, ctx, topic, 3000)

	rec := &recorder{}
	s, err := sink.New(conn(), pool, appendHandler(table), sink.WithGroup(group), sink.WithTopics(topic), sink.WithHooks(rec))
	if err != nil {
		t.Fatal(err)
	}
	stop := runSink(t, s)
	if _, err := waitRows(ctx, pool, table, 3000); err != nil {
		t.Fatal(err)
	}
	// The mirror: the Kafka group's offsets reach the ends too (async hint).
	cl, err := shared.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		offs, err := adm.FetchOffsets(ctx, group)
		ok := err == nil
		for p, n := range input {
			o, found := offs.Lookup(topic, p)
			ok = ok && found && o.At == int64(n)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group offsets not mirrored: %v %v", offs, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	assertExactlyOnce(t, tableCheck(t, ctx, pool, table), input)

	rows, err := pool.Query(ctx, `SELECT partition, next_offset, owner_epoch FROM eoskit_offsets WHERE consumer_group = $1 AND topic = $2`, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	var p int32
	var next, epoch int64
	seen := 0
	if _, err := pgx.ForEachRow(rows, []any{&p, &next, &epoch}, func() error {
		seen++
		if next != int64(input[p]) || epoch != 1 {
			t.Errorf("offsets row of partition %d: next_offset %d epoch %d, want %d and 1", p, next, epoch, input[p])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != 3 {
		t.Fatalf("%d offsets rows, want 3", seen)
	}
	st := s.Stats()
	if st.Records != 3000 || st.Claims != 3 || st.FenceRefusals != 0 {
		t.Fatalf("stats %+v: want 3000 records, 3 claims, no refusal", st)
	}
	rec.mu.Lock()
	committedRows := 0
	for _, c := range rec.commits {
		if c.Err == nil {
			committedRows += c.Records
			if c.Records > sink.DefaultMaxBatchRecords {
				t.Errorf("batch of %d records, over the default %d", c.Records, sink.DefaultMaxBatchRecords)
			}
		}
	}
	rec.mu.Unlock()
	if committedRows != 3000 {
		t.Fatalf("HookBatchCommit counted %d committed records, want 3000", committedRows)
	}

	// A second run resumes from the table: nothing more is written.
	s2, err := sink.New(conn(), pool, appendHandler(table), sink.WithGroup(group), sink.WithTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	stop2 := runSink(t, s2)
	more := produce(t, ctx, topic, 300)
	if _, err := waitRows(ctx, pool, table, 3300); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a duplicate would land within the next batches
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	for p, n := range more {
		input[p] += n
	}
	assertExactlyOnce(t, tableCheck(t, ctx, pool, table), input)
}

// TestFenceRefusesStaleEpoch: while a batch is in the handler, another
// owner bumps the partition's epoch (what an assignment elsewhere does);
// the batch's commit must be refused and nothing of it committed.
func TestFenceRefusesStaleEpoch(t *testing.T) {
	ctx := integration.Context(t, 2*time.Minute)
	topic, group, table := integration.UniqueName(t, "in"), integration.UniqueName(t, "g"), tableName(t)
	pool := newPool(t, ctx)
	if err := sink.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	createSinkTable(t, ctx, pool, table)
	createTopic(t, ctx, topic, 1)
	produce(t, ctx, topic, 100)

	inHandler, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	h := func(ctx context.Context, tx pgx.Tx, recs []*kgo.Record) error {
		if calls.Add(1) == 1 {
			close(inHandler)
			<-release
		}
		return appendHandler(table)(ctx, tx, recs)
	}
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	metrics, err := prom.New(reg, prom.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sink.New(conn(), pool, h, sink.WithGroup(group), sink.WithTopics(topic), sink.WithHooks(rec, metrics))
	if err != nil {
		t.Fatal(err)
	}
	stop := runSink(t, s)
	select {
	case <-inHandler:
	case <-ctx.Done():
		t.Fatal("the handler was never called")
	}
	tag, err := pool.Exec(ctx, `UPDATE eoskit_offsets SET owner_epoch = owner_epoch + 1, owner = 'usurper' WHERE consumer_group = $1 AND topic = $2`, group, topic)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("bump the epoch: %v (%d rows)", err, tag.RowsAffected())
	}
	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().FenceRefusals == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.FenceRefusals != 1 || st.Records != 0 {
		t.Fatalf("stats %+v: want 1 fence refusal and 0 records committed (the partition stays with the usurper)", st)
	}
	// The same refusal in metrics/prom's vocabulary: an aborted batch
	// transaction, reason rebalance (the partition is another owner's).
	mfs := gathered(t, reg)
	if v := family(mfs, "eoskit_txn_aborted_total", "reason=rebalance").GetCounter().GetValue(); v != 1 {
		t.Errorf("eoskit_txn_aborted_total{reason=rebalance} %v, want 1 (the refusal)", v)
	}
	if v := family(mfs, "eoskit_txn_committed_total").GetCounter().GetValue(); v != 0 {
		t.Errorf("eoskit_txn_committed_total %v, want 0", v)
	}
	rec.mu.Lock()
	if len(rec.fenced) != 1 || rec.fenced[0].Epoch != 1 || rec.fenced[0].Current != 2 {
		t.Errorf("HookFenceRefused events %+v, want one with epoch 1, table epoch 2", rec.fenced)
	}
	rec.mu.Unlock()
	if c := tableCheck(t, ctx, pool, table); c.rows != 0 {
		t.Fatalf("%d rows committed by a fenced batch", c.rows)
	}
	var next int64
	if err := pool.QueryRow(ctx, `SELECT next_offset FROM eoskit_offsets WHERE consumer_group = $1`, group).Scan(&next); err != nil || next != -1 {
		t.Fatalf("next_offset %d (%v), want -1 (never moved)", next, err)
	}
}

// TestPoisonRecords: a handler that fails on some values. With a
// dead-letter table they land there, in the batch's transaction, and the
// rest is committed once; without one, Run stops with ErrPoisonRecord
// naming the record and commits nothing of its batch.
func TestPoisonRecords(t *testing.T) {
	ctx := integration.Context(t, 3*time.Minute)
	pool := newPool(t, ctx)
	topic := integration.UniqueName(t, "in")
	createTopic(t, ctx, topic, 1)
	input := produce(t, ctx, topic, 200)
	poison := func(v []byte) bool { return string(v) == "v-17" || string(v) == "v-111" }
	handler := func(table string) sink.Handler {
		return func(ctx context.Context, tx pgx.Tx, recs []*kgo.Record) error {
			for _, r := range recs {
				if poison(r.Value) {
					return fmt.Errorf("cannot store %s", r.Value)
				}
			}
			return appendHandler(table)(ctx, tx, recs)
		}
	}

	t.Run("dead-letter table", func(t *testing.T) {
		table, dlt := tableName(t), "dl_"+tableName(t)
		createSinkTable(t, ctx, pool, table)
		if err := sink.Migrate(ctx, pool, sink.WithDeadLetterTable(dlt)); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		s, err := sink.New(conn(), pool, handler(table), sink.WithGroup(integration.UniqueName(t, "g")), sink.WithTopics(topic),
			sink.WithDeadLetterTable(dlt), sink.WithRetryBackoff(time.Millisecond), sink.WithHooks(rec))
		if err != nil {
			t.Fatal(err)
		}
		stop := runSink(t, s)
		if _, err := waitRows(ctx, pool, table, 198); err != nil {
			t.Fatal(err)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		c := tableCheck(t, ctx, pool, table)
		if c.rows != 198 || c.distinct != 198 {
			t.Fatalf("%d rows, %d distinct, want 198 (200 minus 2 poison)", c.rows, c.distinct)
		}
		rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT "offset", convert_from(value, 'UTF8'), error, headers->0->>'key' FROM %s ORDER BY "offset"`, pgx.Identifier{dlt}.Sanitize()))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var off int64
		var v, e, hk string
		if _, err := pgx.ForEachRow(rows, []any{&off, &v, &e, &hk}, func() error {
			got = append(got, fmt.Sprintf("%d %s %s %s", off, v, e, hk))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := []string{"17 v-17 cannot store v-17 i", "111 v-111 cannot store v-111 i"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("dead letters %q, want %q", got, want)
		}
		if st := s.Stats(); st.DeadLettered != 2 || st.Records != 200 {
			t.Fatalf("stats %+v: want 2 dead-lettered of 200 committed", st)
		}
		rec.mu.Lock()
		if len(rec.dead) != 2 || rec.dead[0].To != dlt {
			t.Errorf("HookDeadLetter events %+v", rec.dead)
		}
		rec.mu.Unlock()
	})

	t.Run("stop", func(t *testing.T) {
		table := tableName(t)
		createSinkTable(t, ctx, pool, table)
		s, err := sink.New(conn(), pool, handler(table), sink.WithGroup(integration.UniqueName(t, "g")), sink.WithTopics(topic),
			sink.WithHandlerRetries(2), sink.WithRetryBackoff(time.Millisecond), sink.WithMaxBatchRecords(500))
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		err = s.Run(rctx)
		if !errors.Is(err, sink.ErrPoisonRecord) {
			t.Fatalf("Run = %v, want ErrPoisonRecord", err)
		}
		var pe *eoskit.PartitionError
		if !errors.As(err, &pe) || pe.Offset != 17 {
			t.Fatalf("Run = %v, want a PartitionError at offset 17", err)
		}
		// Records before 17 may have committed in an earlier batch; none at
		// or after it.
		var maxOff *int64
		if err := pool.QueryRow(ctx, fmt.Sprintf(`SELECT max("offset") FROM %s`, pgx.Identifier{table}.Sanitize())).Scan(&maxOff); err != nil {
			t.Fatal(err)
		}
		if maxOff != nil && *maxOff >= 17 {
			t.Fatalf("offset %d committed past the poison record", *maxOff)
		}
	})
	_ = input
}

// TestAppendAndUpsertTables: the ready-made handlers of `eosctl sink
// postgres`. Append: one row per record, headers as jsonb. Upsert: one row
// per key holding the key's last value.
func TestAppendAndUpsertTables(t *testing.T) {
	ctx := integration.Context(t, 3*time.Minute)
	pool := newPool(t, ctx)
	topic := integration.UniqueName(t, "in")
	createTopic(t, ctx, topic, 3)
	// Keys i%50 hashed to partitions (so each key's records are ordered),
	// values v-i, header i.
	pcl, err := shared.NewClient(kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 1000 {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i % 50)), Value: []byte(fmt.Sprintf("v-%d", i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}}})
	}
	err = pcl.ProduceSync(ctx, recs...).FirstErr()
	pcl.Close()
	if err != nil {
		t.Fatal(err)
	}
	appendT, upsertT := tableName(t), tableName(t)
	for _, c := range []struct {
		table  string
		create func(string) (string, error)
		h      func(string) (sink.Handler, error)
	}{{appendT, sink.AppendTableSQL, sink.AppendHandler}, {upsertT, sink.UpsertTableSQL, sink.UpsertHandler}} {
		sql, err := c.create(c.table)
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.CreateTable(ctx, pool, sql); err != nil {
			t.Fatal(err)
		}
		h, err := c.h(c.table)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sink.New(conn(), pool, h, sink.WithGroup(integration.UniqueName(t, "g")), sink.WithTopics(topic))
		if err != nil {
			t.Fatal(err)
		}
		stop := runSink(t, s)
		waitFor(t, ctx, "all records committed", func() bool { return s.Stats().Records == 1000 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	var rows, distinct int
	var hdr string
	if err := pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), count(DISTINCT (partition, "offset")), min(headers->0->>'key') FROM %s`, appendT)).Scan(&rows, &distinct, &hdr); err != nil {
		t.Fatal(err)
	}
	if rows != 1000 || distinct != 1000 || hdr != "i" {
		t.Fatalf("append table: %d rows, %d distinct, header key %q; want 1000, 1000, i", rows, distinct, hdr)
	}
	// Key k's last record is v-(950+k): produced last, in its partition.
	rs, err := pool.Query(ctx, fmt.Sprintf(`SELECT convert_from(key, 'UTF8'), convert_from(value, 'UTF8') FROM %s`, upsertT))
	if err != nil {
		t.Fatal(err)
	}
	var k, v string
	n := 0
	if _, err := pgx.ForEachRow(rs, []any{&k, &v}, func() error {
		n++
		if want := fmt.Sprintf("v-%s", strconv.Itoa(950+atoi(k))); v != want {
			t.Errorf("key %s: value %s, want %s (last value wins)", k, v, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 50 {
		t.Fatalf("upsert table: %d rows, want 50 keys", n)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
