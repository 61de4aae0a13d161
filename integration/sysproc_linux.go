package integration

import "syscall"

// sysProcAttr puts a broker in its own process group (so signals reach the JVM
// and its start script) and kills it if the test process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
