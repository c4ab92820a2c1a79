package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoopbackAddr(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "127.0.0.1:5222", want: "127.0.0.1:5222"},
		{in: "127.0.0.53:1", want: "127.0.0.53:1"},
		{in: "[::1]:5222", want: "[::1]:5222"},
		{in: "localhost:5222", want: ":5222"}, // 127.0.0.1 or ::1
		{in: "10.0.0.1:5222", err: "not a loopback"},
		{in: "192.0.2.1:5222", err: "not a loopback"},
		{in: "[2001:db8::1]:5222", err: "not a loopback"},
		{in: "0.0.0.0:5222", err: "not a loopback"},
		{in: ":5222", err: "no host"},
		{in: "127.0.0.1", err: "missing port"},
		{in: "127.0.0.1:0", err: "bad port"},
		{in: "127.0.0.1:http", err: "bad port"},
	}
	for _, tc := range tests {
		got, err := loopbackAddr(context.Background(), tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("loopbackAddr(%q) = %q, %v; want an error containing %q", tc.in, got, err, tc.err)
			}
		case err != nil || !strings.HasSuffix(got, tc.want):
			t.Errorf("loopbackAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestRefusesNonLoopback runs every load command against a routable
// address: each must refuse with a usage error before dialing anything.
func TestRefusesNonLoopback(t *testing.T) {
	for _, cmd := range []string{"connect", "messages", "presence", "calls"} {
		t.Run(cmd, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{cmd, "-addr", "192.0.2.1:5222", "-password", "x"}, &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), "not a loopback") {
				t.Errorf("exit %d, stderr %q; want %d and a refusal", code, stderr.String(), exitUsage)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestFlagValidation(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"connect"}, "-password is required"},
		{[]string{"connect", "-password", "x", "-users", "0"}, "-users"},
		{[]string{"connect", "-password", "x", "-tls", "none"}, "-tls"},
		{[]string{"connect", "-password", "x", "-mech", "PLAIN"}, "unsupported mechanism"},
		{[]string{"connect", "-password", "x", "-rate", "fast"}, "rate"},
		{[]string{"connect", "-password", "x", "-hold", "2m"}, "-hold"},
		{[]string{"connect", "-password", "x", "-domain", "a b"}, "-domain"},
		{[]string{"connect", "-password", "x", "extra"}, "unexpected argument"},
		{[]string{"messages", "-password", "x", "-window", "0"}, "-window"},
		{[]string{"messages", "-password", "x", "-pairs", "10", "-count", "5"}, "-count"},
		{[]string{"presence", "-password", "x", "-users", "5", "-contacts", "5"}, "-users must be more"},
		{[]string{"presence", "-password", "x", "-users", "9", "-contacts", "3"}, "odd -contacts"},
		{[]string{"calls", "-password", "x", "-answer-to", "all"}, "-answer-to"},
		{[]string{"provision", "-target", "openfire", "-users", "1", "-password", "x"}, "-target"},
		{[]string{"provision", "-target", "ringd", "-users", "1", "-password", "x"}, "-ringd-config"},
		{[]string{"nosuch"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitUsage, tc.want)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		bad  bool
	}{
		{in: "500", want: 500},
		{in: "500/s", want: 500},
		{in: "2.5k/s", want: 2500},
		{in: "0", want: 0},
		{in: "-1", bad: true},
		{in: "x/s", bad: true},
		{in: "NaN", bad: true},
	}
	for _, tc := range tests {
		got, err := parseRate(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestSourceAddrs(t *testing.T) {
	tests := []struct {
		target      string
		n, sessions int
		want        int
		wantErr     bool
	}{
		{"127.0.0.1:5222", 0, 100, 0, false},
		{"127.0.0.1:5222", 0, 10000, 0, false},
		{"127.0.0.1:5222", 0, 19000, 2, false},
		{"127.0.0.1:5222", 3, 10, 3, false},
		{"[::1]:5222", 0, 19000, 0, true},
		{"[::1]:5222", 0, 500, 0, false},
		{"127.0.0.1:5222", 251, 10, 0, true},
	}
	for _, tc := range tests {
		ips, err := sourceAddrs(tc.target, tc.n, tc.sessions)
		if (err != nil) != tc.wantErr || len(ips) != tc.want {
			t.Errorf("sourceAddrs(%q, %d, %d) = %v, %v; want %d addresses (error %v)", tc.target, tc.n, tc.sessions, ips, err, tc.want, tc.wantErr)
			continue
		}
		for i, ip := range ips {
			if !ip.IsLoopback() || !ip.Equal(net.IPv4(127, 0, 0, byte(i+1))) {
				t.Errorf("source %d = %v, want 127.0.0.%d", i, ip, i+1)
			}
		}
	}
}

// TestRunScenario checks what runScenario does around a scenario's run:
// the summary's header and common parameters, errors of the run, a run
// cut short, and the exit error.
func TestRunScenario(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		run     func(ctx context.Context, cancel context.CancelFunc) error
		samples []string
	}{
		{"clean", func(context.Context, context.CancelFunc) error { return nil }, nil},
		{"run error", func(context.Context, context.CancelFunc) error { return boom }, []string{"boom"}},
		{"cut short", func(ctx context.Context, cancel context.CancelFunc) error {
			cancel()
			<-ctx.Done()
			return nil
		}, []string{"run cut short: context canceled"}},
		// A run that fails says why itself: no second error for the
		// context.
		{"error after cut short", func(ctx context.Context, cancel context.CancelFunc) error {
			cancel()
			<-ctx.Done()
			return boom
		}, []string{"boom"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "summary.json")
			var c commonFlags
			fs := c.flagSet("test", "0", "", io.Discard)
			if _, err := c.parse(fs, []string{"-password", "x", "-json", jsonPath, "-tls", "direct"}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			spec := scenarioSpec{name: "test", op: "thing", sessions: 3, readBuffer: 4096, params: map[string]any{"own": 7}}
			var readBuffer int
			var stdout bytes.Buffer
			err := runScenario(ctx, &c, spec, func(ctx context.Context, d *dialer, s *summary, errs *errorLog) error {
				readBuffer = d.cfg.ReadBuffer
				s.Counts = map[string]int64{"done": 3}
				return tc.run(ctx, cancel)
			}, &stdout)
			if (err != nil) != (len(tc.samples) > 0) {
				t.Errorf("runScenario = %v, want an error: %v", err, len(tc.samples) > 0)
			}
			if readBuffer != spec.readBuffer {
				t.Errorf("the run's read buffer is %d, want %d", readBuffer, spec.readBuffer)
			}
			var s summary
			if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
				t.Fatalf("summary: %v\n%s", err, stdout.Bytes())
			}
			if s.Tool != "ringbench" || s.Scenario != "test" || s.Op != "thing" || s.Target != "127.0.0.1:5222" ||
				s.Started.IsZero() || s.Counts["done"] != 3 {
				t.Errorf("summary header = %+v", s)
			}
			for k, v := range map[string]any{"own": 7.0, "tls": "direct", "mech": "SCRAM-SHA-1", "domain": "localhost",
				"prefix": "bench", "timeout_s": 60.0, "tls_groups": "x25519"} {
				if s.Params[k] != v {
					t.Errorf("params[%q] = %v, want %v", k, s.Params[k], v)
				}
			}
			if s.Errors != int64(len(tc.samples)) || !slices.Equal(s.ErrorSamples, tc.samples) || s.OK != (len(tc.samples) == 0) {
				t.Errorf("errors %d %q, ok %v; want %q", s.Errors, s.ErrorSamples, s.OK, tc.samples)
			}
			if b, err := os.ReadFile(jsonPath); err != nil || !bytes.Equal(b, stdout.Bytes()) {
				t.Errorf("-json file = %q, %v; want what stdout got", b, err)
			}
		})
	}
}

func TestForEachLimited(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		n, limit  int
		cancelled bool // the parent context has ended
		fail      int  // f fails for this i; -1: never
		want      error
		ranAll    bool
	}{
		{name: "all", n: 50, limit: 3, fail: -1, ranAll: true},
		{name: "first error", n: 20, limit: 2, fail: 5, want: boom},
		{name: "context ended", n: 10, limit: 4, cancelled: true, fail: -1, want: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.cancelled {
				ctx = endedContext()
			}
			var ran, running, most atomic.Int64
			err := forEachLimited(ctx, tc.n, tc.limit, func(ctx context.Context, i int) error {
				ran.Add(1)
				now := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
				}
				switch {
				case i == tc.fail:
					return boom
				case tc.fail >= 0 && i > tc.fail:
					// Started before the failure was seen: it must be
					// told to stop.
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(2 * time.Second):
						return errors.New("not cancelled after the first error")
					}
				}
				time.Sleep(time.Millisecond)
				return nil
			})
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("forEachLimited = %v, want %v", err, tc.want)
			}
			if most.Load() > int64(tc.limit) {
				t.Errorf("%d ran at once, limit %d", most.Load(), tc.limit)
			}
			if got := ran.Load(); (got == int64(tc.n)) != tc.ranAll {
				t.Errorf("f ran %d times of %d; want all: %v", got, tc.n, tc.ranAll)
			}
		})
	}
}

