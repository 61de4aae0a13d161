//go:build integration

package integration_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eoskit/eoskit/integration"
)

// TestNetworkFaults runs every network fault on one 3-node cluster whose
// links all go through proxies. Each subtest heals the network and waits for
// a healthy cluster before it returns.
func TestNetworkFaults(t *testing.T) {
	began := time.Now()
	c := integration.Start(t, integration.WithNodes(3), integration.WithNetworkFaults())
	t.Logf("cluster with network faults started in %v on %s", time.Since(began).Round(time.Millisecond), c.Backend())
	net := c.Network()
	if net == nil {
		t.Fatal("Network() is nil on a cluster started WithNetworkFaults")
	}
	if got := len(net.Links()); got != 15 {
		t.Fatalf("%d links, want 15 (3 client, 6 broker, 6 controller)", got)
	}
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *integration.Cluster)
	}{
		{"AdvertisedAddressesAreProxies", testAdvertisedAddressesAreProxies},
		{"IsolateLeader", testIsolateLeader},
		{"PartitionShrinksISR", testPartitionShrinksISR},
		{"CutClientsReplicationContinues", testCutClients},
		{"CutAnswersLosesOnlyTheAnswer", testCutAnswers},
		{"Latency", testLatency},
		{"ResetAfter", testResetAfter},
		{"Bandwidth", testBandwidth},
		{"KillStartKeepsProxies", testKillStartKeepsProxies},
		{"HTTPControl", testHTTPControl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			began := time.Now()
			defer func() {
				ctx := integration.Context(t, 3*time.Minute)
				if err := net.Heal(ctx); err != nil {
					t.Errorf("heal: %v", err)
				}
				if err := c.WaitHealthy(ctx); err != nil {
					t.Fatalf("after heal: %v", err)
				}
				t.Logf("took %v, healed and healthy included", time.Since(began).Round(time.Millisecond))
			}()
			tc.run(t, c)
		})
	}
}

// createAssigned creates a topic whose partition i has the replicas
// assignment[i]; the first replica is the leader once the topic exists.
func createAssigned(t *testing.T, c *integration.Cluster, topic, minISR string, assignment ...[]int32) {
	t.Helper()
	ctx := integration.Context(t, 30*time.Second)
	cl, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for i, replicas := range assignment {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(i), replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "min.insync.replicas", kmsg.StringPtr(minISR)
	rt.Configs = append(rt.Configs, cfg)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	// Wait until every broker knows the topic with full ISRs.
	waitFor(t, ctx, "topic "+topic+" fully replicated", func() bool {
		for _, id := range c.NodeIDs() {
			st, err := partitionStates(ctx, cl, id, topic)
			if err != nil || len(st) != len(assignment) {
				return false
			}
			for p, s := range st {
				if len(s.ISR) != len(assignment[p]) || s.Leader != assignment[p][0] {
					return false
				}
			}
		}
		return true
	})
}

type partState struct {
	Leader int32
	ISR    []int32
}

// partitionStates asks broker id alone for topic's partitions.
func partitionStates(ctx context.Context, cl *kgo.Client, id int32, topic string) (map[int32]partState, error) {
	rctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(rctx, cl.Broker(int(id)))
	if err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		return nil, fmt.Errorf("broker %d: topic %s unknown", id, topic)
	}
	out := map[int32]partState{}
	for _, p := range resp.Topics[0].Partitions {
		isr := slices.Clone(p.ISR)
		slices.Sort(isr)
		out[p.Partition] = partState{Leader: p.Leader, ISR: isr}
	}
	return out, nil
}

