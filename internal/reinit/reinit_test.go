package reinit_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit/internal/reinit"
)

// owner initialises txnID on a fresh kfake cluster and returns the cluster,
// the client and its producer ID and epoch.
func owner(t *testing.T, txnID string) (*kfake.Cluster, *kgo.Client, int64, int16) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID(txnID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	id, epoch, err := cl.ProducerID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c, cl, id, epoch
}

func TestReinit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	answer := func(code int16) func(c *kfake.Cluster, calls *atomic.Int32) {
		return func(c *kfake.Cluster, calls *atomic.Int32) {
			c.ControlKey(int16(kmsg.InitProducerID), func(kr kmsg.Request) (kmsg.Response, error, bool) {
				calls.Add(1)
				resp := kr.ResponseKind().(*kmsg.InitProducerIDResponse)
				resp.ErrorCode = code
				return resp, nil, true
			})
		}
	}
	cases := []struct {
		name   string
		inject []func(*kfake.Cluster, *atomic.Int32) // one control per request, in order
		want   reinit.Outcome
		err    error
	}{
		{name: "bumped", want: reinit.Bumped},
		{name: "fenced", inject: []func(*kfake.Cluster, *atomic.Int32){answer(kerr.ProducerFenced.Code)}, want: reinit.Fenced, err: kerr.ProducerFenced},
		{name: "invalid-epoch", inject: []func(*kfake.Cluster, *atomic.Int32){answer(kerr.InvalidProducerEpoch.Code)}, want: reinit.Fenced, err: kerr.InvalidProducerEpoch},
		{name: "concurrent-then-bumped", inject: []func(*kfake.Cluster, *atomic.Int32){answer(kerr.ConcurrentTransactions.Code), answer(kerr.CoordinatorLoadInProgress.Code)}, want: reinit.Bumped},
		{name: "other-error", inject: []func(*kfake.Cluster, *atomic.Int32){answer(kerr.TransactionalIDAuthorizationFailed.Code)}, want: reinit.Unknown, err: kerr.TransactionalIDAuthorizationFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, cl, id, epoch := owner(t, "txn-"+tc.name)
			var calls atomic.Int32
			for _, inj := range tc.inject {
				inj(c, &calls)
			}
			res := reinit.Reinit(ctx, cl, reinit.Request{TransactionalID: "txn-" + tc.name, Timeout: 10 * time.Second,
				ProducerID: id, Epoch: epoch, Backoff: time.Millisecond})
			if res.Outcome != tc.want {
				t.Fatalf("outcome %v (%v), want %v", res.Outcome, res.Err, tc.want)
			}
			if int(calls.Load()) != len(tc.inject) {
				t.Fatalf("%d injected answers used, want %d", calls.Load(), len(tc.inject))
			}
			if tc.err != nil && !errors.Is(res.Err, tc.err) {
				t.Fatalf("err %v, want %v", res.Err, tc.err)
			}
			if tc.want == reinit.Bumped && (res.ProducerID != id || res.Epoch != epoch+1) {
				t.Fatalf("bumped to producer %d epoch %d, want %d epoch %d", res.ProducerID, res.Epoch, id, epoch+1)
			}
		})
	}
}

// TestReinitGivesUp: CONCURRENT_TRANSACTIONS past the tries is Unknown,
// with the last answer as the cause.
func TestReinitGivesUp(t *testing.T) {
	c, cl, id, epoch := owner(t, "txn-busy")
	var calls atomic.Int32
	c.ControlKey(int16(kmsg.InitProducerID), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		calls.Add(1)
		resp := kr.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.ConcurrentTransactions.Code
		return resp, nil, true
	})
	res := reinit.Reinit(context.Background(), cl, reinit.Request{TransactionalID: "txn-busy", Timeout: 10 * time.Second,
		ProducerID: id, Epoch: epoch, Tries: 3, Backoff: time.Millisecond})
	if res.Outcome != reinit.Unknown || !errors.Is(res.Err, kerr.ConcurrentTransactions) || calls.Load() != 3 {
		t.Fatalf("outcome %v err %v after %d requests, want Unknown, CONCURRENT_TRANSACTIONS, 3", res.Outcome, res.Err, calls.Load())
	}
}
