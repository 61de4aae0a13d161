package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"

	"github.com/eoskit/eoskit/bench/internal/client"
)

// Work is one run's assignment: fresh topics, group and transactional ID.
type Work struct {
	Topic    string // produce target, or consume / copy input
	OutTopic string // copy output
	Group    string
	TxnID    string
	Records  int64
	Profile  string // base name for a CPU profile of this run, if profiles are asked for
}

// Measurement is what one run of one side measured. NaN: not measured.
type Measurement struct {
	Records   int64
	RecPerSec float64
	CPU       float64 // CPU-seconds of the client process
	RSS       float64 // bytes
	CommitP50 float64 // ms
	CommitP99 float64
	E2EP50    float64
	E2EP99    float64
}

func unmeasured() Measurement {
	n := math.NaN()
	return Measurement{RecPerSec: n, CPU: n, RSS: n, CommitP50: n, CommitP99: n, E2EP50: n, E2EP99: n}
}

// Side is one contender of a case: a Go client or a Java tool.
type Side interface {
	Label() string
	// Run does w in a new client process and measures it.
	Run(ctx context.Context, e *Env, w Work) (Measurement, error)
	// SeqPayload reports whether the values it writes carry client.Payload
	// sequence numbers (so the gate can check for duplicates and gaps).
	SeqPayload() bool
}

// goSide runs a client.Spec in a child process: this binary's hidden client command.
type goSide struct {
	label string
	spec  client.Spec // Kind, Impl and settings; Work fills the rest
	peer  string      // a peer implementation: run its program from Env.Peers, not this binary
}

func (g goSide) Label() string    { return g.label }
func (g goSide) SeqPayload() bool { return true }

func (g goSide) Run(ctx context.Context, e *Env, w Work) (Measurement, error) {
	s := g.spec
	s.Brokers, s.Topic, s.OutTopic, s.Group, s.TxnID, s.Records = e.Brokers, w.Topic, w.OutTopic, w.Group, w.TxnID, w.Records
	if e.ProfileDir != "" && w.Profile != "" {
		s.CPUProfile = filepath.Join(e.ProfileDir, w.Profile+".pprof")
	}
	b, err := json.Marshal(s)
	if err != nil {
		return Measurement{}, err
	}
	cmd := exec.CommandContext(ctx, e.Self, append(e.SelfArgs, "client", string(b))...)
	if g.peer != "" {
		p := e.Peers[g.peer]
		if p.Path == "" {
			return Measurement{}, fmt.Errorf("peer %s is not built: %v", g.peer, p.Err)
		}
		cmd = exec.CommandContext(ctx, p.Path, string(b))
	}
	pr, err := runProcess(ctx, cmd)
	if err != nil {
		return Measurement{}, err
	}
	r, err := client.ParseResult(pr.stdoutText())
	if err != nil {
		return Measurement{}, err
	}
	if r.Error != "" {
		return Measurement{}, fmt.Errorf("client: %s", r.Error)
	}
	m := unmeasured()
	m.Records, m.CPU, m.RSS = r.Records, pr.cpu, max(pr.maxRSS, r.PeakRSS)
	if r.Seconds > 0 {
		m.RecPerSec = float64(r.Records) / r.Seconds
	}
	for _, f := range []struct {
		from float64
		to   *float64
	}{{r.CommitP50, &m.CommitP50}, {r.CommitP99, &m.CommitP99}, {r.E2EP50, &m.E2EP50}, {r.E2EP99, &m.E2EP99}} {
		if f.from > 0 {
			*f.to = f.from
		}
	}
	return m, nil
}
