package producer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/producer"
)

func fake(t *testing.T, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOptionValidation(t *testing.T) {
	b := []string{"127.0.0.1:9092"}
	conn := eoskit.Conn{Brokers: b}
	with := func(opts ...kgo.Opt) eoskit.Conn { return eoskit.Conn{Brokers: b, KgoOpts: opts} }
	cases := []struct {
		name string
		conn eoskit.Conn
		opts []producer.Opt
		ok   bool
	}{
		{"defaults", conn, nil, true},
		{"no brokers", eoskit.Conn{}, nil, false},
		{"broker without port", eoskit.Conn{Brokers: []string{"localhost"}}, nil, false},
		{"leader acks through kgo", with(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()), nil, false},
		{"idempotence off through kgo", with(kgo.DisableIdempotentWrite()), nil, false},
		{"cancellation through kgo", with(kgo.AllowIdempotentProduceCancellation()), nil, false},
		{"transactional ID through kgo", with(kgo.TransactionalID("x")), nil, false},
		{"leader acks by name", conn, []producer.Opt{producer.UnsafeAcks(kgo.LeaderAck())}, true},
		{"idempotence off by name", conn, []producer.Opt{producer.UnsafeDisableIdempotence()}, true},
		{"cancellation by name", conn, []producer.Opt{producer.UnsafeAllowProduceCancellation()}, true},
		{"named acks but kgo overrides to none", with(kgo.RequiredAcks(kgo.NoAck())), []producer.Opt{producer.UnsafeAcks(kgo.LeaderAck())}, false},
		{"nil logger", conn, []producer.Opt{producer.WithLogger(nil)}, false},
		{"negative retries", conn, []producer.Opt{producer.WithRecordRetries(-2)}, false},
		{"retry forever", conn, []producer.Opt{producer.WithRecordRetries(-1)}, true},
		{"negative linger", conn, []producer.Opt{producer.WithLinger(-time.Second)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := producer.New(tc.conn, tc.opts...)
			if tc.ok {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				_ = p.Close(context.Background())
				return
			}
			if !errors.Is(err, eoskit.ErrInvalidOption) {
				t.Fatalf("New: %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestTransactionalOptionValidation(t *testing.T) {
	ctx := context.Background()
	b := eoskit.Conn{Brokers: []string{"127.0.0.1:9092"}}
	with := func(opts ...kgo.Opt) eoskit.Conn { return eoskit.Conn{Brokers: b.Brokers, KgoOpts: opts} }
	for name, tc := range map[string]struct {
		conn eoskit.Conn
		opts []producer.Opt
	}{
		"unsafe acks":   {b, []producer.Opt{producer.UnsafeAcks(kgo.LeaderAck())}},
		"no idempotent": {b, []producer.Opt{producer.UnsafeDisableIdempotence()}},
		"short timeout": {b, []producer.Opt{producer.WithTransactionTimeout(time.Millisecond)}},
		// #12 item 7: KgoOpts cannot undo what a transactional producer needs.
		"another transactional ID through kgo": {with(kgo.TransactionalID("other")), nil},
		"leader acks through kgo":              {with(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()), nil},
		"idempotence off through kgo":          {with(kgo.DisableIdempotentWrite()), nil},
		"cancellation through kgo":             {with(kgo.AllowIdempotentProduceCancellation()), nil},
		"transaction timeout through kgo":      {with(kgo.TransactionTimeout(time.Hour)), nil},
	} {
		if _, err := producer.NewTransactional(ctx, tc.conn, "id", tc.opts...); !errors.Is(err, eoskit.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		} else if strings.Contains(name, "through kgo") && !strings.Contains(err.Error(), "kgo.") {
			t.Errorf("%s: %v does not name the kgo option", name, err)
		}
	}
	if _, err := producer.NewTransactional(ctx, b, ""); !errors.Is(err, eoskit.ErrInvalidOption) {
		t.Errorf("empty ID: %v, want ErrInvalidOption", err)
	}
}

type hookRec struct {
	mu       sync.Mutex
	ok, fail int
	ends     []eoskit.TxnEnd
}

func (h *hookRec) OnProduce(e eoskit.Produced) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Err != nil {
		h.fail++
	} else {
		h.ok++
	}
}

func (h *hookRec) OnTxnEnd(e eoskit.TxnEnd) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ends = append(h.ends, e)
}

func TestProduceErrorsAreTypedAndPerRecord(t *testing.T) {
	c := fake(t, "known")
	h := &hookRec{}
	p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs()}, producer.WithHooks(h),
		producer.WithBatchMaxBytes(1<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := ctxT(t)

	good := &kgo.Record{Topic: "known", Value: []byte("ok")}
	big := &kgo.Record{Topic: "known", Value: make([]byte, 4<<10)}
	missing := &kgo.Record{Topic: "missing", Value: []byte("x")}
	err = p.Produce(ctx, good, big, missing)
	var pe *producer.ProduceError
	if !errors.As(err, &pe) {
		t.Fatalf("Produce: %v, want *ProduceError", err)
	}
	if pe.Total != 3 || len(pe.Failed) != 2 {
		t.Fatalf("failed %d of %d, want 2 of 3: %v", len(pe.Failed), pe.Total, err)
	}
	reasons := map[*kgo.Record]error{}
	for _, f := range pe.Failed {
		reasons[f.Record] = f.Err
	}
	if !errors.Is(reasons[big], producer.ErrRecordTooLarge) || !errors.Is(reasons[big], kerr.MessageTooLarge) {
		t.Errorf("big record: %v", reasons[big])
	}
	if !errors.Is(reasons[missing], producer.ErrUnknownTopic) {
		t.Errorf("missing topic: %v", reasons[missing])
	}
	if reasons[good] != nil || good.Offset != 0 {
		t.Errorf("good record: err %v offset %d", reasons[good], good.Offset)
	}
	if !errors.Is(err, producer.ErrUnknownTopic) || !errors.Is(err, producer.ErrRecordTooLarge) {
		t.Errorf("errors.Is on the ProduceError misses a reason: %v", err)
	}
	h.mu.Lock()
	if h.ok != 1 || h.fail != 2 {
		t.Errorf("hooks saw %d ok %d failed, want 1 and 2", h.ok, h.fail)
	}
	h.mu.Unlock()
}

// produceErrors makes the fake broker answer every partition of the next n
// produce requests with code.
func produceErrors(c *kfake.Cluster, code int16, n int) {
	left := n
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if left == 0 {
			return nil, nil, false
		}
		left--
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			st.TopicID = rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// TestBrokerErrorsAreTyped answers every produce with one error code: the
// record must fail with the matching sentinel and the kerr code.
func TestBrokerErrorsAreTyped(t *testing.T) {
	for _, tc := range []struct {
		code *kerr.Error
		want error
	}{
		{kerr.NotEnoughReplicas, producer.ErrNotEnoughReplicas},
		{kerr.TopicAuthorizationFailed, eoskit.ErrAccessDenied},
		{kerr.MessageTooLarge, producer.ErrRecordTooLarge},
		{kerr.RecordListTooLarge, producer.ErrRecordTooLarge},
	} {
		t.Run(tc.code.Message, func(t *testing.T) {
			c := fake(t, "t")
			produceErrors(c, tc.code.Code, 100)
			p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{
				kgo.MetadataMinAge(10 * time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond })}}, producer.WithRecordRetries(1))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			err = p.Produce(ctxT(t), &kgo.Record{Topic: "t", Value: []byte("v")})
			if !errors.Is(err, tc.want) || !errors.Is(err, tc.code) {
				t.Fatalf("Produce: %v, want %v and %v", err, tc.want, tc.code)
			}
		})
	}
}

func TestTransactionalIDAuthorizationIsFatal(t *testing.T) {
	c := fake(t, "t")
	c.ControlKey(int16(kmsg.InitProducerID), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := kr.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil, true
	})
	_, err := producer.NewTransactional(ctxT(t), eoskit.Conn{Brokers: c.ListenAddrs()}, "not-mine")
	if !errors.Is(err, eoskit.ErrAccessDenied) || errors.Is(err, eoskit.ErrFenced) {
		t.Fatalf("NewTransactional: %v, want ErrAuthorization (and not ErrFenced)", err)
	}
}

func TestRetriableErrorIsRetried(t *testing.T) {
	c := fake(t, "t")
	produceErrors(c, kerr.NotEnoughReplicas.Code, 2)
	p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs(), KgoOpts: []kgo.Opt{
		kgo.MetadataMinAge(10 * time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond })}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if err := p.Produce(ctxT(t), &kgo.Record{Topic: "t", Value: []byte("v")}); err != nil {
		t.Fatalf("Produce with two transient NOT_ENOUGH_REPLICAS: %v", err)
	}
}

func TestProduceAsyncFlushClose(t *testing.T) {
	c := fake(t, "t")
	p, err := producer.New(eoskit.Conn{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	var mu sync.Mutex
	var ok, failed int
	for range 100 {
		p.ProduceAsync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
			} else {
				ok++
			}
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if ok != 100 || failed != 0 {
		t.Fatalf("after Flush: %d ok, %d failed; want 100, 0", ok, failed)
	}
	mu.Unlock()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	err = p.Produce(ctx, &kgo.Record{Topic: "t"})
	if !errors.Is(err, producer.ErrClosed) {
		t.Fatalf("Produce after Close: %v, want ErrClosed", err)
	}
}
