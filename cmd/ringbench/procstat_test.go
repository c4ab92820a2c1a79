package main

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := []byte("4242 (my (odd) srv) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 566 0 0 20 0 8 0 100 2000000 500 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n")
	got, err := parseStatCPU(stat)
	if err != nil || got != 18*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 18s (1234+566 ticks)", got, err)
	}
	for _, bad := range []string{"", "1 (x S 1 2", "1 (x) S 1 2 3"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) did not fail", bad)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	status := []byte("Name:\tringd\nVmPeak:\t  100 kB\nVmRSS:\t   23456 kB\nThreads:\t8\n")
	if got, err := parseStatusRSS(status); err != nil || got != 23456 {
		t.Errorf("parseStatusRSS = %d, %v; want 23456", got, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tzombie\n")); err == nil {
		t.Error("parseStatusRSS without VmRSS did not fail")
	}
}

func TestReadProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSkB <= 0 {
		t.Errorf("own RSS = %d kB", s.RSSkB)
	}
	if _, err := readProc(1 << 30); err == nil {
		t.Error("readProc of a process that cannot exist did not fail")
	}
}
