package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
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

// Storage backends a server can run on (serverOpts.Backend); backends
// lists the ones a per-backend test runs on.
const (
	backendSQLite = "sqlite"
	backendMySQL  = "mysql"
	// mysqlDSNEnv points the MySQL runs at a server whose user may create
	// and drop databases named ringd_test*; scripts/test.sh starts a
	// throwaway MariaDB and sets it (scripts/mariadb.sh).
	mysqlDSNEnv = "RINGD_TEST_MYSQL_DSN"
)

// serverOpts configures startServer. The zero value starts a server with
// an empty SQLite store in a fresh data directory (so ringd creates the
// admin).
type serverOpts struct {
	Users   []user // created with `ringd user add` before the start
	DataDir string // "" = a fresh directory; set it to restart on a store
	// Backend is backendSQLite ("" too: the store is a file under
	// DataDir) or backendMySQL: a fresh database on the server that
	// RINGD_TEST_MYSQL_DSN names, dropped when the test ends. Without
	// that variable startServer skips the test (fails it under CI=true).
	Backend string
	// OfflineQuota is [offline] quota, messages kept per offline account;
	// 0 leaves the key out, so ringd's default (1000) applies.
	OfflineQuota int
}

// Server is one ringd, possibly run several times (restart) on the same
// config, data directory and database. Addresses are host:port as the
// current run logged them; they are all enabled.
type Server struct {
	C2S       string // STARTTLS
	C2STLS    string // direct TLS
	WebSocket string
	Metrics   string
	DataDir   string
	Config    string // path of the TOML file
	Backend   string // backendSQLite or backendMySQL
	DSN       string // the MySQL database, with backendMySQL

	proc *process   // the current run
	runs []*lineLog // output of every run so far, the current one last
}

// process is one run of `ringd serve`.
type process struct {
	cmd      *exec.Cmd
	out      *lineLog // stdout and stderr, interleaved
	exited   chan struct{}
	waitErr  error // valid once exited is closed
	stopOnce sync.Once
}

// startServer writes a config with port-0 listeners, creates opts.Users,
// starts ringd and waits until it has logged every listener. t.Cleanup
// stops it (SIGTERM, SIGKILL after 10 s), shows the output of every run if
// the test failed, and then drops a MySQL database it created.
func startServer(t *testing.T, opts serverOpts) *Server {
	t.Helper()
	requireE2E(t)
	dir := t.TempDir()
	s := &Server{
		DataDir: opts.DataDir,
		Config:  filepath.Join(dir, "ringd.toml"),
		Backend: opts.Backend,
	}
	if s.DataDir == "" {
		s.DataDir = filepath.Join(dir, "data")
	}
	switch s.Backend {
	case "", backendSQLite:
		s.Backend = backendSQLite
	case backendMySQL:
		s.DSN = freshMySQLDatabase(t) // its cleanup runs after the one below
	default:
		t.Fatalf("serverOpts.Backend: unknown backend %q", opts.Backend)
	}
	if err := os.WriteFile(s.Config, []byte(serverConfig(s, opts)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() || *flagLogs {
			for i, out := range s.runs {
				t.Logf("ringd output, run %d of %d (%s, %s):\n%s", i+1, len(s.runs), s.Backend, s.Config, out)
			}
		}
	})
	for _, u := range opts.Users {
		s.AddUser(t, u)
	}
	s.launch(t)
	return s
}

// launch starts a run of ringd on s's config and waits until it has logged
// every listener.
func (s *Server) launch(t *testing.T) {
	t.Helper()
	p := &process{out: &lineLog{}, exited: make(chan struct{})}
	p.cmd = exec.Command(harness.ringd, "serve", "-config", s.Config)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = childProcAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start ringd: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	s.proc = p
	s.runs = append(s.runs, p.out)

	var addrs map[string]string
	ready := poll(startTimeout, func() bool {
		addrs = p.out.listeners()
		return !p.running() || len(addrs) == 4
	})
	switch {
	case !p.running():
		t.Fatalf("ringd exited before it listened: %v", p.waitErr)
	case !ready:
		t.Fatalf("ringd logged listeners %v within %v, want c2s, c2s-tls, websocket and metrics", addrs, startTimeout)
	}
	s.C2S, s.C2STLS = addrs["c2s"], addrs["c2s-tls"]
	s.WebSocket, s.Metrics = addrs["websocket"], addrs["metrics"]
}

