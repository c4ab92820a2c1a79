//go:build !linux

package turn_test

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
