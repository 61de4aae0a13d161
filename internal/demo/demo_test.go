package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eoskit/eoskit/internal/demo"
)

func TestDemoOnKfake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := demo.Run(ctx, demo.Config{Records: 6000, StreamFor: 2 * time.Second, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.WriteText(&out)
	t.Logf("progress:\n%s\nsummary:\n%s", progress.String(), out.String())
	if !res.OK() {
		t.Fatalf("demo failed")
	}
	c := res.Verify.Counts
	if c.InputRecords != 6000 || c.OutputRecords != 6000 || c.ByHeader != 6000 || c.Duplicates != 0 || c.Missing != 0 || c.OrderViolations != 0 {
		t.Errorf("verification counts %+v", c)
	}
	if !res.Simulated || res.Crash.Processor != "p2" || res.Crash.Replacement != "p2'" || len(res.Processors) != 4 {
		t.Errorf("crash %+v, %d processors", res.Crash, len(res.Processors))
	}
	if res.Processors[1].State != "crashed" {
		t.Errorf("p2 state %q", res.Processors[1].State)
	}
	var in int64
	for _, p := range res.Processors {
		in += p.RecordsIn
	}
	if in != 6000 {
		t.Errorf("processors committed %d input records in total, want 6000 (each exactly once)", in)
	}
	for _, want := range []string{"PASSED", "SIMULATION", "eosctl dev cluster --nodes 3", "eosctl demo --brokers", "duplicates 0, missing 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	for _, want := range []string{"CRASH: p2", "restart: p2'", "produced all 6000"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(res.JSON(), &back); err != nil || back["simulated"] != true {
		t.Errorf("JSON: %v %v", err, back["simulated"])
	}
}

func TestConfigValidate(t *testing.T) {
	err := demo.Config{Records: -1, CrashAt: 1.5, Brokers: []string{"nohost"}}.Validate()
	if !errors.Is(err, demo.ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"records -1", "crash-at 1.5", `broker "nohost"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err := (demo.Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}
