//go:build integration

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lockedBuffer is a bytes buffer the command's goroutine writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevClusterNetworkFaultsOnBroker runs `eosctl dev cluster
// --network-faults` in process: an HTTP call isolates the node, a client
// then cannot produce to it, and /heal restores it.
func TestDevClusterNetworkFaultsOnBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	outR, outW := io.Pipe()
	var stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- Execute(runCtx, []string{"dev", "cluster", "--nodes", "1", "--network-faults"}, strings.NewReader(""), outW, &stderr)
		_ = outW.Close()
	}()
	defer func() {
		stop()
		select {
		case code := <-exit:
			if code != 0 {
				t.Errorf("eosctl dev cluster exited %d; stderr:\n%s", code, stderr.String())
			}
		case <-time.After(2 * time.Minute):
			t.Errorf("eosctl dev cluster did not stop")
		}
	}()
	lines := bufio.NewScanner(outR)
	got := map[string]string{}
	for len(got) < 2 && lines.Scan() {
		if k, v, ok := strings.Cut(lines.Text(), "="); ok {
			got[k] = v
		}
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	bootstrap, control := got["bootstrap"], got["control"]
	if bootstrap == "" || !strings.HasPrefix(control, "http://127.0.0.1:") {
		t.Fatalf("stdout gave bootstrap=%q control=%q; stderr:\n%s", bootstrap, control, stderr.String())
	}
	post := func(path string) {
		t.Helper()
		resp, err := http.Post(control+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// Not idempotent, so that a record sent to the isolated node times out.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DisableIdempotentWrite(),
		kgo.RecordDeliveryTimeout(8*time.Second), kgo.RequestTimeoutOverhead(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const topic = "dev-netfaults"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce before isolating: %v", err)
	}
	post("/isolate/1")
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("isolated")}).FirstErr(); err == nil {
		t.Fatal("produce to an isolated node succeeded")
	} else {
		t.Logf("produce to the isolated node: %v", err)
	}
	resp, err := http.Get(control + "/links")
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		Name        string
		Connections int64
		Faults      []string
	}
	err = json.NewDecoder(resp.Body).Decode(&links)
	resp.Body.Close()
	if err != nil || len(links) != 1 || links[0].Name != "client:1" || !slices.Equal(links[0].Faults, []string{"cut"}) || links[0].Connections == 0 {
		t.Fatalf("GET /links: %+v %v; want client:1, used and cut", links, err)
	}
	post("/heal")
	healed, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RecordDeliveryTimeout(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer healed.Close()
	if err := healed.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("healed")}).FirstErr(); err != nil {
		t.Fatalf("produce after POST /heal: %v", err)
	}
	ends, err := kadm.NewClient(healed).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup(topic, 0); o.Offset != 2 {
		t.Fatalf("end offset %d, want 2 (before, healed; the isolated record was never written)", o.Offset)
	}
}
