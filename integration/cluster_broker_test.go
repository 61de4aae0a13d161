//go:build integration

package integration_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/integration"
)

// shared is one 3-node cluster (each node broker+controller) for the tests of
// this package that leave it healthy when they return.
var shared *integration.Shared

func TestMain(m *testing.M) {
	shared = integration.StartShared(integration.WithNodes(3))
	integration.AnnounceSuite("integration", shared.Cluster)
	os.Exit(shared.Run(m))
}

func createTopic(t *testing.T, c *integration.Cluster, topic string, partitions int32, rf int16, minISR string) {
	t.Helper()
	cl, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cfgs := map[string]*string{}
	if minISR != "" {
		cfgs["min.insync.replicas"] = &minISR
	}
	resp, err := adm.CreateTopic(integration.Context(t, 30*time.Second), partitions, rf, cfgs, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}

// produceAll produces n records with values prefix-i synchronously and
// returns the values acknowledged and the first error.
func produceAll(ctx context.Context, cl *kgo.Client, topic, prefix string, n int) ([]string, error) {
	var acked []string
	for i := range n {
		v := fmt.Sprintf("%s-%06d", prefix, i)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			return acked, err
		}
		acked = append(acked, v)
	}
	return acked, nil
}

// readAll reads topic from the start until it has read every record below the
// high watermarks, and returns the values.
func readAll(t *testing.T, c *integration.Cluster, topic string) []string {
	t.Helper()
	ctx := integration.Context(t, 60*time.Second)
	cl, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cons, err := c.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var out []string
	for len(want) > 0 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s: %v (still waiting for %v)", topic, err, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, string(r.Value))
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

func TestSingleNodeCluster(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(1))
	if got := c.NodeIDs(); len(got) != 1 {
		t.Fatalf("node IDs %v, want one", got)
	}
	topic := integration.UniqueName(t, "")
	createTopic(t, c, topic, 2, 1, "")
	cl, err := c.NewClient(kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	acked, err := produceAll(integration.Context(t, 30*time.Second), cl, topic, "v", 50)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	assertSameSet(t, acked, readAll(t, c, topic))
}

func TestThreeNodeReplicatedTopic(t *testing.T) {
	c := shared.Cluster
	if got := c.NodeIDs(); len(got) != 3 {
		t.Fatalf("node IDs %v, want three", got)
	}
	topic := integration.UniqueName(t, "")
	createTopic(t, c, topic, 3, 3, "2")

	cl, err := c.NewClient(kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := integration.Context(t, 30*time.Second)
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range td[topic].Partitions.Sorted() {
		if len(p.Replicas) != 3 || len(p.ISR) != 3 {
			t.Fatalf("partition %d: replicas %v ISR %v, want 3 of each", p.Partition, p.Replicas, p.ISR)
		}
	}
	// Each broker applies the metadata log on its own: the broker that
	// answers may not know the new topic's configs yet (seen once in CI:
	// an empty answer right after the create). Ask until it does.
	var got string
	for got != "2" {
		rc, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		v, err := rc.On(topic, nil)
		if err == nil && v.Err == nil {
			got = configValue(v.Configs, "min.insync.replicas")
		}
		if got != "2" {
			select {
			case <-ctx.Done():
				t.Fatalf("min.insync.replicas = %q (describe error %v), want 2", got, errors.Join(err, v.Err))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	acked, err := produceAll(ctx, cl, topic, "r", 100)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	assertSameSet(t, acked, readAll(t, c, topic))
}

func configValue(cs []kadm.Config, key string) string {
	for _, c := range cs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// TestKillOneBrokerOfThree runs on the shared combined-node cluster: with one
// node of three killed (quorum intact), acks=all produce still succeeds.
func TestKillOneBrokerOfThree(t *testing.T) {
	c := shared.Cluster
	topic := integration.UniqueName(t, "")
	createTopic(t, c, topic, 3, 3, "2")
	cl, err := c.NewClient(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := integration.Context(t, 3*time.Minute)
	before, err := produceAll(ctx, cl, topic, "before", 50)
	if err != nil {
		t.Fatalf("produce before kill: %v", err)
	}
	if err := c.Kill(ctx, 3); err != nil {
		t.Fatal(err)
	}
	during, err := produceAll(ctx, cl, topic, "during", 50)
	if err != nil {
		t.Fatalf("acks=all produce with one broker of three down: %v", err)
	}
	if err := c.Start(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	assertSameSet(t, append(before, during...), readAll(t, c, topic))
}

// TestTwoBrokersDown uses a cluster with a dedicated controller, so the quorum
// survives two broker failures and ISRs shrink: the third acks=all write to a
// min.insync.replicas=2 topic must fail with NOT_ENOUGH_REPLICAS, and every
// acknowledged record must survive the restarts. (With combined nodes, two
// failures also lose the KRaft quorum: ISRs cannot shrink and writes time out.)
func TestTwoBrokersDown(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(3), integration.WithDedicatedController())
	topic := integration.UniqueName(t, "")
	createTopic(t, c, topic, 3, 3, "2")
	ctx := integration.Context(t, 4*time.Minute)
	cl, err := c.NewClient(kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	acked, err := produceAll(ctx, cl, topic, "a", 100)
	if err != nil {
		t.Fatalf("produce with all brokers up: %v", err)
	}
	if err := c.Kill(ctx, 3); err != nil {
		t.Fatal(err)
	}
	more, err := produceAll(ctx, cl, topic, "b", 100)
	acked = append(acked, more...)
	if err != nil {
		t.Fatalf("produce with one broker down: %v", err)
	}
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Once the controller has fenced the dead brokers, every ISR is just
	// broker 1: below min.insync.replicas=2.
	waitFor(t, ctx, "ISRs shrunk to broker 1", func() bool {
		td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
		if err != nil || td[topic].Err != nil {
			return false
		}
		for _, p := range td[topic].Partitions {
			if len(p.ISR) != 1 || p.Leader != 1 {
				return false
			}
		}
		return true
	})
	// A producer that gives up after one retry shows the broker's answer.
	quick, err := c.NewClient(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer quick.Close()
	began := time.Now()
	failed, err := produceAll(ctx, quick, topic, "c", 20)
	acked = append(acked, failed...)
	switch {
	case err == nil:
		t.Fatalf("acks=all produce with two of three brokers down succeeded; want NOT_ENOUGH_REPLICAS")
	case !errors.Is(err, kerr.NotEnoughReplicas) && !errors.Is(err, kerr.NotEnoughReplicasAfterAppend):
		t.Fatalf("acks=all produce with two of three brokers down: %v; want NOT_ENOUGH_REPLICAS", err)
	}
	t.Logf("produce failed after %v with %v (%d acknowledged before)", time.Since(began).Round(time.Millisecond), err, len(failed))
	for _, id := range []int32{2, 3} {
		if err := c.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := produceAll(ctx, cl, topic, "d", 50)
	if err != nil {
		t.Fatalf("produce after restart: %v", err)
	}
	acked = append(acked, after...)
	got := readAll(t, c, topic)
	assertContainsAll(t, got, acked)
	assertNoDuplicates(t, got)
}

// TestPauseResume freezes a node: it stops answering, the controller fences it
// and shrinks ISRs; after Resume it rejoins and the cluster is healthy again.
// On containers it runs twice: with the engine's freezer and with the SIGSTOP
// fallback Pause uses when the freezer fails.
func TestPauseResume(t *testing.T) {
	c := shared.Cluster
	t.Run("freezer", func(t *testing.T) { pauseResume(t, c) })
	if c.Backend() != integration.BackendContainers {
		return
	}
	t.Run("sigstop-fallback", func(t *testing.T) {
		if !integration.SetSignalPause(c, true) {
			t.Fatal("containers backend refused the SIGSTOP fallback")
		}
		defer integration.SetSignalPause(c, false)
		pauseResume(t, c)
	})
}

func pauseResume(t *testing.T, c *integration.Cluster) {
	topic := integration.UniqueName(t, "")
	createTopic(t, c, topic, 3, 3, "2")
	ctx := integration.Context(t, 3*time.Minute)
	addr, err := c.BrokerAddr(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Pause(ctx, 2); err != nil {
		t.Fatal(err)
	}
	paused := true
	defer func() {
		if paused {
			_ = c.Resume(context.Background(), 2)
		}
	}()
	// A request sent only to the paused broker gets no answer.
	direct, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = kadm.NewClient(direct).ApiVersions(rctx)
	cancel()
	direct.Close()
	if err == nil {
		t.Fatalf("paused broker %s answered ApiVersions", addr)
	}
	// The controller fences the silent broker and shrinks the ISRs it was in.
	waitFor(t, ctx, "broker 2 fenced and out of the ISRs", func() bool {
		h, err := c.CheckHealth(ctx)
		return err == nil && !contains(h.Brokers, 2) && len(h.UnderReplicated) > 0
	})
	if err := c.Resume(ctx, 2); err != nil {
		t.Fatal(err)
	}
	paused = false
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := c.CheckHealth(ctx)
	if err != nil || len(h.Brokers) != 3 {
		t.Fatalf("after resume: %+v %v", h, err)
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	if _, err := awaitState(ctx, func() (bool, string) { return cond(), "" }); err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// awaitState polls cond every 250 ms until it holds and, when ctx ends
// first, returns what cond last said it saw.
func awaitState(ctx context.Context, cond func() (bool, string)) (string, error) {
	for {
		ok, saw := cond()
		if ok {
			return saw, nil
		}
		select {
		case <-ctx.Done():
			return saw, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func contains(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func assertSameSet(t *testing.T, want, got []string) {
	t.Helper()
	assertContainsAll(t, got, want)
	assertNoDuplicates(t, got)
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
}

func assertContainsAll(t *testing.T, got, want []string) {
	t.Helper()
	have := map[string]bool{}
	for _, v := range got {
		have[v] = true
	}
	for _, v := range want {
		if !have[v] {
			t.Fatalf("acknowledged record %q was lost (read %d records)", v, len(got))
		}
	}
}

func assertNoDuplicates(t *testing.T, got []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, v := range got {
		if seen[v] {
			t.Fatalf("record %q read twice", v)
		}
		seen[v] = true
	}
}

// TestLogsKept: every broker's log is readable (and printed when a test fails).
func TestLogsKept(t *testing.T) {
	ctx := integration.Context(t, 30*time.Second)
	for _, id := range shared.NodeIDs() {
		out, err := shared.Logs(ctx, id)
		if err != nil {
			t.Fatalf("logs of node %d: %v", id, err)
		}
		if !strings.Contains(string(out), "Kafka Server started") {
			t.Fatalf("log of node %d (%d bytes) lacks the start line", id, len(out))
		}
	}
	if tail := shared.LogTail(ctx, 5); strings.Count(tail, "\n") < 3*6 {
		t.Fatalf("log tail too short:\n%s", tail)
	}
}

// TestStartFailsFastWhenABrokerCannotStart: a broker that exits during start-up
// (here: an invalid property) fails StartCluster with its log, not a timeout.
func TestStartFailsFastWhenABrokerCannotStart(t *testing.T) {
	ctx := integration.Context(t, 2*time.Minute)
	began := time.Now()
	c, err := integration.StartCluster(ctx, integration.WithNodes(1),
		integration.WithBrokerConfig("num.network.threads", "not-a-number"))
	if err == nil {
		c.Close()
		t.Fatal("StartCluster succeeded with an invalid broker property")
	}
	if !strings.Contains(err.Error(), "exited during start-up") || !strings.Contains(err.Error(), "num.network.threads") {
		t.Fatalf("error does not name the exit and the bad property: %v", err)
	}
	t.Logf("failed after %v", time.Since(began).Round(time.Millisecond))
}
