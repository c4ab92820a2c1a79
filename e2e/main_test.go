package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	flagLogs   = flag.Bool("e2e.logs", false, "log ringd output, client events and client debug logs (all XML) even when a test passes")
	flagPython = flag.String("e2e.python", "/usr/bin/python3", "Python interpreter with slixmpp (Debian python3-slixmpp)")
)

// harness is what TestMain prepares once for all tests. It is written
// only by TestMain, before any test runs.
var harness struct {
	ringd      string // path of the ringd binary built from this module
	clientsDir string // e2e/clients, the slixmpp scenario scripts
	clientsErr error  // why the slixmpp clients cannot run, or nil
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // every test skips itself in -short mode
	}
	tmp, err := os.MkdirTemp("", "ringd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if harness.ringd, err = buildRingd(root, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}

	harness.clientsDir = filepath.Join(root, "e2e", "clients")
	if out, err := exec.Command(*flagPython, "-c", "import slixmpp").CombinedOutput(); err != nil {
		if out = bytes.TrimSpace(out); len(out) > 0 {
			err = fmt.Errorf("%w: %s", err, out)
		}
		harness.clientsErr = fmt.Errorf("%s -c 'import slixmpp': %w", *flagPython, err)
	}
	return m.Run()
}

// buildRingd builds ./cmd/ringd into dir and returns the binary's path.
// RINGD_E2E_BINARY names a prebuilt binary to test instead;
// RINGD_E2E_RACE=1 builds with the race detector.
func buildRingd(root, dir string) (string, error) {
	if bin := os.Getenv("RINGD_E2E_BINARY"); bin != "" {
		return filepath.Abs(bin)
	}
	bin := filepath.Join(dir, "ringd")
	start := time.Now()
	if err := goBuild(root, bin, "./cmd/ringd"); err != nil {
		return "", err
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built ringd in %v\n", time.Since(start).Round(time.Millisecond))
	}
	return bin, nil
}

// goBuild builds the package pkg of the module at root into bin, with the
// race detector when RINGD_E2E_RACE is set, so that every binary under
// test is built alike.
func goBuild(root, bin, pkg string) error {
	args := []string{"build", "-o", bin}
	if enabled(os.Getenv("RINGD_E2E_RACE")) {
		args = append(args, "-race")
	}
	args = append(args, pkg)
	build := exec.Command("go", args...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// moduleRoot is the directory holding ringd's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module (go env GOMOD = %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}

// inCI reports whether we run under CI (CI=true), where nothing may skip.
func inCI() bool { return enabled(os.Getenv("CI")) }

// enabled reads a boolean environment variable: unset, "", "0" and
// "false" are off, anything else is on.
func enabled(v string) bool {
	switch strings.ToLower(v) {
	case "", "0", "false":
		return false
	}
	return true
}

// requireE2E skips the test in -short mode.
func requireE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
}

// requireClients skips (outside CI) or fails (in CI) the test when the
// slixmpp clients cannot run.
func requireClients(t *testing.T) {
	t.Helper()
	requireE2E(t)
	if harness.clientsErr == nil {
		return
	}
	msg := fmt.Sprintf("slixmpp clients unavailable (%v); run scripts/test.sh, which installs python3-slixmpp", harness.clientsErr)
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// waitFor polls cond until it returns true and fails the test if that
// takes longer than timeout. It is the only way tests here wait: no sleeps.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("condition not met within %v", timeout)
	}
}

// poll is waitFor without the test: it reports whether cond became true
// within timeout.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}
