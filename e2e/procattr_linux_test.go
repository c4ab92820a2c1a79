package e2e

import "syscall"

// childProcAttr makes the kernel kill a child (ringd, a client script) if
// the test binary dies without reaping it, e.g. on a -timeout panic.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