// waitCluster waits for cond; when ctx ends first it fails the test with
// what cond last saw, the KRaft quorum as brokers 2 and 3 report it and every
// link's faults and traffic, so that a fault that had no effect can be told
// from a cluster that did not react.
func waitCluster(t *testing.T, ctx context.Context, c *integration.Cluster, cl *kgo.Client, what string, cond func() (bool, string)) {
	t.Helper()
	saw, err := awaitState(ctx, cond)
	if err == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range []int32{2, 3} {
		p, qerr := describeQuorum(dctx, cl, id)
		if qerr != nil {
			t.Logf("KRaft quorum via broker %d: %v", id, qerr)
			continue
		}
		var voters []string
		for _, v := range p.CurrentVoters {
			voters = append(voters, fmt.Sprintf("%d@%d", v.ReplicaID, v.LogEndOffset))
		}
		t.Logf("KRaft quorum via broker %d: leader %d epoch %d high watermark %d voters %v",
			id, p.LeaderID, p.LeaderEpoch, p.HighWatermark, voters)
	}
	for _, l := range c.Network().Links() {
		t.Logf("%-18s faults %v connections %3d open %d request %8d response %8d bytes", l.Name, l.Faults, l.Connections, l.Open, l.RequestBytes, l.ResponseBytes)
	}
	t.Fatalf("timed out waiting for %s; last seen: %s", what, saw)
}

// describeQuorum asks broker id (which forwards to the active controller)
// for the KRaft metadata partition's quorum.
func describeQuorum(ctx context.Context, cl *kgo.Client, id int32) (kmsg.DescribeQuorumResponseTopicPartition, error) {
	rctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(rctx, cl.Broker(int(id)))
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err == nil && (len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1) {
		err = fmt.Errorf("broker %d: DescribeQuorum answered %d topics", id, len(resp.Topics))
	}
	if err != nil {
		return kmsg.DescribeQuorumResponseTopicPartition{}, err
	}
	p := resp.Topics[0].Partitions[0]
	return p, kerr.ErrorForCode(p.ErrorCode)
}

// assertControllerTrafficProxied checks that every other node reaches the
// KRaft leader through its proxy: a follower fetches from the leader at
// least every fetch wait, so each controller:N->leader link must carry new
// bytes both ways. A node that learned the leader's real address (from the
// endpoints the leader advertises) would leave its link idle.
func assertControllerTrafficProxied(t *testing.T, ctx context.Context, c *integration.Cluster, cl *kgo.Client) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	leader := int32(-1)
	before := map[string]integration.LinkStats{}
	saw, err := awaitState(wctx, func() (bool, string) {
		p, err := describeQuorum(wctx, cl, 2)
		if err != nil {
			return false, fmt.Sprintf("describe the KRaft quorum: %v", err)
		}
		if p.LeaderID != leader { // (again, if an election ran meanwhile)
			leader = p.LeaderID
			clear(before)
			for _, id := range c.NodeIDs() {
				if id != leader {
					name := fmt.Sprintf("controller:%d->%d", id, leader)
					before[name] = link(t, c, name)
				}
			}
			return false, fmt.Sprintf("KRaft leader %d: no traffic measured yet", leader)
		}
		var idle []string
		for name, b := range before {
			if l := link(t, c, name); l.RequestBytes <= b.RequestBytes || l.ResponseBytes <= b.ResponseBytes {
				idle = append(idle, name)
			}
		}
		slices.Sort(idle)
		return len(idle) == 0, fmt.Sprintf("KRaft leader %d: links %s carried nothing new", leader, strings.Join(idle, ", "))
	})
	if err != nil {
		t.Fatalf("%s: their node reaches the leader around the proxy", saw)
	}
}

// newClient returns a client that learns the cluster's brokers (so that
// cl.Broker(id) works) and gives up on unanswered requests quickly.
func newClient(t *testing.T, c *integration.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{kgo.RequestTimeoutOverhead(3 * time.Second), kgo.ProduceRequestTimeout(3 * time.Second),
		kgo.RetryTimeout(5 * time.Second), kgo.MetadataMinAge(250 * time.Millisecond)}, opts...)
	cl, err := c.NewClient(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx := integration.Context(t, 30*time.Second)
	if _, err := kadm.NewClient(cl).BrokerMetadata(ctx); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	return cl
}

