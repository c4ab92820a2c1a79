package wire

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCPUScratch(t *testing.T) {
	if os.Getenv("CPUSCRATCH") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, tc := range []struct {
		name string
		s    string
	}{{"chat", chat575}, {"jingle", jingle2K}} {
		best := time.Hour
		for range 5 {
			d := newStanzaLoop(t, tc.s, false)
			const n = 300000
			c0 := cpuTime()
			for range n {
				d.Next()
			}
			if el := (cpuTime() - c0) / n; el < best {
				best = el
			}
		}
		t.Logf("%s: %v/op cpu", tc.name, best)
	}
}
