package turn_test

import "syscall"

// procAttr kills a child process (turnserver) when the test binary dies.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