func link(t *testing.T, c *integration.Cluster, name string) integration.LinkStats {
	t.Helper()
	l, err := c.Network().Link(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testAdvertisedAddressesAreProxies(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, time.Minute)
	topic := integration.UniqueName(t, "")
	createAssigned(t, c, topic, "2", []int32{1, 2, 3}, []int32{2, 3, 1}, []int32{3, 1, 2})
	before := map[string]integration.LinkStats{}
	proxies, real := map[string]bool{}, map[string]bool{}
	for _, l := range c.Network().Links() {
		before[l.Name] = l
		proxies[l.Listen] = true
		real[l.Upstream] = true
	}
	cl := newClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()))
	// Every broker's metadata names only client proxies.
	for _, id := range c.NodeIDs() {
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl.Broker(int(id)))
		if err != nil {
			t.Fatalf("metadata from broker %d: %v", id, err)
		}
		for _, b := range resp.Brokers {
			addr := fmt.Sprintf("%s:%d", b.Host, b.Port)
			want := link(t, c, fmt.Sprintf("client:%d", b.NodeID)).Listen
			if addr != want || real[addr] || !proxies[addr] {
				t.Fatalf("broker %d advertises broker %d at %s, want its client proxy %s", id, b.NodeID, addr, want)
			}
		}
	}
	for i, addr := range c.Bootstrap() {
		if want := link(t, c, fmt.Sprintf("client:%d", i+1)).Listen; addr != want {
			t.Fatalf("Bootstrap()[%d] = %s, want the client proxy %s", i, addr, want)
		}
	}
	acked, err := produceAll(ctx, cl, topic, "p", 300)
	if err != nil {
		t.Fatalf("produce through the proxies: %v", err)
	}
	assertSameSet(t, acked, readAll(t, c, topic))
	// Every client link carried the produce and fetch traffic; every follower
	// fetched records from every leader through its broker link.
	intoController := map[int32]int{} // controller → links into it that carried both ways
	for _, l := range c.Network().Links() {
		t.Logf("%-18s connections %3d open %d request %8d response %8d bytes", l.Name, l.Connections, l.Open, l.RequestBytes, l.ResponseBytes)
		if l.Kind == integration.LinkController {
			if l.RequestBytes > 0 && l.ResponseBytes > 0 {
				intoController[l.To]++
			}
			continue
		}
		b := before[l.Name]
		if l.Connections == 0 || l.RequestBytes <= b.RequestBytes || l.ResponseBytes <= b.ResponseBytes {
			t.Errorf("link %s: %d connections, request bytes %d -> %d, response bytes %d -> %d: want traffic",
				l.Name, l.Connections, b.RequestBytes, l.RequestBytes, b.ResponseBytes, l.ResponseBytes)
		}
	}
	// The KRaft leader is fetched from, and heartbeated to, by both other
	// nodes through its controller links (a follower controller may see no
	// traffic at all once the leader is elected).
	if !slices.Contains(slices.Collect(maps.Values(intoController)), 2) {
		t.Errorf("no controller has traffic on its links from both other nodes: %v", intoController)
	}
}

// isolateLeader creates a topic led by node 1 (RF 3, min.insync.replicas
// 2), produces 20 records with acks=all through the proxies and isolates
// node 1. It returns the client and the records acknowledged.
func isolateLeader(t *testing.T, ctx context.Context, c *integration.Cluster, topic string) (*kgo.Client, []string) {
	t.Helper()
	createAssigned(t, c, topic, "2", []int32{1, 2, 3})
	cl := newClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(90*time.Second))
	acked, err := produceAll(ctx, cl, topic, "before", 20)
	if err != nil {
		t.Fatalf("produce before isolating: %v", err)
	}
	if err := c.Network().Isolate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return cl, acked
}

func testIsolateLeader(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, 3*time.Minute)
	topic := integration.UniqueName(t, "")
	cl, acked := isolateLeader(t, ctx, c, topic)
	began := time.Now()
	var st map[int32]partState
	waitCluster(t, ctx, c, cl, "a new leader without node 1 in the ISR, as brokers 2 and 3 see it", func() (bool, string) {
		var saw []string
		for _, id := range []int32{2, 3} {
			s, err := partitionStates(ctx, cl, id, topic)
			saw = append(saw, fmt.Sprintf("broker %d: %v %v", id, s, err))
			if err != nil || s[0].Leader == 1 || s[0].Leader < 0 || slices.Contains(s[0].ISR, 1) {
				return false, strings.Join(saw, "; ")
			}
			st = s
		}
		return true, ""
	})
	t.Logf("leader moved from 1 to %d (ISR %v) %v after Isolate(1)", st[0].Leader, st[0].ISR, time.Since(began).Round(time.Millisecond))
	during, err := produceAll(ctx, cl, topic, "during", 20)
	if err != nil {
		t.Fatalf("acks=all produce with the old leader isolated: %v", err)
	}
	acked = append(acked, during...)
	if l := link(t, c, "client:1"); !slices.Equal(l.Faults, []string{"cut"}) {
		t.Fatalf("client:1 faults %v, want cut", l.Faults)
	}
	if err := c.Network().Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	// The isolation made node 1's followers elect a new KRaft leader, or
	// fence broker 1 at the leader: either way they learned leader
	// endpoints afresh.
	assertControllerTrafficProxied(t, ctx, c, cl)
	got := readAll(t, c, topic)
	assertSameSet(t, acked, got)
}

