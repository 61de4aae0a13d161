package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/hooks"
	"github.com/eoskit/eoskit/internal/kgoguard"
)

// Handler writes one batch of records into the database through tx, the
// batch's open transaction. It must not commit or roll back tx. Returning
// an error rolls the transaction back; the records are then retried one at
// a time (see the package doc). The handler may be called again with the
// same records (after a rollback), so it must not keep side effects
// outside tx.
type Handler func(ctx context.Context, tx pgx.Tx, records []*kgo.Record) error

// Stats are a sink's counters since New.
type Stats struct {
	Batches       int64 // batch transactions committed
	Records       int64 // records committed (dead letters included)
	DeadLettered  int64
	FenceRefusals int64 // partitions whose commit the fence refused
	Claims        int64 // partitions claimed (epoch bumps)
	DBRetries     int64 // batches retried after a database failure
	Dropped       int64 // fetched records dropped: partition not owned, or already handed out
}

// Sink consumes a group's topics into PostgreSQL exactly once. Build it
// with New; Run does the work.
type Sink struct {
	conn  eoskit.Conn
	pool  *pgxpool.Pool
	h     Handler
	cfg   config
	hooks hooks.Set
	own   sinkHooks
	sql   statements
	log   *slog.Logger

	mu    sync.Mutex
	owned map[tp]*partState

	flight atomic.Pointer[flight] // the batch whose transaction is running, if any

	running atomic.Bool
	stats   struct {
		batches, records, dead, fenced, claims, dbRetries, dropped atomic.Int64
	}
}

type tp struct {
	topic     string
	partition int32
}

// partState is this sink's hold on one partition.
type partState struct {
	epoch     int64 // the owner epoch this sink claimed
	committed int64 // the next offset the table holds (-1: none)
	next      int64 // the next offset not yet handed to a batch

	leaderEpoch int32 // of the last committed record, for the Kafka mirror
}

