//go:build integration

package prom_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/admin"
	"github.com/eoskit/eoskit/integration"
	"github.com/eoskit/eoskit/metrics/prom"
)

// shared is one single-broker cluster for every real-broker test of the
// metrics.
var shared *integration.Shared

// The hanging-producer helper: the test binary re-run with these set
// begins a transaction, writes to the topic, says so, and then waits to be
// stopped.
const (
	envHangBrokers = "EOSKIT_METRICS_HANG_BROKERS"
	envHangTopic   = "EOSKIT_METRICS_HANG_TOPIC"
)

func TestMain(m *testing.M) {
	if os.Getenv(envHangBrokers) != "" {
		os.Exit(hangingProducer())
	}
	shared = integration.StartShared(integration.WithNodes(1))
	integration.AnnounceSuite("metrics", shared.Cluster)
	os.Exit(shared.Run(m))
}

// hangingProducer writes 5 records in a transaction (timeout 10 min) that
// it never ends, then blocks.
func hangingProducer() int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(os.Getenv(envHangBrokers), ",")...),
		kgo.TransactionalID("hanging-"+os.Getenv(envHangTopic)), kgo.TransactionTimeout(10*time.Minute),
		kgo.DefaultProduceTopic(os.Getenv(envHangTopic)), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	for i := 0; i < 5; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("open")}).FirstErr(); err != nil {
			fmt.Println("error:", err)
			return 1
		}
	}
	fmt.Println("written")
	select {}
}

// TestHangingTransactionShowsAsRisingAge: a transactional producer in
// another process writes 5 records and is SIGSTOPped with its transaction
// open. The group, committed at the end of the 10 records before it, has
// no lag to the LSO (the open transaction holds the LSO) but 5 to the HWM,
// and the open transaction's age rises between two polls as the wall
// clock does.
func TestHangingTransactionShowsAsRisingAge(t *testing.T) {
	ctx := integration.Context(t, 2*time.Minute)
	topic, group := integration.UniqueName(t, "in"), integration.UniqueName(t, "g")
	cl, err := shared.NewClient(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 10, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}

	helper := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), envHangBrokers+"="+shared.BootstrapString(), envHangTopic+"="+topic)
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "written" {
		t.Fatalf("hanging producer said %q, want written", line)
	}
	if err := helper.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	lag, err := prom.NewLagCollector(admin.NewWithClient(cl), group, prom.LagTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	first, err := lag.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Partitions) != 1 {
		t.Fatalf("partitions %+v, want 1", first.Partitions)
	}
	p := first.Partitions[0]
	if p.Committed != 10 || p.LSO != 10 || p.HWM != 15 || p.LagToLSO != 0 || p.LagToHWM != 5 || p.PinnedBy == nil || p.PinnedBy.Age <= 0 {
		t.Fatalf("with the stopped producer's open transaction: %+v (pinned by %+v), want committed 10, LSO 10, HWM 15, lag 0 to the LSO, 5 to the HWM, an open transaction with an age", p, p.PinnedBy)
	}
	pause := 2 * time.Second
	time.Sleep(pause)
	second, err := lag.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := second.Partitions[0]
	if q.PinnedBy == nil || q.PinnedBy.Age-p.PinnedBy.Age < pause-200*time.Millisecond || q.LSO != 10 {
		t.Fatalf("open transaction age %v then %v %v later (LSO %d): want it to rise with the clock and the LSO to stay at 10", p.PinnedBy.Age, q.PinnedBy, pause, q.LSO)
	}
	t.Logf("open transaction %s (producer %d): age %v, then %v", q.PinnedBy.TransactionalID, q.PinnedBy.ProducerID, p.PinnedBy.Age, q.PinnedBy.Age)
}