func testPartitionShrinksISR(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, 3*time.Minute)
	topic := integration.UniqueName(t, "")
	createAssigned(t, c, topic, "2", []int32{1, 2, 3}, []int32{2, 1, 3})
	cl := newClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(90*time.Second))
	if err := c.Network().Partition(ctx, []int32{1}, []int32{2, 3}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	// Node 1 leads partition 0 and follows partition 1: it loses the
	// controller quorum and stops fetching, so both ISRs shrink to {2,3}.
	waitCluster(t, ctx, c, cl, "ISRs without node 1 on brokers 2 and 3", func() (bool, string) {
		for _, id := range []int32{2, 3} {
			s, err := partitionStates(ctx, cl, id, topic)
			if err != nil {
				return false, fmt.Sprintf("broker %d: %v", id, err)
			}
			for _, p := range s {
				if !slices.Equal(p.ISR, []int32{2, 3}) || p.Leader == 1 {
					return false, fmt.Sprintf("broker %d: %v", id, s)
				}
			}
		}
		return true, ""
	})
	t.Logf("ISRs shrank to [2 3] %v after Partition({1},{2,3})", time.Since(began).Round(time.Millisecond))
	// The majority side still takes acks=all writes (min.insync.replicas=2).
	acked, err := produceAll(ctx, cl, topic, "majority", 20)
	if err != nil {
		t.Fatalf("acks=all produce on the majority side: %v", err)
	}
	for _, name := range []string{"broker:1->2", "broker:2->1", "controller:1->3", "controller:3->1"} {
		if l := link(t, c, name); !slices.Equal(l.Faults, []string{"cut"}) {
			t.Fatalf("link %s faults %v, want cut", name, l.Faults)
		}
	}
	for _, name := range []string{"client:1", "broker:2->3", "controller:2->3"} {
		if l := link(t, c, name); len(l.Faults) != 0 {
			t.Fatalf("link %s faults %v, want none", name, l.Faults)
		}
	}
	if err := c.Network().Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := partitionStates(ctx, cl, 1, topic)
	if err != nil || !slices.Equal(s[0].ISR, []int32{1, 2, 3}) {
		t.Fatalf("after heal, broker 1 sees %v %v; want ISR [1 2 3]", s, err)
	}
	assertSameSet(t, acked, readAll(t, c, topic))
}