// New validates the options and returns a Sink. It does not connect:
// Run does. Errors match eoskit.ErrInvalidOption (an *eoskit.OptionError
// listing every problem).
func New(conn eoskit.Conn, pool *pgxpool.Pool, h Handler, opts ...Opt) (*Sink, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(conn, pool != nil, h != nil); err != nil {
		return nil, err
	}
	// Conn.KgoOpts may not undo what Run sets (internal/kgoguard).
	ours := []kgo.Opt{kgo.ConsumerGroup(cfg.group), kgo.ConsumeTopics(cfg.topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.SessionTimeout(cfg.sessionTimeout)}
	guards := kgoguard.For("sink", kgoguard.Consuming, kgoguard.AutoCommit, kgoguard.Transactional)
	if err := kgoguard.Check("sink", ours[:2], ours, conn.KgoOpts, guards); err != nil {
		return nil, err
	}
	return &Sink{
		conn:  conn,
		pool:  pool,
		h:     h,
		cfg:   cfg,
		hooks: hooks.New(cfg.hooks),
		own:   newSinkHooks(cfg.hooks),
		sql:   newStatements(cfg.offsetsTable, cfg.deadLetter),
		log:   cfg.logger.With("group", cfg.group),
		owned: map[tp]*partState{},
	}, nil
}

// Stats returns the counters. Safe to call at any time.
func (s *Sink) Stats() Stats {
	return Stats{
		Batches:       s.stats.batches.Load(),
		Records:       s.stats.records.Load(),
		DeadLettered:  s.stats.dead.Load(),
		FenceRefusals: s.stats.fenced.Load(),
		Claims:        s.stats.claims.Load(),
		DBRetries:     s.stats.dbRetries.Load(),
		Dropped:       s.stats.dropped.Load(),
	}
}

// ErrAlreadyRunning reports a second Run on the same Sink.
var ErrAlreadyRunning = errors.New("sink: Run is already running on this Sink: build one Sink per Run")

// Run joins the group and sinks batches until ctx is cancelled (it then
// returns nil, after leaving the group; the batch in flight is rolled
// back) or a failure no retry can fix: a poison record without a
// dead-letter table (ErrPoisonRecord), a lost position
// (eoskit.ErrPositionLost), denied access (eoskit.ErrAccessDenied).
// Database failures are retried with backoff for as long as ctx lives.
func (s *Sink) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer s.running.Store(false)
	opts := append(s.conn.Opts(),
		kgo.ConsumerGroup(s.cfg.group),
		kgo.ConsumeTopics(s.cfg.topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(s.cfg.sessionTimeout),
		kgo.AdjustFetchOffsetsFn(s.assigned),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { s.revoked(m, false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { s.revoked(m, true) }),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sink: %w: %w", eoskit.ErrInvalidOption, err)
	}
	defer func() {
		s.mu.Lock()
		s.owned = map[tp]*partState{}
		s.mu.Unlock()
		cl.Close()
	}()
	s.log.Info("sink started", "topics", s.cfg.topics, "instance", s.cfg.instance)
	s.hooks.SessionStart(eoskit.SessionStart{Group: s.cfg.group, ProducerID: -1, Epoch: -1})
	// The pipeline: batch N's database transaction runs (launch) while
	// batch N+1 is fetched (collect); land waits for N before N+1 is
	// launched, so one transaction at a time, in order. A failed flight
	// cancels cctx, so a collect waiting on an idle topic returns.
	cctx, stopCollect := context.WithCancelCause(ctx)
	defer stopCollect(nil)
	for {
		b, err := s.collect(cctx, cl)
		if ferr := s.land(); err == nil {
			err = ferr
		}
		if err == nil && ctx.Err() == nil && b != nil && len(b.recs) > 0 {
			s.launch(ctx, cl, b, stopCollect)
		}
		cl.AllowRebalance()
		if ctx.Err() != nil {
			_ = s.land()
			s.log.Info("sink stopping", "stats", s.Stats())
			return nil
		}
		if err != nil {
			_ = s.land()
			s.log.Error("sink stopped", "err", err)
			return err
		}
	}
}

// collect polls until it has WithMaxBatchRecords records or
// WithBatchInterval passed since the first one, keeping only records of
// partitions this sink holds and not handed out before (records fetched
// before a revocation, or again after a seek, are dropped here).
func (s *Sink) collect(ctx context.Context, cl *kgo.Client) (*batch, error) {
	b := &batch{parts: map[tp]*batchPart{}}
	var deadline time.Time
	for len(b.recs) < s.cfg.maxRecords && b.bytes < s.cfg.maxBytes {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			if !time.Now().Before(deadline) {
				break
			}
			pctx, cancel = context.WithDeadline(ctx, deadline)
		}
		fs := cl.PollRecords(pctx, s.cfg.maxRecords-len(b.recs))
		cancel()
		if err := s.fetchErr(fs); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		n := len(b.recs)
		s.keep(fs, b)
		if len(b.recs) == 0 {
			// A poll that returned only errors or dropped records still
			// blocks rebalances (BlockRebalanceOnPoll): release them, or
			// a rejoin after a lost session waits for this loop forever.
			cl.AllowRebalance()
			continue
		}
		if deadline.IsZero() && len(b.recs) > n {
			deadline = time.Now().Add(s.cfg.interval)
		}
	}
	return b, nil
}

func (s *Sink) keep(fs kgo.Fetches, b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dropped := int64(0)
	// A partition's fetched records are in offset order: one ownership
	// lookup per partition, not per record.
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		recs := p.Records
		if len(recs) == 0 {
			return
		}
		k := tp{p.Topic, p.Partition}
		st := s.owned[k]
		if st == nil {
			dropped += int64(len(recs))
			return
		}
		i := 0
		for i < len(recs) && recs[i].Offset < st.next {
			i++ // fetched before a seek or reclaim: already past
		}
		dropped += int64(i)
		recs = recs[i:]
		if len(recs) == 0 {
			return
		}
		bp := b.parts[k]
		if bp == nil {
			// Where the previous batch (maybe still committing) leaves
			// the table's row: the fence's expected next_offset.
			bp = &batchPart{epoch: st.epoch, prev: st.next}
			b.parts[k] = bp
		}
		last := recs[len(recs)-1]
		st.next = last.Offset + 1
		bp.next = last.Offset + 1
		bp.leaderEpoch = last.LeaderEpoch
		for _, r := range recs {
			b.bytes += len(r.Key) + len(r.Value)
			for _, h := range r.Headers {
				b.bytes += len(h.Key) + len(h.Value)
			}
		}
		b.recs = append(b.recs, recs...)
	})
	if dropped > 0 {
		s.stats.dropped.Add(dropped)
	}
}

