//go:build !linux

package integration

import "syscall"

// sysProcAttr puts a broker in its own process group so signals reach the JVM.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