func testCutClients(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, 3*time.Minute)
	topic := integration.UniqueName(t, "")
	// Node 3 leads partition 0 and follows partition 1, led by node 1.
	createAssigned(t, c, topic, "2", []int32{3, 1, 2}, []int32{1, 2, 3})
	cl := newClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	// (An idempotent producer never times out a request that may have been
	// written: this one is not idempotent, so that its records do time out.)
	quick := newClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableIdempotentWrite(), kgo.RecordDeliveryTimeout(8*time.Second))
	if err := c.Network().CutClients(ctx, 3); err != nil {
		t.Fatal(err)
	}
	// A client that knows only node 3 cannot reach it; its real port answers.
	addr, err := c.BrokerAddr(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := apiVersions(ctx, addr); err == nil {
		t.Fatalf("ApiVersions through node 3's cut client proxy %s answered", addr)
	}
	if err := apiVersions(ctx, link(t, c, "client:3").Upstream); err != nil {
		t.Fatalf("ApiVersions on node 3's real client listener: %v (the broker itself must be up)", err)
	}
	// Produce to node 3's partition fails; produce to node 1's partition
	// succeeds with acks=all, node 3 replicating it through broker:3->1.
	began := time.Now()
	err = quick.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("to-cut-leader")}).FirstErr()
	if err == nil {
		t.Fatal("produce to a partition led by a broker cut from clients succeeded")
	}
	t.Logf("produce to node 3's partition failed after %v: %v", time.Since(began).Round(time.Millisecond), err)
	repl := link(t, c, "broker:3->1")
	var acked []string
	for i := range 50 {
		v := fmt.Sprintf("cut-%03d", i)
		r := &kgo.Record{Topic: topic, Partition: 1, Value: []byte(strings.Repeat(v, 100))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("acks=all produce to node 1's partition while clients are cut from node 3: %v", err)
		}
		acked = append(acked, string(r.Value))
	}
	after := link(t, c, "broker:3->1")
	if grew := after.ResponseBytes - repl.ResponseBytes; grew < 50*700 {
		t.Fatalf("broker:3->1 carried %d bytes of fetch responses during the produce, want at least the %d bytes of records", grew, 50*700)
	}
	s, err := partitionStates(ctx, cl, 1, topic)
	if err != nil || !slices.Equal(s[1].ISR, []int32{1, 2, 3}) {
		t.Fatalf("partition 1 as broker 1 sees it: %v %v; want node 3 still in the ISR", s, err)
	}
	if err := c.Network().Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := apiVersions(ctx, addr); err != nil {
		t.Fatalf("ApiVersions through node 3's proxy after heal: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("healed")}).FirstErr(); err != nil {
		t.Fatalf("produce to node 3's partition after heal: %v", err)
	}
	got := readAll(t, c, topic)
	assertContainsAll(t, got, append(acked, "healed"))
}

// testCutAnswers: with the answers from the leader cut, a produce fails on
// the client, yet the broker wrote it: the outcome a client cannot know.
func testCutAnswers(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, 2*time.Minute)
	topic := integration.UniqueName(t, "")
	createAssigned(t, c, topic, "2", []int32{2, 3, 1})
	// Not idempotent, so that the record times out on the client.
	cl := newClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordDeliveryTimeout(8*time.Second))
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("answered")}).FirstErr(); err != nil {
		t.Fatalf("produce before: %v", err)
	}
	if err := c.Network().CutAnswers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Answers already past the cut when it was set (in flight) still arrive:
	// count from once the link is quiet.
	before := link(t, c, "client:2")
	for settled, i := false, 0; !settled && i < 25; i++ {
		time.Sleep(200 * time.Millisecond)
		now := link(t, c, "client:2")
		settled, before = now.ResponseBytes == before.ResponseBytes, now
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("answer-lost")}).FirstErr()
	if err == nil {
		t.Fatal("produce whose answer was cut succeeded on the client")
	}
	t.Logf("produce with the answer cut: %v", err)
	during := link(t, c, "client:2")
	if during.RequestBytes <= before.RequestBytes || during.ResponseBytes != before.ResponseBytes {
		t.Fatalf("client:2 request bytes %d -> %d, answer bytes %d -> %d: want requests delivered, no answer",
			before.RequestBytes, during.RequestBytes, before.ResponseBytes, during.ResponseBytes)
	}
	if err := c.Network().Heal(ctx); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, c, topic)
	lost := 0
	for _, v := range got {
		if v == "answer-lost" {
			lost++
		}
	}
	// Each retry of the non-idempotent producer may have written it again.
	if lost == 0 || !slices.Contains(got, "answered") {
		t.Fatalf("read %v: want the record whose answer was lost written (at least once)", got)
	}
	t.Logf("the record whose answer was lost was written %d time(s)", lost)
}

// apiVersions asks exactly the broker at addr, without retries.
func apiVersions(ctx context.Context, addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.RetryTimeout(time.Second),
		kgo.RequestTimeoutOverhead(2*time.Second), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = kmsg.NewPtrApiVersionsRequest().RequestWith(rctx, cl.SeedBrokers()[0])
	return err
}