// fetchErr returns the fetch errors no retry fixes; others are logged
// (franz-go retries them).
func (s *Sink) fetchErr(fs kgo.Fetches) error {
	var fatal error
	fs.EachError(func(topic string, p int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrClientClosed):
		case errors.Is(err, kerr.OffsetOutOfRange), isDataLoss(err):
			fatal = &eoskit.PartitionError{Topic: topic, Partition: p, Offset: -1,
				Err: fmt.Errorf("%w: fix the offsets table's next_offset for this partition: %w", eoskit.ErrPositionLost, err)}
		case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed):
			fatal = &eoskit.AccessError{Kind: eoskit.ErrAuthorization, Operation: "READ", Resource: fmt.Sprintf("TOPIC %q or GROUP %q", topic, s.cfg.group),
				Msg: "sink: not authorized to consume: grant READ on the topic and the group", Err: err}
		case errors.Is(err, kerr.SaslAuthenticationFailed):
			fatal = &eoskit.AccessError{Kind: eoskit.ErrAuthentication, Msg: "sink: the brokers refused the credentials", Err: err}
		default:
			s.log.Warn("fetch error (retried)", "topic", topic, "partition", p, "err", err)
		}
	})
	return fatal
}

func isDataLoss(err error) bool {
	var dl *kgo.ErrDataLoss
	return errors.As(err, &dl)
}

// assigned is kgo's AdjustFetchOffsetsFn: it claims the newly assigned
// partitions in one database transaction of its own (bumping their
// epochs) and starts each where the offsets table says.
func (s *Sink) assigned(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var topics []string
	var parts []int32
	for t, ps := range offsets {
		for p := range ps {
			topics = append(topics, t)
			parts = append(parts, p)
		}
	}
	if len(topics) == 0 {
		return offsets, nil
	}
	claims, err := s.claim(ctx, topics, parts)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[int32]kgo.Offset, len(offsets))
	assigned := map[string][]int32{}
	s.mu.Lock()
	for k, c := range claims {
		s.owned[k] = c
		if out[k.topic] == nil {
			out[k.topic] = map[int32]kgo.Offset{}
		}
		if c.committed >= 0 {
			out[k.topic][k.partition] = kgo.NewOffset().At(c.committed).WithEpoch(-1)
		} else {
			out[k.topic][k.partition] = s.cfg.start
		}
		assigned[k.topic] = append(assigned[k.topic], k.partition)
		s.log.Info("partition claimed", "topic", k.topic, "partition", k.partition, "epoch", c.epoch, "next_offset", c.committed)
	}
	s.mu.Unlock()
	s.stats.claims.Add(int64(len(claims)))
	s.hooks.Assigned(eoskit.Assignment{Group: s.cfg.group, Partitions: assigned})
	return out, nil
}

// claim bumps the epochs, retrying database failures until ctx (the group
// session) ends.
func (s *Sink) claim(ctx context.Context, topics []string, parts []int32) (map[tp]*partState, error) {
	backoff := s.cfg.retryBackoff
	for {
		claims := map[tp]*partState{}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, s.sql.claim, s.cfg.group, topics, parts, s.cfg.instance)
			if err != nil {
				return err
			}
			var t string
			var p int32
			var next, epoch int64
			_, err = pgx.ForEachRow(rows, []any{&t, &p, &next, &epoch}, func() error {
				claims[tp{t, p}] = &partState{epoch: epoch, committed: next, next: next, leaderEpoch: -1}
				return nil
			})
			return err
		})
		if err == nil {
			return claims, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sink: claim partitions: %w", ctx.Err())
		}
		s.log.Warn("claiming partitions failed; retrying", "err", err, "backoff", backoff)
		if !sleep(ctx, backoff) {
			return nil, fmt.Errorf("sink: claim partitions: %w", ctx.Err())
		}
		backoff = min(2*backoff, s.cfg.maxBackoff)
	}
}

// revoked forgets partitions: nothing of theirs is committed any more, and
// records of theirs fetched earlier are dropped by keep.
func (s *Sink) revoked(m map[string][]int32, lost bool) {
	// A batch committing now was fetched while the partitions were held:
	// let it end first (its fence decides), so that a clean hand-over
	// loses no work and the next owner claims after it.
	s.waitFlight()
	s.mu.Lock()
	for t, ps := range m {
		for _, p := range ps {
			delete(s.owned, tp{t, p})
		}
	}
	s.mu.Unlock()
	s.log.Info("partitions revoked", "partitions", m, "lost", lost)
	s.hooks.Revoked(eoskit.Assignment{Group: s.cfg.group, Partitions: m, Lost: lost})
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
