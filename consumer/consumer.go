package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/internal/conn"
)

// Consumer is a consumer group member. Create it with New, call Run once,
// then Close. Lag may be called at any time, concurrently.
type Consumer struct {
	cfg     config
	adm     *kgo.Client // metadata and offsets for Lag; never joins the group
	started atomic.Bool
}

// New validates the options and returns a Consumer for the cluster conn
// names. It does not contact the cluster: the member joins the group when
// Run starts. Problems are reported all at once in an *eoskit.OptionError
// (matching eoskit.ErrInvalidOption), franz-go options in conn.KgoOpts
// that would undo a guarantee included.
func New(conn eoskit.Conn, opts ...Opt) (*Consumer, error) {
	cfg := newConfig(conn, opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	adm, err := kgo.NewClient(cfg.conn.Opts()...)
	if err != nil {
		ps := eoskit.NewProblems("consumer")
		ps.Addf("franz-go refuses Conn.KgoOpts: %v", err)
		return nil, ps.Err()
	}
	return &Consumer{cfg: cfg, adm: adm}, nil
}

// Close releases the consumer's connections. Call it after Run returned.
func (c *Consumer) Close() { c.adm.Close() }

// run is the state of one Run call.
type run struct {
	cfg config
	h   Handler
	cl  *kgo.Client
	sem chan struct{}

	mu    sync.Mutex
	parts map[tp]*part

	failOnce sync.Once
	failed   chan struct{} // closed on a fatal error

	progress chan struct{} // a partition that was behind caught up
	ready    chan struct{} // closed once cl is set (group callbacks may run before)
	err      error
}

type tp struct {
	topic     string
	partition int32
}

// Run joins the group and handles records until ctx is cancelled (a
// graceful shutdown: in-flight records finish within the grace period, what
// was handled is committed, the member leaves the group; Run returns nil,
// or an error wrapping ErrCommit if the final commit failed) or a fatal
// error: eoskit.ErrPositionLost, ErrHandler, ErrFetch (or an
// *eoskit.AccessError for a missing ACL). On a fatal error Run also
// commits what was handled, never the failed record or anything after it in
// its partition.
//
// Commits only ever cover records the handler finished (at least once): a
// record is committed after its handler returned nil, records of one
// partition in order. Handled offsets are committed every commit interval,
// when partitions are revoked, and at shutdown.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	if !c.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	r := &run{
		cfg:      c.cfg,
		h:        h,
		sem:      make(chan struct{}, c.cfg.concurrency),
		parts:    map[tp]*part{},
		failed:   make(chan struct{}),
		progress: make(chan struct{}, 1),
		ready:    make(chan struct{}),
	}
	cl, err := kgo.NewClient(r.kgoOpts()...)
	if err != nil {
		ps := eoskit.NewProblems("consumer")
		ps.Addf("franz-go refuses the options: %v", err)
		return ps.Err()
	}
	// Wrong credentials, an untrusted CA or a missing ACL fail here at once,
	// explained, instead of a group that silently never joins.
	if err := conn.Check(ctx, cl, conn.Access{Group: r.cfg.group, Input: r.cfg.topics}); err != nil {
		cl.Close()
		return fmt.Errorf("consumer: %w", err)
	}
	r.cl = cl
	close(r.ready)
	r.poll(ctx)
	return r.shutdown()
}

func (r *run) kgoOpts() []kgo.Opt {
	opts := append(r.cfg.conn.BaseOpts(), kgo.FetchMaxWait(DefaultFetchMaxWait)) // before the user's: theirs wins
	opts = append(opts, r.cfg.conn.KgoOpts...)
	opts = append(opts, r.cfg.guardedOpts()...)
	opts = append(opts,
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.AutoCommitCallback(r.autoCommitted),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		kgo.AdjustFetchOffsetsFn(r.pinStart),
	)
	if r.cfg.kip848 {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	return opts
}

// fail records the first fatal error and stops the poll loop.
func (r *run) fail(err error) {
	r.failOnce.Do(func() {
		r.err = err
		close(r.failed)
		r.cfg.logger.Error("consumer stopping", eoskit.LogKeyGroup, r.cfg.group, eoskit.LogKeyErr, err)
	})
}

func (r *run) poll(ctx context.Context) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.failed:
			cancel()
		case <-pctx.Done():
		}
	}()
	for pctx.Err() == nil {
		fs := r.cl.PollRecords(pctx, 10000)
		if fs.IsClientClosed() {
			r.cl.AllowRebalance()
			return
		}
		fs.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if perr := r.classifyFetchErr(topic, partition, err); perr != nil {
				r.fail(perr)
				return
			}
			r.cfg.logger.Warn("fetch error, retrying", eoskit.LogKeyTopic, topic, eoskit.LogKeyPartition, partition, eoskit.LogKeyErr, err)
		})
		r.mu.Lock()
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				r.partFor(p.Topic, p.Partition).push(p.Records)
			}
		})
		r.mu.Unlock()
		r.cl.AllowRebalance()
		r.throttle(pctx)
	}
}

