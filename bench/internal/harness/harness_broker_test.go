//go:build integration

package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eoskit/eoskit/bench/internal/client"
	"github.com/eoskit/eoskit/bench/internal/harness"
	"github.com/eoskit/eoskit/integration"
)

var shared *integration.Shared

func TestMain(m *testing.M) {
	// The harness starts this test binary as its Go client process.
	if len(os.Args) == 3 && os.Args[1] == "client" {
		var s client.Spec
		if err := json.Unmarshal([]byte(os.Args[2]), &s); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if client.Run(context.Background(), s, os.Stdout) != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	shared = integration.StartShared(integration.WithNodes(1))
	integration.AnnounceSuite("bench", shared.Cluster)
	os.Exit(shared.Run(m))
}

func config(t *testing.T) harness.Config {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	home := os.Getenv(integration.EnvKafkaHome)
	if home == "" {
		home = integration.DefaultKafkaHome(integration.DefaultKafkaVersion)
	}
	return harness.Config{
		Records: 2000, Rounds: 1, Warmup: 0, RunTimeout: 2 * time.Minute,
		Java: harness.Java{Home: home, HeapFlags: "-Xmx256M"}, Self: self,
		Cluster: shared.Cluster, Progress: testWriter{t},
	}
}

// TestSmoke runs every catalog case at a tiny size: every side of each
// passes its gate (exact counts, no duplicates or gaps) and reports figures.
// Speed is not asserted.
func TestSmoke(t *testing.T) {
	cfg := config(t)
	cfg.Cases = nil // all
	rep, err := harness.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(harness.Catalog(cfg.Records)); len(rep.Cases) != want {
		t.Fatalf("%d cases reported, want %d", len(rep.Cases), want)
	}
	for _, c := range rep.Cases {
		if c.Failure != "" {
			t.Errorf("%s failed: %s", c.Name, c.Failure)
			continue
		}
		if c.TransactionVersion != shared.TransactionVersion() {
			t.Errorf("%s: transaction.version %d, want the cluster's %d", c.Name, c.TransactionVersion, shared.TransactionVersion())
		}
		figs := map[string]int{}
		for _, f := range c.Figures {
			figs[f.Name] = len(f.Sides)
			for _, v := range f.Sides {
				if f.Name == "throughput" && !(v.Value.Median > 0) {
					t.Errorf("%s: %s throughput %v", c.Name, v.Side, v.Value.Median)
				}
			}
		}
		want := map[string]int{"throughput": len(c.Sides), "client CPU": len(c.Sides), "client peak RSS": len(c.Sides)}
		if c.Name == "e2e-latency" {
			// EndToEndLatency reports latency, not a rate: one record at a time.
			want["throughput"] = len(c.Sides) - 1
			want["end-to-end p99"] = len(c.Sides)
		}
		for name, n := range want {
			if figs[name] != n {
				t.Errorf("%s: figure %q has %d sides, want %d (%v)", c.Name, name, figs[name], n, c.Sides)
			}
		}
		if strings.HasPrefix(c.Name, "copy") && figs["commit p99"] != len(c.Sides)-1 {
			t.Errorf("%s: commit p99 measured by %d sides, want the %d Go sides", c.Name, figs["commit p99"], len(c.Sides)-1)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "## copy-matched-500") {
		t.Fatalf("markdown: %v\n%s", err, md.String())
	}
}

// TestPeers builds the peer clients (sarama, confluent-kafka-go) and runs
// the 100-byte produce case with them: each peer side passes the gate and
// reports its figures.
func TestPeers(t *testing.T) {
	ctx := integration.Context(t, 5*time.Minute)
	cfg := config(t)
	cfg.Peers = harness.BuildPeers(ctx, "../../peers", t.TempDir())
	for impl, p := range cfg.Peers {
		if p.Err != nil {
			t.Fatalf("peer %s does not build: %v", impl, p.Err)
		}
	}
	cfg.Cases = []string{"produce-100B"}
	rep, err := harness.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Cases[0]
	if c.Failure != "" {
		t.Fatalf("produce-100B failed: %s", c.Failure)
	}
	want := []string{"eoskit producer", "franz-go", "sarama", "confluent-kafka-go", "Java ProducerPerformance"}
	if !slices.Equal(c.Sides, want) {
		t.Fatalf("sides %v, want %v", c.Sides, want)
	}
	for _, f := range c.Figures {
		if f.Name == "throughput" && len(f.Sides) != len(want) {
			t.Errorf("throughput measured for %d sides, want %d", len(f.Sides), len(want))
		}
	}
}

// badProducer writes records with a defect the gate must catch, and claims
// to have written exactly what was asked.
type badProducer struct{ dup, skip int64 }

func (badProducer) Label() string    { return "bad producer" }
func (badProducer) SeqPayload() bool { return true }

func (b badProducer) Run(ctx context.Context, e *harness.Env, w harness.Work) (harness.Measurement, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers...), kgo.DefaultProduceTopic(w.Topic))
	if err != nil {
		return harness.Measurement{}, err
	}
	defer cl.Close()
	var rs []*kgo.Record
	for i := range w.Records {
		if i == b.skip {
			i = b.dup // a gap at skip, filled with a second copy of dup
		}
		rs = append(rs, &kgo.Record{Value: client.Payload(i, 100)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return harness.Measurement{}, err
	}
	return harness.Measurement{Records: w.Records, RecPerSec: 1, CPU: 1, RSS: 1}, nil
}

// TestGateReportsOnlyTheFailure: a side whose output has a duplicate and a
// gap fails its case, which then carries no figures.
func TestGateReportsOnlyTheFailure(t *testing.T) {
	cfg := config(t)
	cfg.Records = 100
	cfg.Catalog = []harness.Case{{
		Name: "bad", Title: "gate test", Kind: harness.KindProduce, Partitions: 2, RecordSize: 100, Records: 100,
		Sides: []harness.Side{badProducer{dup: 10, skip: 50}},
	}}
	rep, err := harness.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Cases[0]
	if !strings.Contains(c.Failure, "1 duplicates, 1 missing, first missing sequence 50") || len(c.Figures) != 0 {
		t.Fatalf("failure %q with %d figures; want the duplicate and the gap at 50 reported, and no figures", c.Failure, len(c.Figures))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
