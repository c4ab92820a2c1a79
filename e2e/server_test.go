package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	domain         = "localhost"
	startTimeout   = 20 * time.Second // ringd start → every listener logged
	stopTimeout    = 10 * time.Second // SIGTERM → exit, before SIGKILL
	commandTimeout = 30 * time.Second // one `ringd user …` run
)

// user is an account the test creates with `ringd user add`.
type user struct {
	JID      string // bare
	Password string
}

var (
	alice = user{"alice@localhost", "alice-secret-1"}
	bob   = user{"bob@localhost", "bob-pässwörd-2"} // SASLprep sees non-ASCII
)

// serverOpts configures startServer. The zero value starts a server with
// an empty store in a fresh data directory (so ringd creates the admin).
type serverOpts struct {
	Users   []user // created with `ringd user add` before the start
	DataDir string // "" = a fresh directory; set it to restart on a store
}

// Server is one running ringd process. Addresses are host:port as ringd
// logged them; they are all enabled.
type Server struct {
	C2S       string // STARTTLS
	C2STLS    string // direct TLS
	WebSocket string
	Metrics   string
	DataDir   string
	Config    string // path of the TOML file

	cmd      *exec.Cmd
	out      *lineLog // stdout and stderr, interleaved
	exited   chan struct{}
	waitErr  error // valid once exited is closed
	stopOnce sync.Once
}

// startServer writes a config with port-0 listeners, creates opts.Users,
// starts ringd and waits until it has logged every listener. t.Cleanup
// stops it (SIGTERM, SIGKILL after 10 s) and shows its output if the test
// failed.
func startServer(t *testing.T, opts serverOpts) *Server {
	t.Helper()
	requireE2E(t)
	dir := t.TempDir()
	s := &Server{
		DataDir: opts.DataDir,
		Config:  filepath.Join(dir, "ringd.toml"),
		out:     &lineLog{},
		exited:  make(chan struct{}),
	}
	if s.DataDir == "" {
		s.DataDir = filepath.Join(dir, "data")
	}
	if err := os.WriteFile(s.Config, []byte(serverConfig(s.DataDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range opts.Users {
		s.AddUser(t, u)
	}

	s.cmd = exec.Command(harness.ringd, "serve", "-config", s.Config)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	s.cmd.SysProcAttr = childProcAttr()
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start ringd: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() || *flagLogs {
			t.Logf("ringd output (%s):\n%s", s.Config, s.out)
		}
	})

	var addrs map[string]string
	ready := poll(startTimeout, func() bool {
		addrs = s.out.listeners()
		return !s.Running() || len(addrs) == 4
	})
	switch {
	case !s.Running():
		t.Fatalf("ringd exited before it listened: %v", s.waitErr)
	case !ready:
		t.Fatalf("ringd logged listeners %v within %v, want c2s, c2s-tls, websocket and metrics", addrs, startTimeout)
	}
	s.C2S, s.C2STLS = addrs["c2s"], addrs["c2s-tls"]
	s.WebSocket, s.Metrics = addrs["websocket"], addrs["metrics"]
	return s
}

// serverConfig is a ringd config for the test: every listener on a
// loopback port chosen by the kernel, self-signed TLS, SQLite.
func serverConfig(dataDir string) string {
	return fmt.Sprintf(`domain = %q
data_dir = %s
log_level = "debug"

[c2s]
listen = "127.0.0.1:0"
listen_tls = "127.0.0.1:0"

[websocket]
listen = "127.0.0.1:0"

[metrics]
listen = "127.0.0.1:0"

[tls]
cert = ""
key = ""

[storage]
driver = "sqlite"
`, domain, tomlString(dataDir))
}

// tomlString quotes s as a TOML literal string (no escapes at all).
func tomlString(s string) string {
	if strings.ContainsAny(s, "'\n") {
		panic("e2e: path not representable as a TOML literal string: " + s)
	}
	return "'" + s + "'"
}

// AddUser runs `ringd user add` against the server's config; it works
// before the start and while the server runs.
func (s *Server) AddUser(t *testing.T, u user) {
	t.Helper()
	runRingd(t, "user", "add", "-config", s.Config, "-password", u.Password, u.JID)
}

// runRingd runs one ringd command to completion and returns its output.
func runRingd(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.ringd, args...)
	cmd.SysProcAttr = childProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ringd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Running reports whether the ringd process is still alive.
func (s *Server) Running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Output is everything ringd wrote to stdout and stderr so far.
func (s *Server) Output() []string { return s.out.lines() }

// Stop ends the server: SIGTERM, then SIGKILL after 10 s. It fails the
// test if the server had already died, needed SIGKILL, exited with a
// non-zero status, or (built with -race) reported a data race. Calling it
// again does nothing.
func (s *Server) Stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		if err := s.terminate(); err != nil {
			t.Error(err)
		}
		if strings.Contains(s.out.String(), "WARNING: DATA RACE") {
			t.Errorf("ringd (built with -race) reported a data race; see its output")
		}
	})
}

func (s *Server) terminate() error {
	if !s.Running() {
		return fmt.Errorf("ringd exited on its own during the test: %v", s.waitErr)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM ringd: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.exited:
	case <-timer.C:
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("ringd still running %v after SIGTERM; killed it", stopTimeout)
	}
	if s.waitErr != nil {
		return fmt.Errorf("ringd exit after SIGTERM: got %v, want exit status 0", s.waitErr)
	}
	return nil
}

// lineLog collects a process's output and finds ringd's listener lines.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the complete lines written so far.
func (l *lineLog) lines() []string {
	s := l.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

// listeners maps listener name to address, from ringd's slog lines such
// as `time=… level=INFO msg=listening listener=c2s addr=127.0.0.1:40001`.
func (l *lineLog) listeners() map[string]string {
	addrs := make(map[string]string)
	for _, line := range l.lines() {
		kv := parseLogfmt(line)
		if kv["msg"] == "listening" && kv["listener"] != "" && kv["addr"] != "" {
			addrs[kv["listener"]] = kv["addr"]
		}
	}
	return addrs
}

// parseLogfmt splits a slog text line into its key=value pairs; quoted
// values are unquoted. Words that are not key=value are ignored.
func parseLogfmt(line string) map[string]string {
	kv := make(map[string]string)
	for line != "" {
		line = strings.TrimLeft(line, " ")
		eq := strings.IndexByte(line, '=')
		sp := strings.IndexByte(line, ' ')
		if eq < 0 {
			break
		}
		if sp >= 0 && sp < eq { // a bare word
			line = line[sp:]
			continue
		}
		key, rest := line[:eq], line[eq+1:]
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := closingQuote(rest)
			v, err := strconv.Unquote(rest[:end])
			if err != nil {
				v = rest[:end]
			}
			value, line = v, rest[end:]
		} else if i := strings.IndexByte(rest, ' '); i >= 0 {
			value, line = rest[:i], rest[i:]
		} else {
			value, line = rest, ""
		}
		kv[key] = value
	}
	return kv
}

// closingQuote returns the index just past the quoted string that s starts
// with (or len(s) if it is not closed).
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s)
}