// pauseAfter is how long the poll loop waits for partitions that are behind
// before it pauses their fetching.
const pauseAfter = 50 * time.Millisecond

// throttle is the backpressure between polls: while a partition is behind,
// it waits (rebalances may run) for the handler to catch up, up to
// pauseAfter, then pauses the partitions still behind so the others go on.
func (r *run) throttle(ctx context.Context) {
	var timer *time.Timer
	expired := false
	for {
		r.mu.Lock()
		behind := 0
		for _, p := range r.parts {
			if p.behind() {
				behind++
				if expired {
					p.pause()
				}
			}
		}
		r.mu.Unlock()
		if behind == 0 || expired {
			return
		}
		if timer == nil {
			timer = time.NewTimer(pauseAfter)
			defer timer.Stop()
		}
		select {
		case <-r.progress:
		case <-timer.C:
			expired = true
		case <-ctx.Done():
			return
		}
	}
}

// classifyFetchErr returns a fatal error, or nil for errors franz-go retries.
func (r *run) classifyFetchErr(topic string, partition int32, err error) error {
	var dl *kgo.ErrDataLoss
	switch {
	case errors.As(err, &dl), errors.Is(err, kerr.OffsetOutOfRange):
		return &eoskit.PartitionError{Topic: topic, Partition: partition, Offset: -1,
			Err: fmt.Errorf("consumer: %w: the consumer does not rewind or skip on its own: %w", eoskit.ErrPositionLost, err)}
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed):
		return &eoskit.PartitionError{Topic: topic, Partition: partition, Offset: -1,
			Err: fmt.Errorf("consumer: %w: %w", ErrFetch, conn.ExplainAuthError(err, conn.Access{Group: r.cfg.group, Input: []string{topic}}))}
	}
	return nil
}

// partFor returns the worker for a partition, starting one. r.mu is held.
func (r *run) partFor(topic string, partition int32) *part {
	k := tp{topic, partition}
	p := r.parts[k]
	if p == nil {
		p = newPart(r, k)
		r.parts[k] = p
		go p.work()
	}
	return p
}

// stopParts stops the workers of the given partitions (nil: all) and waits
// for them: queued records are dropped, in-flight ones finish within the
// grace period, then their context is cancelled. With cancelNow (lost
// partitions), handlers are cancelled at once.
func (r *run) stopParts(which map[string][]int32, cancelNow bool) {
	r.mu.Lock()
	var stopping []*part
	for k, p := range r.parts {
		if which != nil && !contains(which[k.topic], k.partition) {
			continue
		}
		p.stop(cancelNow)
		stopping = append(stopping, p)
		delete(r.parts, k)
	}
	r.mu.Unlock()
	deadline := time.NewTimer(r.cfg.grace)
	defer deadline.Stop()
	expired := false
	for _, p := range stopping {
		if !expired {
			select {
			case <-p.done:
				continue
			case <-deadline.C:
				expired = true
				r.cfg.logger.Warn("handlers outlasted the grace period; cancelling them", eoskit.LogKeyGroup, r.cfg.group)
				for _, q := range stopping {
					q.cancel()
				}
			}
		}
		<-p.done
	}
}

func contains(ps []int32, p int32) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// assigned runs in franz-go's group goroutine: only the hooks.
func (r *run) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	r.cfg.hooks.Assigned(eoskit.Assignment{Group: r.cfg.group, Partitions: assigned})
}

// revoked runs in franz-go's group goroutine (polls are blocked): stop the
// revoked partitions' workers, then commit what they handled.
func (r *run) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	r.cfg.hooks.Revoked(eoskit.Assignment{Group: r.cfg.group, Partitions: revoked})
	r.stopParts(revoked, false)
	if err := r.commit(ctx); err != nil {
		r.cfg.logger.Warn("commit on revoke failed; the next owner handles those records again", eoskit.LogKeyGroup, r.cfg.group, eoskit.LogKeyErr, err)
	}
}

// lost: the partitions already belong to someone else; commits would fail.
func (r *run) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.cfg.hooks.Revoked(eoskit.Assignment{Group: r.cfg.group, Partitions: lost, Lost: true})
	r.stopParts(lost, true)
	r.cfg.logger.Warn("partitions lost; handled but uncommitted records will be handled again", eoskit.LogKeyGroup, r.cfg.group, "partitions", lost)
}

