package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchSummary is the part of ringbench's JSON summary the smoke test
// checks (docs/performance.md, "ringbench", lists every field).
type benchSummary struct {
	Tool     string           `json:"tool"`
	Scenario string           `json:"scenario"`
	Target   string           `json:"target"`
	Op       string           `json:"op"`
	Counts   map[string]int64 `json:"counts"`
	Rate     float64          `json:"rate"`
	Latency  struct {
		N                             int64
		P50, P90, P99, P999, Max, Min float64
	} `json:"latency_us"`
	Phases       map[string]json.RawMessage `json:"phases_us"`
	Loss         int64                      `json:"loss"`
	Errors       int64                      `json:"errors"`
	ErrorSamples []string                   `json:"error_samples"`
	Server       *struct {
		PID        int     `json:"pid"`
		CPUS       float64 `json:"cpu_s"`
		CPUUsPerOp float64 `json:"cpu_us_per_op"`
		RSSAfterKB int64   `json:"rss_after_kb"`
	} `json:"server"`
	Client struct {
		CPUS float64 `json:"cpu_s"`
	} `json:"client"`
	OK bool `json:"ok"`
}

// TestRingbench is the smoke run of cmd/ringbench against the real
// server: it provisions accounts with `ringbench provision`, then runs
// every scenario with small counts and checks for zero loss and a
// coherent summary. It asserts nothing about speed.
func TestRingbench(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	bin := buildRingbench(t)
	s := startServer(t, serverOpts{})
	const password = "bench-pw"

	runBench(t, bin, 0, "provision", "-target", "ringd", "-ringd-bin", harness.ringd, "-ringd-config", s.Config,
		"-users", "12", "-password", password, "-quiet")
	// Idempotent: a second run finds every account.
	out := runBench(t, bin, 0, "provision", "-target", "ringd", "-ringd-bin", harness.ringd, "-ringd-config", s.Config,
		"-users", "12", "-password", password, "-quiet")
	if !strings.Contains(string(out), `"existing": 12`) || !strings.Contains(string(out), `"created": 0`) {
		t.Fatalf("second provision: %s", out)
	}

	pid := strconv.Itoa(s.proc.cmd.Process.Pid)
	common := []string{"-password", password, "-server-pid", pid, "-timeout", "20s", "-quiet"}
	tests := []struct {
		name  string
		args  []string
		op    string
		count string // the counter that must equal want
		want  int64
	}{
		{"connect", []string{"connect", "-addr", s.C2S, "-users", "12", "-rate", "300/s", "-hold", "100ms"}, "session", "established", 12},
		{"connect-direct-tls-sha256", []string{"connect", "-addr", s.C2STLS, "-tls", "direct", "-mech", "SCRAM-SHA-256", "-users", "4", "-rate", "0"}, "session", "established", 4},
		{"messages", []string{"messages", "-addr", s.C2S, "-pairs", "4", "-window", "16", "-count", "4000"}, "message", "received", 4000},
		{"messages-paced", []string{"messages", "-addr", s.C2S, "-pairs", "2", "-count", "600", "-rate", "2000/s", "-size", "300"}, "message", "received", 600},
		{"presence", []string{"presence", "-addr", s.C2S, "-users", "8", "-contacts", "3", "-count", "400", "-rate", "0", "-window", "50"}, "delivery", "deliveries", 1200},
		// Again on the rosters the first run made, with fewer contacts:
		// the tool removes the extra ones first.
		{"presence-rosters-reused", []string{"presence", "-addr", s.C2S, "-users", "8", "-contacts", "2", "-count", "200", "-rate", "1000/s"}, "delivery", "deliveries", 400},
		{"calls", []string{"calls", "-addr", s.C2S, "-pairs", "3", "-count", "150", "-rate", "300/s"}, "call", "set_up", 150},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "summary.json")
			out := runBench(t, bin, 0, append(append(tc.args, common...), "-json", jsonPath)...)
			var sum benchSummary
			if err := json.Unmarshal(out, &sum); err != nil {
				t.Fatalf("summary is not one JSON object: %v\n%s", err, out)
			}
			if file, err := os.ReadFile(jsonPath); err != nil || !bytes.Equal(file, out) {
				t.Errorf("-json file differs from stdout (%v)", err)
			}
			if !sum.OK || sum.Loss != 0 || sum.Errors != 0 {
				t.Errorf("ok %v, loss %d, errors %d %q", sum.OK, sum.Loss, sum.Errors, sum.ErrorSamples)
			}
			if sum.Tool != "ringbench" || sum.Scenario != tc.args[0] || sum.Op != tc.op || !strings.HasPrefix(sum.Target, "127.0.0.1:") {
				t.Errorf("tool %q, scenario %q, op %q, target %q", sum.Tool, sum.Scenario, sum.Op, sum.Target)
			}
			if got := sum.Counts[tc.count]; got != tc.want {
				t.Errorf("counts[%s] = %d, want %d (counts %v)", tc.count, got, tc.want, sum.Counts)
			}
			l := sum.Latency
			if l.N != tc.want || l.P50 <= 0 || l.Min > l.P50 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
				t.Errorf("latency percentiles are not a distribution of %d values: %+v", tc.want, l)
			}
			if sum.Rate <= 0 {
				t.Errorf("rate %v", sum.Rate)
			}
			if sum.Server == nil || strconv.Itoa(sum.Server.PID) != pid || sum.Server.RSSAfterKB <= 0 || sum.Server.CPUS < 0 {
				t.Errorf("server figures: %+v", sum.Server)
			}
			if tc.op == "session" || tc.op == "call" {
				if len(sum.Phases) == 0 {
					t.Error("no per-phase latencies")
				}
			}
		})
	}

	t.Run("wrong-password-fails", func(t *testing.T) {
		out := runBench(t, bin, 1, "connect", "-addr", s.C2S, "-users", "2", "-password", "wrong", "-timeout", "20s", "-quiet")
		var sum benchSummary
		if err := json.Unmarshal(out, &sum); err != nil {
			t.Fatalf("summary: %v\n%s", err, out)
		}
		if sum.OK || sum.Counts["failed"] != 2 || len(sum.ErrorSamples) == 0 || !strings.Contains(sum.ErrorSamples[0], "not-authorized") {
			t.Errorf("a failed login is not reported: %s", out)
		}
	})
}

// buildRingbench builds cmd/ringbench for the test (with -race when ringd
// is built with it).
func buildRingbench(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ringbench")
	if err := goBuild(root, bin, "./cmd/ringbench"); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runBench runs ringbench to completion and returns its stdout; it fails
// the test unless the exit status is want.
func runBench(t *testing.T, bin string, want int, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = childProcAttr()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("ringbench %s: %v", strings.Join(args, " "), err)
	}
	if code != want || (*flagLogs && stderr.Len() > 0) {
		t.Logf("ringbench %s\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), stderr.String(), stdout.String())
	}
	if code != want {
		t.Fatalf("ringbench %s: exit status %d, want %d", args[0], code, want)
	}
	return stdout.Bytes()
}
