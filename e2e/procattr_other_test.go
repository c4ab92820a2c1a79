//go:build !linux

package e2e

import "syscall"

// childProcAttr: only Linux can tie a child's life to ours; elsewhere the
// t.Cleanup handlers alone reap children.
func childProcAttr() *syscall.SysProcAttr { return nil }