// roundTrips measures n ApiVersions round trips to broker id on cl's open connection.
func roundTrips(ctx context.Context, t *testing.T, cl *kgo.Client, id int32, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for range n {
		began := time.Now()
		if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl.Broker(int(id))); err != nil {
			t.Fatalf("ApiVersions to broker %d: %v", id, err)
		}
		out = append(out, time.Since(began))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func testLatency(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, time.Minute)
	cl := newClient(t, c)
	base := roundTrips(ctx, t, cl, 2, 9)
	const d = 100 * time.Millisecond
	if err := c.Network().Latency(ctx, d, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	slow := roundTrips(ctx, t, cl, 2, 9)
	// Each way is delayed by d ± 20 ms: a round trip by at least 2·(d - 20ms).
	if added := slow[0] - base[len(base)-1]; added < d {
		t.Fatalf("fastest round trip with %v latency %v, slowest without %v: added %v, want at least %v", d, slow[0], base[len(base)-1], added, d)
	}
	t.Logf("ApiVersions round trip: median %v without, %v with %v±20ms latency on every link", base[4], slow[4], d)
	for _, l := range c.Network().Links() {
		if !slices.Equal(l.Faults, []string{"latency"}) {
			t.Fatalf("link %s faults %v, want latency", l.Name, l.Faults)
		}
	}
}

// testBandwidth: with broker 2's links limited to 16 KB/s, a 17 KB
// request to it takes over a second and is still answered in full (a slow
// link, not a cut one); only broker 2's links carry the fault.
func testBandwidth(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, time.Minute)
	cl := newClient(t, c, kgo.RequestTimeoutOverhead(30*time.Second))
	req := bigMetadataRequest()
	began := time.Now()
	resp, err := req.RequestWith(ctx, cl.Broker(2))
	if err != nil || len(resp.Topics) != len(req.Topics) {
		t.Fatalf("17 KB metadata request to broker 2 before the limit: %v (want %d topics answered)", err, len(req.Topics))
	}
	fast := time.Since(began)
	const kbPerSecond = 16
	if err := c.Network().Bandwidth(ctx, kbPerSecond, 2); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	resp, err = req.RequestWith(ctx, cl.Broker(2))
	slow := time.Since(began)
	if err != nil || len(resp.Topics) != len(req.Topics) {
		t.Fatalf("17 KB metadata request to broker 2 at %d KB/s: %v, want it answered in full (%d topics)", kbPerSecond, err, len(req.Topics))
	}
	// 17 KB at 16 KB/s is over a second for the request alone.
	if slow < 800*time.Millisecond {
		t.Fatalf("17 KB request through a %d KB/s link took %v (%v without the limit), want at least 800ms", kbPerSecond, slow, fast)
	}
	t.Logf("17 KB metadata request to broker 2: %v without, %v at %d KB/s", fast, slow, kbPerSecond)
	for _, l := range c.Network().Links() {
		limited := l.From == 2 || l.To == 2
		if got := slices.Equal(l.Faults, []string{"bandwidth"}); got != limited {
			t.Fatalf("link %s faults %v: want bandwidth exactly on broker 2's links", l.Name, l.Faults)
		}
	}
}

// bigMetadataRequest names 400 topics of 40 characters: a request of about
// 17 KB, none of them created (no auto-creation).
func bigMetadataRequest() *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	for i := range 400 {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(fmt.Sprintf("reset-after-no-such-topic-%014d", i))
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = false
	return req
}

func testResetAfter(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, time.Minute)
	cl := newClient(t, c, kgo.RequestRetries(0))
	addr, err := c.BrokerAddr(2)
	if err != nil {
		t.Fatal(err)
	}
	before := link(t, c, "client:2")
	// Small requests and answers (the connection's ApiVersions) fit in 8 KB;
	// a 17 KB request does not: its connection ends mid-request.
	if err := c.Network().ResetAfter(ctx, 8192, 2); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = bigMetadataRequest().RequestWith(rctx, cl.Broker(2))
	cancel()
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("17 KB request through a link reset after 8 KB: %v, want the connection closed", err)
	}
	t.Logf("17 KB metadata request to broker 2 with ResetAfter(8192): %v", err)
	if err := apiVersions(ctx, addr); err != nil {
		t.Fatalf("ApiVersions (small) through the same link: %v", err)
	}
	after := link(t, c, "client:2")
	if after.Connections <= before.Connections {
		t.Fatalf("client:2 connections %d -> %d, want new ones after the reset", before.Connections, after.Connections)
	}
	if err := c.Network().Heal(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := bigMetadataRequest().RequestWith(rctx, cl.Broker(2)); err != nil {
		t.Fatalf("17 KB request after heal: %v", err)
	}
}

