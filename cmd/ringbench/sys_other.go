//go:build !linux

package main

import (
	"syscall"
	"time"
)

// The tool measures servers through Linux's /proc; elsewhere it still
// builds, and these report nothing.

func raiseFileLimit() (uint64, error) { return 0, nil }

func selfUsage() (time.Duration, int64) { return 0, 0 }

func sourcePortControl(network, address string, c syscall.RawConn) error { return nil }
