package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDemoUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"negative records": {"demo", "--records", "-1"},
		"crash-at":         {"demo", "--crash-at", "1.5"},
		"bad output":       {"demo", "--output", "xml"},
		"bad broker":       {"demo", "--brokers", "nohost"},
		"argument":         {"demo", "extra"},
	} {
		if r := run(t, "", args...); r.code != exitUsage || r.stderr == "" {
			t.Errorf("%s: exit %d, stderr %q; want %d and a message", name, r.code, r.stderr, exitUsage)
		}
	}
}

func TestDemoEmbedded(t *testing.T) {
	r := run(t, "", "demo", "--records", "3000", "--stream-for", "1s", "--output", "json")
	var res struct {
		Simulated bool `json:"simulated"`
		Crash     struct {
			Replacement string `json:"replacement"`
		} `json:"crash"`
		Verify struct {
			Counts struct {
				InputRecords  int `json:"input_records"`
				OutputRecords int `json:"output_records"`
			} `json:"counts"`
		} `json:"verify"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v\nstdout %s\nstderr %s", r.code, err, r.stdout, r.stderr)
	}
	c := res.Verify.Counts
	if !res.Simulated || res.Crash.Replacement == "" || c.InputRecords != 3000 || c.OutputRecords != 3000 {
		t.Errorf("result %+v", res)
	}
	for _, want := range []string{"SIMULATION", "CRASH: p2", "done: exactly once, verified"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
