//go:build integration

package txn_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eoskit/eoskit/txn"
)

// supervisor runs copier processes in slots, like an orchestrator: a slot's
// process that exits is restarted (same transactional ID) until the slot is
// retired. Faults act on the slot's current process.
type supervisor struct {
	t      *testing.T
	args   func(slot int) []string
	logDir string

	mu      sync.Mutex
	slots   map[int]*slot
	next    int
	closing bool
	wg      sync.WaitGroup
	exits   map[int]int // exit code -> count (-1: killed by a signal)
	last    map[string]txn.Stats
	gen     int
	// expect is how each process is expected to exit: "" (it must not),
	// "killed" (a fault SIGKILLed it), "clean" (SIGTERM: exit 0) or
	// "fenced" (exit 3: a replacement took its transactional ID).
	expect     map[*exec.Cmd]string
	unexpected []string // exits no fault explains: each fails the scenario
	fenced     map[*exec.Cmd]chan struct{}
}

type slot struct {
	id      int
	cmd     *exec.Cmd
	retired bool
	running bool
	starts  int
}

func newSupervisor(t *testing.T, args func(slot int) []string) *supervisor {
	s := &supervisor{t: t, args: args, logDir: t.TempDir(), slots: map[int]*slot{},
		exits: map[int]int{}, last: map[string]txn.Stats{}, expect: map[*exec.Cmd]string{}, fenced: map[*exec.Cmd]chan struct{}{}}
	t.Cleanup(func() {
		s.close()
		if t.Failed() {
			s.dumpLogs()
		}
	})
	return s
}

// add starts a new slot and returns its number.
func (s *supervisor) add() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := &slot{id: s.next}
	s.next++
	s.slots[sl.id] = sl
	s.startLocked(sl)
	return sl.id
}

func (s *supervisor) startLocked(sl *slot) {
	sl.starts++
	s.gen++
	inst := fmt.Sprintf("slot%d-start%d", sl.id, sl.starts)
	logf, err := os.OpenFile(filepath.Join(s.logDir, fmt.Sprintf("slot-%d.log", sl.id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Errorf("copier log: %v", err)
		return
	}
	fmt.Fprintf(logf, "===== %s %s\n", time.Now().Format(time.TimeOnly), inst)
	cmd := exec.Command(copierBin, s.args(sl.id)...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Errorf("copier stdout: %v", err)
		return
	}
	if err := cmd.Start(); err != nil {
		s.t.Errorf("start copier: %v", err)
		return
	}
	sl.cmd, sl.running = cmd, true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var st txn.Stats
			if json.Unmarshal(sc.Bytes(), &st) == nil {
				s.mu.Lock()
				s.last[inst] = st
				s.mu.Unlock()
			}
		}
		err := cmd.Wait()
		logf.Close()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode() // -1 when killed by a signal
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.exits[code]++
		s.checkExit(sl, cmd, code)
		if sl.cmd != cmd { // a superseded zombie: its slot runs a replacement
			return
		}
		sl.running = false
		if sl.retired || s.closing {
			return
		}
		// Restart after a short pause, as an orchestrator would.
		time.AfterFunc(200*time.Millisecond, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !sl.retired && !s.closing {
				s.startLocked(sl)
			}
		})
	}()
}

// checkExit records an exit that is not the one expected of cmd.
func (s *supervisor) checkExit(sl *slot, cmd *exec.Cmd, code int) {
	got := map[int]string{-1: "killed", 0: "clean", 3: "fenced"}[code]
	if got == "" {
		got = fmt.Sprintf("error (exit %d)", code)
	}
	want := s.expect[cmd]
	ok := got == want || (s.closing || sl.retired) && (got == "clean" || got == "killed")
	if got == "fenced" {
		if ch := s.fenced[cmd]; ch != nil {
			close(ch)
		}
	}
	if !ok {
		if want == "" {
			want = "no exit"
		}
		s.unexpected = append(s.unexpected, fmt.Sprintf("slot %d pid %d exited %s, expected %s (see its log)", sl.id, cmd.Process.Pid, got, want))
	}
}

// signal sends sig to slot's current process; SIGKILL and SIGTERM make
// its exit expected.
func (s *supervisor) signal(id int, sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slots[id]
	if sl == nil || sl.cmd == nil || sl.cmd.Process == nil {
		s.t.Errorf("slot %d has no process", id)
		return
	}
	switch sig {
	case syscall.SIGKILL:
		s.expect[sl.cmd] = "killed"
	case syscall.SIGTERM:
		s.expect[sl.cmd] = "clean"
	}
	_ = sl.cmd.Process.Signal(sig)
}

// replace starts a second process for slot id, with the same
// transactional ID, while the current one still lives (an orchestrator
// that took a frozen process for dead). The old process must then exit
// fenced: the returned channel closes when it does.
func (s *supervisor) replace(id int) (old *os.Process, fenced <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slots[id]
	prev := sl.cmd
	ch := make(chan struct{})
	s.expect[prev] = "fenced"
	s.fenced[prev] = ch
	s.startLocked(sl)
	return prev.Process, ch
}

// unexpectedExits returns the exits no fault explains.
func (s *supervisor) unexpectedExits() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unexpected...)
}

// txnID returns the transactional ID of slot id's processes.
func (s *supervisor) txnID(id int) string {
	args := s.args(id)
	for i, a := range args {
		if a == "-txn-id" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// retire stops slot's process with SIGTERM (a member leaving cleanly) and
// does not restart it.
func (s *supervisor) retire(id int) {
	s.mu.Lock()
	sl := s.slots[id]
	sl.retired = true
	p := sl.cmd.Process
	s.mu.Unlock()
	_ = p.Signal(syscall.SIGCONT)
	_ = p.Signal(syscall.SIGTERM)
}

func (s *supervisor) live() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int
	for id, sl := range s.slots {
		if !sl.retired {
			ids = append(ids, id)
		}
	}
	return ids
}

// close stops every process (SIGTERM, SIGKILL after 30 s) and waits.
func (s *supervisor) close() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closing = true
	var procs []*os.Process
	for _, sl := range s.slots {
		if sl.running {
			procs = append(procs, sl.cmd.Process)
		}
	}
	s.mu.Unlock()
	for _, p := range procs {
		_ = p.Signal(syscall.SIGCONT)
		_ = p.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		for _, p := range procs {
			_ = p.Kill()
		}
		<-done
	}
}

// totals sums the last stats every process instance printed.
func (s *supervisor) totals() (txn.Stats, map[int]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t txn.Stats
	for _, st := range s.last {
		t.RecordsIn += st.RecordsIn
		t.RecordsOut += st.RecordsOut
		t.TxnsCommitted += st.TxnsCommitted
		t.TxnsAborted += st.TxnsAborted
		t.Rebalances += st.Rebalances
		t.SessionRestarts += st.SessionRestarts
	}
	exits := map[int]int{}
	for k, v := range s.exits {
		exits[k] = v
	}
	return t, exits
}

func (s *supervisor) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(s.logDir, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		s.t.Logf("---- %s (tail) ----\n%s", filepath.Base(f), b)
	}
}
