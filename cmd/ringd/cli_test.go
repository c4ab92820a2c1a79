package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/xmpp/scram"
	"github.com/ringd/ringd/xmpp/server"
)

// runCLI runs the program in process with stdin as standard input.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeConfig writes a config file for domain whose store lives under a
// fresh temporary directory, and returns its path.
func writeConfig(t *testing.T, domain string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ringd.toml")
	text := fmt.Sprintf("domain = %q\ndata_dir = %q\n", domain, filepath.Join(dir, "data"))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkPassword reports whether password authenticates user (a localpart)
// against the store cfg names, through SASL PLAIN as the server runs it.
func checkPassword(t *testing.T, cfgPath, user, password string) bool {
	t.Helper()
	s, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := server.OpenStore(t.Context(), s.server)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	defer st.Close()
	srv, err := scram.NewServer(scram.Plain, st.Credentials,
		scram.WithSecret([]byte("0123456789abcdef")), scram.WithTLS(true), scram.WithDomain(s.domain()))
	if err != nil {
		t.Fatal(err)
	}
	_, done, err := srv.Step(t.Context(), []byte("\x00"+user+"\x00"+password))
	return err == nil && done
}

// step is one command of a scripted session.
type step struct {
	name       string
	args       []string
	stdin      string
	wantCode   int
	wantStdout string
	wantStderr string // exact; "" means nothing
}

func runSteps(t *testing.T, steps []step) {
	t.Helper()
	for _, st := range steps {
		code, stdout, stderr := runCLI(t, st.stdin, st.args...)
		if code != st.wantCode {
			t.Errorf("%s: run(%q) = %d, want %d (stderr %q)", st.name, st.args, code, st.wantCode, stderr)
		}
		if stdout != st.wantStdout {
			t.Errorf("%s: run(%q) stdout = %q, want %q", st.name, st.args, stdout, st.wantStdout)
		}
		if stderr != st.wantStderr {
			t.Errorf("%s: run(%q) stderr = %q, want %q", st.name, st.args, stderr, st.wantStderr)
		}
	}
}

func TestUserRoundTrip(t *testing.T) {
	cfg := writeConfig(t, "localhost")
	runSteps(t, []step{
		{name: "list empty", args: []string{"user", "list", "-config", cfg}},
		{name: "add with flag", args: []string{"user", "add", "-config", cfg, "-password", "s3cret-alice", "alice@localhost"}},
		{name: "add from stdin", args: []string{"user", "add", "-config", cfg, "bob@localhost"}, stdin: "s3cret-bob\n"},
		{name: "add normalises", args: []string{"user", "add", "-config", cfg, "-password", "x", "Carol@LOCALHOST"}},
		{name: "add a.b", args: []string{"user", "add", "-config", cfg, "-password", "x", "a.b@localhost"}},
		{
			name:       "duplicate add",
			args:       []string{"user", "add", "-config", cfg, "-password", "other", "Alice@localhost"},
			wantCode:   1,
			wantStderr: "ringd: user add: alice@localhost already exists\n",
		},
		{
			name:       "list sorted",
			args:       []string{"user", "list", "-config", cfg},
			wantStdout: "a.b@localhost\nalice@localhost\nbob@localhost\ncarol@localhost\n",
		},
		{name: "passwd from stdin", args: []string{"user", "passwd", "-config", cfg, "alice@localhost"}, stdin: "new-alice\r\nignored\n"},
		{name: "del", args: []string{"user", "del", "-config", cfg, "bob@localhost"}},
		{
			name:       "del again",
			args:       []string{"user", "del", "-config", cfg, "bob@localhost"},
			wantCode:   1,
			wantStderr: "ringd: user del: bob@localhost does not exist\n",
		},
		{
			name:       "passwd missing user",
			args:       []string{"user", "passwd", "-config", cfg, "-password", "x", "bob@localhost"},
			wantCode:   1,
			wantStderr: "ringd: user passwd: bob@localhost does not exist\n",
		},
		{
			name:       "list after del",
			args:       []string{"user", "list", "-config", cfg},
			wantStdout: "a.b@localhost\nalice@localhost\ncarol@localhost\n",
		},
	})
	tests := []struct {
		user, password string
		want           bool
	}{
		{"alice", "new-alice", true},
		{"alice", "s3cret-alice", false},
		{"carol", "x", true},
	}
	for _, tc := range tests {
		if got := checkPassword(t, cfg, tc.user, tc.password); got != tc.want {
			t.Errorf("password %q for %s accepted = %v, want %v", tc.password, tc.user, got, tc.want)
		}
	}
}

func TestUserFlagsAfterJID(t *testing.T) {
	cfg := writeConfig(t, "example.org")
	runSteps(t, []step{
		{name: "flags after", args: []string{"user", "add", "alice@example.org", "-password", "pw1", "-config", cfg}},
		{name: "flags around", args: []string{"user", "add", "-config", cfg, "bob@example.org", "-password", "pw2"}},
		{name: "passwd flags after", args: []string{"user", "passwd", "bob@example.org", "-config", cfg, "-password=pw3"}},
		{name: "list", args: []string{"user", "list", "-config", cfg}, wantStdout: "alice@example.org\nbob@example.org\n"},
		{name: "del flags after", args: []string{"user", "del", "alice@example.org", "-config", cfg}},
		{name: "list after del", args: []string{"user", "list", "-config", cfg}, wantStdout: "bob@example.org\n"},
	})
	if !checkPassword(t, cfg, "bob", "pw3") {
		t.Errorf("password %q for bob not accepted", "pw3")
	}
}

func TestPasswordFromStdin(t *testing.T) {
	tests := []struct {
		name     string
		stdin    string
		password string // accepted afterwards; "" when the add fails
		wantErr  string
	}{
		{name: "newline", stdin: "pw one\n", password: "pw one"},
		{name: "no newline", stdin: "pw-two", password: "pw-two"},
		{name: "crlf", stdin: "pw3\r\n", password: "pw3"},
		{name: "first line only", stdin: "pw4\nsecond\n", password: "pw4"},
		{name: "empty input", stdin: "", wantErr: "ringd: user add: no password on standard input (or give -password)\n"},
		{name: "empty line", stdin: "\n", wantErr: "ringd: user add: empty password\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, "localhost")
			args := []string{"user", "add", "-config", cfg, "alice@localhost"}
			code, _, stderr := runCLI(t, tc.stdin, args...)
			if tc.wantErr != "" {
				if code != exitFail || stderr != tc.wantErr {
					t.Errorf("run(%q) = %d, stderr %q; want %d, %q", args, code, stderr, exitFail, tc.wantErr)
				}
				return
			}
			if code != exitOK {
				t.Fatalf("run(%q) = %d, want %d (stderr %q)", args, code, exitOK, stderr)
			}
			if !checkPassword(t, cfg, "alice", tc.password) {
				t.Errorf("password %q not accepted after stdin %q", tc.password, tc.stdin)
			}
		})
	}
}