func TestWaitDrain(t *testing.T) {
	const stall = 50 * time.Millisecond
	tests := []struct {
		name      string
		cancelled bool
		step      int64 // got grows by step each look
		start     int64
		want      int64
		minWait   time.Duration // waitDrain returns no sooner
		maxWait   time.Duration // and no later
		reached   bool          // got reached want
	}{
		{name: "all arrived", start: 5, want: 5, maxWait: stall, reached: true},
		{name: "stalled", start: 3, want: 5, minWait: stall, maxWait: 10 * stall},
		// Slow progress, each step within -drain, outlasts -drain.
		{name: "progress", step: 1, want: 60, minWait: 2 * stall, maxWait: 100 * stall, reached: true},
		{name: "context ended", cancelled: true, start: 0, want: 5, maxWait: stall},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.cancelled {
				ctx = endedContext()
			}
			got := tc.start
			start := time.Now()
			waitDrain(ctx, stall, func() (int64, int64) {
				got += tc.step
				return got, tc.want
			})
			took := time.Since(start)
			if took < tc.minWait || took > tc.maxWait {
				t.Errorf("waitDrain took %v, want %v to %v", took, tc.minWait, tc.maxWait)
			}
			if (got >= tc.want) != tc.reached {
				t.Errorf("returned at %d of %d", got, tc.want)
			}
		})
	}
}

// endedContext is a context that has already ended (canceled).
func endedContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