func testKillStartKeepsProxies(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, 3*time.Minute)
	topic := integration.UniqueName(t, "")
	createAssigned(t, c, topic, "2", []int32{2, 3, 1})
	before := link(t, c, "client:2")
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	after := link(t, c, "client:2")
	if after.Listen != before.Listen {
		t.Fatalf("client:2 proxy moved from %s to %s across a restart", before.Listen, after.Listen)
	}
	cl := newClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(90*time.Second))
	acked, err := produceAll(ctx, cl, topic, "restarted", 20)
	if err != nil {
		t.Fatalf("produce after restarting node 2: %v", err)
	}
	for _, id := range c.NodeIDs() {
		s, err := partitionStates(ctx, cl, id, topic)
		if err != nil || !slices.Equal(s[0].ISR, []int32{1, 2, 3}) {
			t.Fatalf("broker %d sees %v %v, want ISR [1 2 3] after the restart", id, s, err)
		}
	}
	assertSameSet(t, acked, readAll(t, c, topic))
}

func testHTTPControl(t *testing.T, c *integration.Cluster) {
	ctx := integration.Context(t, 3*time.Minute)
	srv := httptest.NewServer(c.Network().Handler())
	defer srv.Close()
	post := func(path string) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, body)
		}
	}
	topic := integration.UniqueName(t, "")
	createAssigned(t, c, topic, "1", []int32{3}) // on node 3 alone
	// Not idempotent, so that a record sent to the isolated node times out.
	cl := newClient(t, c, kgo.DisableIdempotentWrite(), kgo.RecordDeliveryTimeout(8*time.Second))
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce before isolating: %v", err)
	}
	post("/isolate/3")
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("isolated")}).FirstErr(); err == nil {
		t.Fatal("produce to a partition whose only replica is on an isolated node succeeded")
	} else {
		t.Logf("produce to isolated node 3: %v", err)
	}
	post("/heal")
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	healed := newClient(t, c, kgo.RecordDeliveryTimeout(60*time.Second))
	if err := healed.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("healed")}).FirstErr(); err != nil {
		t.Fatalf("produce after POST /heal: %v", err)
	}
	got := readAll(t, c, topic)
	assertContainsAll(t, got, []string{"before", "healed"})
	if slices.Contains(got, "isolated") {
		t.Fatalf("the record whose produce failed was written: %v", got)
	}
}

// TestNetworkFaultsDedicatedController wires the faults around a dedicated
// controller: brokers reach it only through their controller links, so
// isolating a broker gets it fenced and its partitions' leadership moves.
func TestNetworkFaultsDedicatedController(t *testing.T) {
	c := integration.Start(t, integration.WithNodes(3), integration.WithDedicatedController(), integration.WithNetworkFaults())
	if got := len(c.Network().Links()); got != 12 {
		t.Fatalf("%d links, want 12 (3 client, 6 broker, 3 controller)", got)
	}
	ctx := integration.Context(t, 3*time.Minute)
	topic := integration.UniqueName(t, "")
	cl, acked := isolateLeader(t, ctx, c, topic)
	waitCluster(t, ctx, c, cl, "a leader other than the isolated broker 1", func() (bool, string) {
		s, err := partitionStates(ctx, cl, 2, topic)
		if err != nil || s[0].Leader == 1 || s[0].Leader < 0 || slices.Contains(s[0].ISR, 1) {
			return false, fmt.Sprintf("broker 2: %v %v", s, err)
		}
		return true, ""
	})
	during, err := produceAll(ctx, cl, topic, "during", 20)
	if err != nil {
		t.Fatalf("acks=all produce with broker 1 isolated: %v", err)
	}
	if err := c.Network().Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	assertControllerTrafficProxied(t, ctx, c, cl)
	assertSameSet(t, append(acked, during...), readAll(t, c, topic))
}
