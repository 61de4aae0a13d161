package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/admin"
)

func TestGroupsRenderGolden(t *testing.T) {
	gs := []admin.Group{
		{Name: "billing", Type: "classic", State: "Stable", ProtocolType: "consumer", Protocol: "cooperative-sticky", Coordinator: 1,
			Members: []admin.GroupMember{
				{MemberID: "billing-1-3f2a", InstanceID: "pod-0", ClientID: "billing-1", ClientHost: "/10.0.0.7",
					Assigned: []admin.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 2}}},
				{MemberID: "billing-2-9c1d", ClientID: "billing-2", ClientHost: "/10.0.0.8", Assigned: []admin.TopicPartition{}}}},
		{Name: "audit", Type: "consumer", State: "Empty", ProtocolType: "consumer", Protocol: "uniform", Coordinator: 2, Members: []admin.GroupMember{}},
		{Name: "gone", State: "Dead", Coordinator: -1, Error: "unknown consumer group"},
	}
	render(t, "groups", "list", func(w *bytes.Buffer, j bool) error { return writeGroupList(w, j, gs[:2]) })
	render(t, "groups", "describe", func(w *bytes.Buffer, j bool) error { return writeGroupDescribe(w, j, gs) })
	pinned := hung
	lag := admin.GroupLag{Group: "billing", State: "Stable", LagToLSO: 3, LagToHWM: 65, Pinned: 1, Partitions: []admin.PartitionLag{
		{TopicPartition: admin.TopicPartition{Topic: "orders", Partition: 0}, Member: "billing-1", Committed: 40, LSO: 43, HWM: 43, LagToLSO: 3, LagToHWM: 3},
		{TopicPartition: admin.TopicPartition{Topic: "orders", Partition: 1}, Committed: -1, LSO: 0, HWM: 0},
		{TopicPartition: admin.TopicPartition{Topic: "orders", Partition: 2}, Member: "billing-1", Committed: 120, LSO: 120, HWM: 182, LagToLSO: 0, LagToHWM: 62, PinnedBy: &pinned},
	}}
	render(t, "groups", "lag", func(w *bytes.Buffer, j bool) error { return writeGroupLag(w, j, lag) })
}

func TestGroupsOnKfake(t *testing.T) {
	addrs := fakeTxnCluster(t)
	brokers := []string{"--brokers", strings.Join(addrs, ","), "--timeout", "20s"}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumerGroup("live"), kgo.ConsumeTopics("t"), kgo.ClientID("worker-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := 0; n < 5 && ctx.Err() == nil; n += cl.PollFetches(ctx).NumRecords() {
	}
	var gs struct{ Groups []admin.Group }
	for ctx.Err() == nil {
		r := run(t, "", append([]string{"groups", "describe", "live", "-o", "json"}, brokers...)...)
		if err := json.Unmarshal([]byte(r.stdout), &gs); err != nil || r.code != exitOK {
			t.Fatalf("describe: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		if gs.Groups[0].State == "Stable" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if g := gs.Groups[0]; g.State != "Stable" || len(g.Members) != 1 || g.Members[0].ClientID != "worker-1" || len(g.Members[0].Assigned) != 2 {
		t.Fatalf("describe live: %+v", g)
	}
	r := run(t, "", append([]string{"groups", "list"}, brokers...)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "live") || !strings.Contains(r.stdout, "readers") {
		t.Fatalf("list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", append([]string{"groups", "describe", "nobody"}, brokers...)...); r.code != exitUsage || !strings.Contains(r.stderr, "unknown consumer group") {
		t.Fatalf("describe nobody: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", append([]string{"groups", "lag", "nobody"}, brokers...)...); r.code != exitUsage {
		t.Fatalf("lag nobody: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// --watch: refreshes until cancelled (two refreshes, then Ctrl-C).
	var out, errb bytes.Buffer
	wctx, wcancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer wcancel()
	code := Execute(wctx, append([]string{"groups", "lag", "readers", "--watch", "--interval", "500ms"}, brokers...), strings.NewReader(""), &out, &errb)
	if code != exitOK || strings.Count(out.String(), "Group readers") < 2 || strings.Contains(out.String(), "\x1b[2J") {
		t.Fatalf("watch: exit %d, %d refreshes (want 2 or more, no screen clearing off a terminal)\n%s%s", code, strings.Count(out.String(), "Group readers"), out.String(), errb.String())
	}
}