// restart starts ringd again on the same config, data directory and
// database, after Kill9 or Stop (a server still running is stopped first,
// gracefully), and learns the new run's ports from its log.
func (s *Server) restart(t *testing.T) {
	t.Helper()
	s.Stop(t)
	s.launch(t)
}

// serverConfig is a ringd config for the test: every listener on a
// loopback port chosen by the kernel, self-signed TLS, the backend's
// storage, and opts' limits.
func serverConfig(s *Server, opts serverOpts) string {
	storage := "driver = \"sqlite\"\n"
	if s.Backend == backendMySQL {
		storage = fmt.Sprintf("driver = \"mysql\"\ndsn = %s\n", tomlString(s.DSN))
	}
	offline := ""
	if opts.OfflineQuota != 0 {
		offline = fmt.Sprintf("\n[offline]\nquota = %d\n", opts.OfflineQuota)
	}
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
%s%s`, domain, tomlString(s.DataDir), storage, offline)
}

// tomlString quotes s as a TOML literal string (no escapes at all).
func tomlString(s string) string {
	if strings.ContainsAny(s, "'\n") {
		panic("e2e: value not representable as a TOML literal string: " + s)
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

// Running reports whether the current run of ringd is still alive.
func (s *Server) Running() bool { return s.proc != nil && s.proc.running() }

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Output is everything the current run of ringd wrote to stdout and
// stderr so far.
func (s *Server) Output() []string {
	if s.proc == nil {
		return nil
	}
	return s.proc.out.lines()
}

// Stop ends the current run: SIGTERM, then SIGKILL after 10 s. It fails
// the test if the server had already died, needed SIGKILL, exited with a
// non-zero status, or (built with -race) reported a data race. Calling it
// again, or after Kill9, does nothing.
func (s *Server) Stop(t *testing.T) {
	t.Helper()
	p := s.proc
	if p == nil {
		return
	}
	p.stopOnce.Do(func() {
		if err := p.terminate(); err != nil {
			t.Error(err)
		}
		p.checkRace(t)
	})
}

// Kill9 ends the current run the hard way, as a crash or `kill -9` would:
// SIGKILL, then it waits for the process to be gone. Nothing ringd keeps
// in memory survives; what it wrote to storage must. It fails the test if
// the server had already died or (built with -race) reported a data race.
func (s *Server) Kill9(t *testing.T) {
	t.Helper()
	p := s.proc
	if p == nil {
		t.Fatal("Kill9: ringd was never started")
	}
	killed := false
	p.stopOnce.Do(func() {
		killed = true
		if !p.running() {
			t.Errorf("ringd exited on its own before kill -9: %v", p.waitErr)
			return
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("SIGKILL ringd: %v", err)
		}
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-p.exited:
		case <-timer.C:
			t.Errorf("ringd still running %v after SIGKILL", stopTimeout)
		}
		p.checkRace(t)
	})
	if !killed {
		t.Fatal("Kill9: ringd was already stopped")
	}
}

func (p *process) checkRace(t *testing.T) {
	t.Helper()
	if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
		t.Errorf("ringd (built with -race) reported a data race; see its output")
	}
}

func (p *process) terminate() error {
	if !p.running() {
		return fmt.Errorf("ringd exited on its own during the test: %v", p.waitErr)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM ringd: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("ringd still running %v after SIGTERM; killed it", stopTimeout)
	}
	if p.waitErr != nil {
		return fmt.Errorf("ringd exit after SIGTERM: got %v, want exit status 0", p.waitErr)
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

// Metric is the value of the Prometheus metric name on the current run's
// /metrics page, summed over its label sets; 0 if it has none yet.
func (s *Server) Metric(t *testing.T, name string) float64 {
	t.Helper()
	client := http.Client{Timeout: commandTimeout}
	resp, err := client.Get("http://" + s.Metrics + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: status %s, read error %v", resp.Status, err)
	}
	var sum float64
	for line := range strings.Lines(string(body)) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // a comment, or another metric name sharing the prefix
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) == 0 {
			t.Fatalf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			t.Fatalf("metrics: %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