// pinStart runs when partitions are assigned, after their committed
// offsets were fetched: a partition without a committed offset starts at
// the start offset, and with StartAtLatest (or StartAtEarliest) that is a
// moving target. If the partition changed owner before its first commit,
// the next owner would resolve "the end" anew and skip every record
// produced in between. So the position is resolved here, once, committed
// for the group, and consumed from exactly.
func (r *run) pinStart(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	start := *r.cfg.start
	atEnd := start == kgo.NewOffset().AtEnd()
	if !atEnd && start != kgo.NewOffset().AtStart() {
		return offsets, nil // an exact offset or a time: the same for every owner
	}
	need := map[string][]int32{}
	for t, ps := range offsets {
		for p, o := range ps {
			if o == start {
				need[t] = append(need[t], p)
			}
		}
	}
	if len(need) == 0 {
		return offsets, nil
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	topics := make([]string, 0, len(need))
	for t := range need {
		topics = append(topics, t)
	}
	adm := kadm.NewClient(r.cl)
	list, what := adm.ListStartOffsets, "start offsets"
	switch {
	case atEnd && r.cfg.readUncommitted:
		list, what = adm.ListEndOffsets, "high watermarks"
	case atEnd:
		list, what = adm.ListCommittedOffsets, "last stable offsets"
	}
	listed, err := list(ctx, topics...)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: pin the start of newly assigned partitions: list %s: %w", what, err)
	}
	pin := map[string]map[int32]kgo.EpochOffset{}
	offs := map[string]map[int32]int64{}
	for t, ps := range need {
		pin[t], offs[t] = map[int32]kgo.EpochOffset{}, map[int32]int64{}
		for _, p := range ps {
			o, ok := listed.Lookup(t, p)
			if !ok {
				return nil, fmt.Errorf("consumer: pin the start of %s/%d: no offset listed", t, p)
			}
			pin[t][p] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset}
			offs[t][p] = o.Offset
			offsets[t][p] = kgo.NewOffset().At(o.Offset)
		}
	}
	var cerr error
	r.cl.CommitOffsetsSync(ctx, pin, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		cerr = err
		if err == nil {
			cerr = firstCommitErr(resp)
		}
	})
	r.cfg.hooks.Commit(eoskit.Committed{Group: r.cfg.group, Offsets: offs, Err: cerr})
	if cerr != nil {
		return nil, fmt.Errorf("consumer: pin the start of newly assigned partitions: commit %v: %w", offs, cerr)
	}
	r.cfg.logger.Debug("pinned the start of partitions without a committed offset", eoskit.LogKeyGroup, r.cfg.group, "offsets", offs)
	return offsets, nil
}

func firstCommitErr(resp *kmsg.OffsetCommitResponse) error {
	if resp == nil {
		return nil
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
}

// commit commits every handled offset not yet committed.
func (r *run) commit(ctx context.Context) error {
	marked := r.cl.MarkedOffsets()
	if len(marked) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.grace)
	defer cancel()
	err := r.cl.CommitMarkedOffsets(ctx)
	offs := map[string]map[int32]int64{}
	for t, ps := range marked {
		offs[t] = map[int32]int64{}
		for p, eo := range ps {
			offs[t][p] = eo.Offset
		}
	}
	r.cfg.hooks.Commit(eoskit.Committed{Group: r.cfg.group, Offsets: offs, Err: err})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	return nil
}

func (r *run) autoCommitted(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
	if req == nil {
		return
	}
	offs := map[string]map[int32]int64{}
	for _, t := range req.Topics {
		offs[t.Topic] = map[int32]int64{}
		for _, p := range t.Partitions {
			offs[t.Topic][p.Partition] = p.Offset
		}
	}
	if err == nil {
		err = firstCommitErr(resp)
	}
	if err != nil {
		r.cfg.logger.Warn("periodic commit failed; retried at the next interval", eoskit.LogKeyGroup, r.cfg.group, eoskit.LogKeyErr, err)
	}
	r.cfg.hooks.Commit(eoskit.Committed{Group: r.cfg.group, Offsets: offs, Err: err})
}

// shutdown stops every worker, commits what was handled, and leaves.
func (r *run) shutdown() error {
	r.stopParts(nil, false)
	cerr := r.commit(context.Background())
	r.cl.Close()
	select {
	case <-r.failed:
		if cerr != nil {
			return errors.Join(r.err, cerr)
		}
		return r.err
	default:
	}
	return cerr
}
