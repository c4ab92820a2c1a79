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
	harness.ringd = filepath.Join(tmp, "ringd")
	args := []string{"build", "-o", harness.ringd}
	if os.Getenv("RINGD_E2E_RACE") != "" {
		args = append(args, "-race") // the server under the race detector
	}
	build := exec.Command("go", append(args, "./cmd/ringd")...)
	build.Dir = root
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s ./cmd/ringd: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built ringd in %v\n", time.Since(start).Round(time.Millisecond))
	}

	harness.clientsDir = filepath.Join(root, "e2e", "clients")
	if out, err := exec.Command(*flagPython, "-c", "import slixmpp").CombinedOutput(); err != nil {
		harness.clientsErr = fmt.Errorf("%s -c 'import slixmpp': %v: %s", *flagPython, err, bytes.TrimSpace(out))
	}
	return m.Run()
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
func inCI() bool {
	switch os.Getenv("CI") {
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
