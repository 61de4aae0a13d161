package verify_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit"
	"github.com/eoskit/eoskit/txn/verify"
)

// fake starts an in-process kfake cluster and returns the options to reach it.
func fake(t *testing.T) []kgo.Opt {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

// connOf is the Conn of the seed brokers in opts.
func connOf(t *testing.T, opts []kgo.Opt) eoskit.Conn {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	return eoskit.Conn{Brokers: cl.OptValue(kgo.SeedBrokers).([]string)}
}

func TestRunFindsAnomaliesOnFake(t *testing.T) {
	opts := fake(t)
	ctx := testCtx(t, time.Minute)
	createTopics(t, opts, 2, "in", "out")
	p0, p1 := writeInput(ctx, t, opts, "in")
	writeAnomalousOutput(ctx, t, opts, "in", "out", p0, p1)
	rep, err := verify.Run(ctx, connOf(t, opts), verify.Config{Input: []string{"in"}, Output: []string{"out"}, Order: true})
	if err != nil {
		t.Fatal(err)
	}
	checkAnomalies(t, rep, "in", "out")
}

func TestRunCleanCopyOnFake(t *testing.T) {
	opts := fake(t)
	ctx := testCtx(t, time.Minute)
	createTopics(t, opts, 2, "in", "out")
	p0, p1 := writeInput(ctx, t, opts, "in")
	writeCleanCopy(ctx, t, opts, "out", p0, p1)
	rep, err := verify.Run(ctx, connOf(t, opts), verify.Config{Input: []string{"in"}, Output: []string{"out"}, Order: true, Identity: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Counts.InputRecords != 22 || rep.Counts.OutputRecords != 22 || rep.Counts.ByHeader != 22 {
		t.Fatalf("want a clean 22-record copy:\n%s", rep)
	}
}

func TestRunWaitsForOutput(t *testing.T) {
	opts := fake(t)
	ctx := testCtx(t, time.Minute)
	createTopics(t, opts, 2, "in", "out")
	p0, p1 := writeInput(ctx, t, opts, "in")
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(300 * time.Millisecond) // the verifier starts before the copy
		writeCleanCopy(ctx, t, opts, "out", p0, p1)
	}()
	rep, err := verify.Run(ctx, connOf(t, opts), verify.Config{Input: []string{"in"}, Output: []string{"out"}, Wait: 30 * time.Second})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Counts.OutputRecords != 22 {
		t.Fatalf("want the copy found once written:\n%s", rep)
	}
}

func TestRunUnknownTopic(t *testing.T) {
	opts := fake(t)
	createTopics(t, opts, 1, "in")
	_, err := verify.Run(testCtx(t, 30*time.Second), connOf(t, opts), verify.Config{Input: []string{"in"}, Output: []string{"nope"}})
	if !errors.Is(err, verify.ErrUnknownTopic) {
		t.Fatalf("got %v, want ErrUnknownTopic", err)
	}
}

func TestRunInvalidConfig(t *testing.T) {
	_, err := verify.Run(testCtx(t, time.Second), eoskit.Conn{}, verify.Config{Input: []string{"a"}})
	var oe *eoskit.OptionError
	if !errors.Is(err, eoskit.ErrInvalidOption) || !errors.As(err, &oe) || len(oe.Problems) != 2 {
		t.Fatalf("got %v", err)
	}
}