// TestUserErrors checks that every failure of a user command is one line
// on stderr, with exit code 1, or 2 for a wrong command line.
func TestUserErrors(t *testing.T) {
	cfg := writeConfig(t, "localhost")
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(badKey, []byte("domain = \"localhost\"\nlisten = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.toml")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string // the first line, exactly
	}{
		{"bad JID", []string{"user", "add", "-config", cfg, "-password", "x", "alice@@localhost"}, 1,
			`ringd: user add: "alice@@localhost" is not a valid JID: `},
		{"space in localpart", []string{"user", "add", "-config", cfg, "-password", "x", "al ice@localhost"}, 1,
			`ringd: user add: "al ice@localhost" is not a valid JID: `},
		{"no localpart", []string{"user", "add", "-config", cfg, "-password", "x", "localhost"}, 1,
			`ringd: user add: "localhost" has no user part; want user@localhost`},
		{"full JID", []string{"user", "del", "-config", cfg, "alice@localhost/phone"}, 1,
			`ringd: user del: "alice@localhost/phone" has a resource; want a bare JID such as alice@localhost`},
		{"wrong domain", []string{"user", "add", "-config", cfg, "-password", "x", "alice@example.org"}, 1,
			`ringd: user add: alice@example.org is not in the served domain localhost`},
		{"wrong domain without config", []string{"user", "passwd", "-password", "x", "alice@example.org"}, 1,
			`ringd: user passwd: alice@example.org is not in the served domain localhost`},
		{"empty password flag", []string{"user", "add", "-config", cfg, "-password", "", "alice@localhost"}, 1,
			`ringd: user add: empty password`},
		{"missing config", []string{"user", "list", "-config", missing}, 1,
			"ringd: user list: config: open " + missing + ": no such file or directory"},
		{"unknown config key", []string{"user", "add", "-config", badKey, "-password", "x", "alice@localhost"}, 1,
			"ringd: user add: config " + badKey + ": unknown key listen"},
		{"missing JID", []string{"user", "add", "-config", cfg, "-password", "x"}, 2,
			"ringd: user add: missing JID"},
		{"two JIDs", []string{"user", "del", "-config", cfg, "a@localhost", "b@localhost"}, 2,
			`ringd: user del: unexpected argument "b@localhost" after the JID`},
		{"unknown flag", []string{"user", "add", "-pasword", "x", "alice@localhost"}, 2,
			"ringd: user add: flag provided but not defined: -pasword"},
		{"list argument", []string{"user", "list", "-config", cfg, "alice@localhost"}, 2,
			`ringd: user list: unexpected argument "alice@localhost"`},
		{"no sub-command", []string{"user"}, 2,
			"ringd: user: missing sub-command (add, del, passwd or list)"},
		{"unknown sub-command", []string{"user", "rm", "alice@localhost"}, 2,
			`ringd: user: unknown sub-command "rm" (want add, del, passwd or list)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			if code != tc.wantCode {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tc.args, code, tc.wantCode, stderr)
			}
			first, rest, _ := strings.Cut(stderr, "\n")
			if want := tc.wantStderr; strings.HasSuffix(want, " ") {
				if !strings.HasPrefix(first, want) {
					t.Errorf("run(%q) stderr = %q, want first line starting %q", tc.args, stderr, want)
				}
			} else if first != want {
				t.Errorf("run(%q) stderr = %q, want first line %q", tc.args, stderr, want)
			}
			if tc.wantCode == exitFail && rest != "" {
				t.Errorf("run(%q) stderr = %q, want one line", tc.args, stderr)
			}
			if tc.wantCode == exitUsage && !strings.HasPrefix(rest, "usage: ringd ") && !strings.HasPrefix(rest, `run "ringd help"`) {
				t.Errorf("run(%q) stderr = %q, want a usage line after the error", tc.args, stderr)
			}
			if stdout != "" {
				t.Errorf("run(%q) stdout = %q, want nothing", tc.args, stdout)
			}
		})
	}
}

func TestNoPasswordInOutput(t *testing.T) {
	cfg := writeConfig(t, "localhost")
	const pw = "hunter2-very-secret"
	for _, args := range [][]string{
		{"user", "add", "-config", cfg, "-password", pw, "alice@localhost"},
		{"user", "add", "-config", cfg, "-password", pw, "alice@localhost"},  // exists
		{"user", "add", "-config", cfg, "-password", pw, "bob@example.org"},  // wrong domain
		{"user", "passwd", "-config", cfg, "-password", pw, "bob@localhost"}, // missing
		{"user", "add", "-config", cfg, "-password", pw, "-bogus"},           // usage
	} {
		_, stdout, stderr := runCLI(t, pw+"\n", args...)
		if strings.Contains(stdout+stderr, pw) {
			t.Errorf("run(%q) output %q contains the password", args, stdout+stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	want := regexp.MustCompile(`^ringd dev \(go1\.[0-9]+[^)]*\)\n$`)
	tests := []struct {
		name string
		args []string
	}{
		{"plain", []string{"version"}},
		{"with config", []string{"version", "-config", "ignored.toml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			if code != exitOK || !want.MatchString(stdout) || stderr != "" {
				t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, stdout matching %s", tc.args, code, stdout, stderr, exitOK, want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{"help", []string{"help"}, 0, "usage: ringd [COMMAND]", ""},
		{"-h", []string{"-h"}, 0, "user add [-config FILE] [-password PASSWORD] JID", ""},
		{"user help", []string{"user", "-h"}, 0, "user passwd", ""},
		{"command help", []string{"user", "add", "-h"}, 0, "-password PASSWORD", ""},
		{"serve help", []string{"serve", "-help"}, 0, "-log-level LEVEL", ""},
		{"unknown command", []string{"frob"}, 2, "", "ringd: unknown command \"frob\"\nrun \"ringd help\" for the list of commands\n"},
		{"version argument", []string{"version", "now"}, 2, "", "ringd: version: unexpected argument \"now\"\n"},
		{"serve argument", []string{"serve", "extra"}, 2, "", "ringd: serve: unexpected argument \"extra\"\n"},
		{"flags before the command", []string{"-config", "x.toml", "user", "list"}, 2, "", "ringd: serve: unexpected argument \"user\": flags go after the command name, as in \"ringd user list -config FILE\"\n"},
		{"bad log level flag", []string{"-log-level", "loud"}, 2, "", "ringd: serve: invalid value \"loud\" for flag -log-level: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			if code != tc.wantCode {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tc.args, code, tc.wantCode, stderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) || (tc.wantStdout == "" && stdout != "") {
				t.Errorf("run(%q) stdout = %q, want it to contain %q", tc.args, stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) || (tc.wantStderr == "" && stderr != "") {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tc.args, stderr, tc.wantStderr)
			}
		})
	}
}

func TestServeErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badDriver := write("driver.toml", "[storage]\ndriver = \"oracle\"\n")
	badLevel := write("level.toml", "log_level = \"loud\"\n")
	badTOML := write("syntax.toml", "domain = \"x.org\"\ndata_dir = data\n")
	tests := []struct {
		name       string
		args       []string
		wantStderr string // prefix of the only line
	}{
		{"server rejects config", []string{"-config", badDriver}, "ringd: serve: storage: unknown driver \"oracle\""},
		{"bad log_level", []string{"serve", "-config", badLevel}, "ringd: serve: config " + badLevel + ": log_level: "},
		{"bad TOML", []string{"-config", badTOML}, "ringd: serve: config " + badTOML + ":2: data_dir: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tc.args...)
			if code != exitFail {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tc.args, code, exitFail, stderr)
			}
			if !strings.HasPrefix(stderr, tc.wantStderr) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("run(%q) stderr = %q, want one line starting %q", tc.args, stderr, tc.wantStderr)
			}
		})
	}
}

// TestServe runs the server with every listener off until its first-start
// notice appears, then cancels it: it must stop cleanly, exit 0 and log at
// the level asked for (the flag overriding the file).
func TestServe(t *testing.T) {
	tests := []struct {
		name       string
		logLevel   string // in the file
		flags      []string
		wantStderr []string // substrings, in order; nil means no output
	}{
		{"flag overrides file", "error", []string{"-log-level", "info"},
			[]string{"level=INFO msg=starting", `msg="ringd started"`, "msg=stopped"}},
		{"level from file", "warn", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "ringd.toml")
			text := fmt.Sprintf("data_dir = %q\nlog_level = %q\n", filepath.Join(dir, "data"), tc.logLevel) +
				"[c2s]\nlisten = \"-\"\nlisten_tls = \"-\"\n[websocket]\nlisten = \"-\"\n[metrics]\nlisten = \"-\"\n"
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"serve", "-config", cfg}, tc.flags...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, args, strings.NewReader(""), &stdout, &stderr) }()
			waitFor(t, 10*time.Second, func() bool {
				return strings.Contains(stdout.String(), "ringd: created admin@localhost")
			})
			cancel()
			if code := <-done; code != exitOK {
				t.Fatalf("run(%q) = %d, want %d (stderr %q)", args, code, exitOK, stderr.String())
			}
			rest := stderr.String()
			for _, want := range tc.wantStderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("run(%q) stderr = %q, want %q in it (in order)", args, stderr.String(), want)
				}
				rest = rest[i+len(want):]
			}
			if tc.wantStderr == nil && stderr.String() != "" {
				t.Errorf("run(%q) stderr = %q, want nothing", args, stderr.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMigrate(t *testing.T) {
	cfg := writeConfig(t, "localhost")
	tests := []struct {
		name       string
		wantStdout string
	}{
		{"first run creates the schema", "applied 0001_"},
		{"second run has nothing to do", "schema is up to date"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "migrate", "-config", cfg)
			if code != 0 || !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("run(migrate) = %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, tc.wantStdout)
			}
		})
	}
}
