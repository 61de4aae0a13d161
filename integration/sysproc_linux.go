package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sysProcAttr puts a broker in its own process group (so signals reach the JVM
// and its start script) and kills it if the test process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree kills the process p, its process group and every process
// descended from it, also those that left the group: PostgreSQL's postmaster
// children each call setsid, so a signal to the postmaster's group reaches
// none of its backends, and a backend outlives its postmaster long enough to
// commit a transaction. The process is stopped first so that it forks
// nothing while its descendants are listed. killTree returns once every
// descendant has exited (or is a zombie), or an error naming those still
// running after 10 s; nil at once for a process already gone.
func killTree(p *os.Process) error {
	// Through os.Process (a pidfd where the kernel has them): once the
	// process was reaped its pid may be another's, and this fails instead.
	// A stopped process cannot exit, so pid stays its own from here on.
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		return fmt.Errorf("signal STOP to %d: %w", p.Pid, err)
	}
	pid := p.Pid
	desc := descendants(pid)
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = p.Kill() // not left stopped, whatever the group's error
		return fmt.Errorf("signal KILL to process group %d: %w", pid, err)
	}
	for _, d := range desc {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []int
		for _, d := range desc {
			if processRunning(d) {
				left = append(left, d)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v started by %d still run 10 s after SIGKILL", left, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// descendants lists the processes descended from pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(p); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// processRunning tells whether pid exists and is not a zombie.
func processRunning(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// procStat reads the parent and the state of pid from /proc/PID/stat, whose
// second field (the command, in parentheses) may itself hold spaces and
// parentheses.
func procStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	return parseStat(string(b))
}

// parseStat reads the parent and the state from a /proc/PID/stat line.
func parseStat(s string) (ppid int, state byte, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	return ppid, f[0][0], true
}
