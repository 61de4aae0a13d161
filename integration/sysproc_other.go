//go:build !linux

package integration

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// sysProcAttr puts a broker in its own process group so signals reach the JVM.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killTree kills the process group of p. Without /proc it cannot find
// descendants that left the group (PostgreSQL's backends do); they exit when
// they notice their postmaster is gone.
func killTree(p *os.Process) error {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = p.Kill()
		return fmt.Errorf("signal KILL to process group %d: %w", p.Pid, err)
	}
	return nil
}

// processRunning tells whether pid exists (a zombie counts as running here).
func processRunning(pid int) bool { return syscall.Kill(pid, 0) == nil }
