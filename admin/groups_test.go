package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/admin"
)

func TestGroupsListDescribe(t *testing.T) {
	ctx := context.Background()
	adm, addrs := txnCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("t"), kgo.ClientID("worker-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for n := 0; n < 5; {
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			t.Fatal("no records within 10s")
		}
		n += fs.NumRecords()
	}
	var g admin.Group
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		gs, err := adm.DescribeGroups(ctx, "g1", "missing")
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(gs["missing"].Err, admin.ErrUnknownGroup) {
			t.Fatalf("missing group: %+v", gs["missing"])
		}
		if g = gs["g1"]; g.State == "Stable" {
			break
		}
	}
	if g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol == "" || len(g.Members) != 1 ||
		g.Members[0].ClientID != "worker-1" || len(g.Members[0].Assigned) != 2 || g.Members[0].Assigned[1] != (admin.TopicPartition{Topic: "t", Partition: 1}) {
		t.Fatalf("DescribeGroups: %+v", g)
	}
	ls, err := adm.ListGroups(ctx)
	if err != nil || ls["g1"].State != "Stable" {
		t.Fatalf("ListGroups: %+v %v", ls, err)
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	lag, err := adm.GroupLag(ctx, "g1", admin.HangingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lag.Partitions) != 2 || lag.LagToLSO != 0 || lag.LagToHWM != 0 || lag.Partitions[0].Committed != 5 ||
		lag.Partitions[0].Member != "worker-1" || lag.Partitions[1].Committed != -1 || lag.Pinned != 0 {
		t.Fatalf("GroupLag: %+v", lag)
	}
}
