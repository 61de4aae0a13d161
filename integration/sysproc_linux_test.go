package integration

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		line  string
		ppid  int
		state byte
		ok    bool
	}{
		{"42 (postgres) S 41 42 42 0 -1", 41, 'S', true},
		{"43 (postgres: walwriter ) S 41 43 43 0", 41, 'S', true},
		{"44 (a) b (c)) Z 7 44 44", 7, 'Z', true},
		{"45 (broken", 0, 0, false},
		{"46 (x) S notanumber", 0, 0, false},
	} {
		ppid, state, ok := parseStat(tc.line)
		if ppid != tc.ppid || state != tc.state || ok != tc.ok {
			t.Errorf("parseStat(%q) = %d, %q, %v; want %d, %q, %v", tc.line, ppid, state, ok, tc.ppid, tc.state, tc.ok)
		}
	}
}

// TestKillAllReachesChildrenThatLeftTheGroup starts a shell whose child
// calls setsid, as PostgreSQL's postmaster children do, and checks that
// killAll ends the child too, where a signal to the process group does not.
func TestKillAllReachesChildrenThatLeftTheGroup(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Fatalf("this test needs setsid (util-linux): %v", err)
	}
	cmd := exec.Command("sh", "-c", "setsid sleep 300 & echo $!; wait")
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr := &proc{cmd: cmd, done: make(chan struct{})}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read the child's pid: %v", err)
	}
	go func() { _ = cmd.Wait(); close(pr.done) }()
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child pid %q: %v", line, err)
	}
	// setsid runs in the background job and execs sleep; wait until it has
	// its own session, so that the case under test is the one set up.
	deadline := time.Now().Add(5 * time.Second)
	for sid := 0; sid != child; {
		if time.Now().After(deadline) {
			t.Fatalf("child %d never got its own session (sid %d)", child, sid)
		}
		time.Sleep(5 * time.Millisecond)
		sid = sessionOf(t, child)
	}
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	if !processRunning(child) {
		t.Fatalf("child %d is not running before the kill", child)
	}
	if got := descendants(cmd.Process.Pid); !slices.Contains(got, child) {
		t.Fatalf("descendants(%d) = %v, want it to hold %d", cmd.Process.Pid, got, child)
	}

	if err := pr.killAll(); err != nil {
		t.Fatalf("killAll: %v", err)
	}
	if processRunning(child) {
		t.Fatalf("child %d, in its own session, still runs after killAll", child)
	}
}

// sessionOf reads the session ID of pid from /proc (0 if it cannot).
func sessionOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	// After the command: state, ppid, pgrp, session.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 4 {
		return 0
	}
	sid, _ := strconv.Atoi(f[3])
	return sid
}
