// Package kfaketest builds in-process kfake clusters in given states
// (committed records, open transactions) for the unit tests of several
// packages (admin, cmd/eosctl). Test code only: library packages never
// import it. Every helper fails the test on error and closes what it
// started when the test ends.
package kfaketest

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster starts a one-broker kfake cluster with topics of partitions
// partitions and returns its addresses.
func Cluster(t testing.TB, partitions int32, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Client returns a client for addrs that produces to explicit partitions
// (kgo.ManualPartitioner), with opts applied last.
func Client(t testing.TB, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Produce writes n records of value to topic/partition through cl.
func Produce(t testing.TB, cl *kgo.Client, topic string, partition int32, n int, value string) {
	t.Helper()
	for range n {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: partition, Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// OpenTxn begins a transaction of transactional ID id, writes n records
// to topic/partition and leaves it open (timeout 10 minutes). The
// returned client ends it when closed (aborting); it is closed when the
// test ends.
func OpenTxn(t testing.TB, addrs []string, id, topic string, partition int32, n int) *kgo.Client {
	t.Helper()
	cl := Client(t, addrs, kgo.TransactionalID(id), kgo.TransactionTimeout(10*time.Minute))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	Produce(t, cl, topic, partition, n, "open")
	return cl
}

// StartCPU returns a function that reports the process's user+system CPU
// time since the call, per operation, as the benchmark metric cpu-ns/op.
// kfake runs in the process too, the same for every side of a benchmark:
// the difference between two sides is their clients'.
func StartCPU(b *testing.B) func() {
	start := cpuTime(b)
	return func() { b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
