package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// provisionConfig creates the benchmark accounts with each server's own
// administration tool: ringbench speaks to servers only as a client, and
// there is no account creation every server offers in-band.
type provisionConfig struct {
	target, prefix, password, domain string
	users, parallel                  int
	ringdBin, ringdConfig            string
	ctl                              string
	timeout                          time.Duration
	quiet                            bool
	jsonPath                         string
}

func runProvision(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var pc provisionConfig
	fs := newFlagSet("provision", stderr)
	fs.StringVar(&pc.target, "target", "", "`server`: ringd, prosody or ejabberd")
	fs.IntVar(&pc.users, "users", 0, "create accounts PREFIX0…PREFIX(N-1); existing ones are kept")
	fs.StringVar(&pc.prefix, "prefix", "bench", "account name `prefix`")
	fs.StringVar(&pc.password, "password", "", "`password` of every account (required)")
	fs.StringVar(&pc.domain, "domain", "localhost", "XMPP `domain`")
	fs.StringVar(&pc.ringdBin, "ringd-bin", "ringd", "ringd binary (target ringd)")
	fs.StringVar(&pc.ringdConfig, "ringd-config", "", "ringd config `FILE` (target ringd)")
	fs.StringVar(&pc.ctl, "ctl", "", "admin command with its arguments, split at spaces (target prosody: \"prosodyctl --config F\"; ejabberd: \"ejabberdctl --config-dir D\")")
	fs.IntVar(&pc.parallel, "parallel", 4, "`commands` run at once where one runs per account (ringd, prosodyctl register)")
	fs.DurationVar(&pc.timeout, "timeout", 30*time.Minute, "hard bound on the whole run")
	fs.BoolVar(&pc.quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&pc.jsonPath, "json", "", "also write the JSON summary to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case pc.users < 1:
		return usagef("-users must be at least 1")
	case pc.password == "":
		return usagef("-password is required")
	case strings.ContainsAny(pc.password, "\n\r\x00"):
		return usagef("-password cannot contain line breaks")
	case pc.prefix == "" || strings.ContainsAny(pc.prefix, "@/: '\"<>&"):
		return usagef("-prefix %q cannot start a user name", pc.prefix)
	case pc.domain == "" || strings.ContainsAny(pc.domain, "@/ '\"<>&"):
		return usagef("-domain %q is not a domain", pc.domain)
	case pc.parallel < 1:
		return usagef("-parallel must be at least 1")
	case pc.timeout <= 0:
		return usagef("-timeout must be positive")
	}
	var prov func(context.Context, *provisionConfig, *provisionResult, io.Writer) error
	switch pc.target {
	case "ringd":
		if pc.ringdConfig == "" {
			return usagef("-target ringd needs -ringd-config")
		}
		prov = provisionRingd
	case "prosody":
		if pc.ctl == "" {
			pc.ctl = "prosodyctl"
		}
		prov = provisionProsody
	case "ejabberd":
		if pc.ctl == "" {
			pc.ctl = "ejabberdctl"
		}
		prov = provisionEjabberd
	default:
		return usagef("-target %q: want ringd, prosody or ejabberd", pc.target)
	}
	ctx, cancel := context.WithTimeout(ctx, pc.timeout)
	defer cancel()
	res := &provisionResult{Tool: "ringbench", Scenario: "provision", Target: pc.target, Users: pc.users}
	start := time.Now()
	err := prov(ctx, &pc, res, stderr)
	res.ElapsedS = round3(time.Since(start).Seconds())
	res.Created = res.created.Load()
	if err != nil {
		res.Error = err.Error()
	}
	res.OK = err == nil
	b, merr := json.MarshalIndent(res, "", "  ")
	if merr != nil {
		return merr
	}
	b = append(b, '\n')
	stdout.Write(b)
	if pc.jsonPath != "" {
		if werr := os.WriteFile(pc.jsonPath, b, 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// provisionResult is provision's JSON summary.
type provisionResult struct {
	Tool     string  `json:"tool"`
	Scenario string  `json:"scenario"`
	Target   string  `json:"target"`
	Users    int     `json:"users"`
	Existing int64   `json:"existing"`
	Created  int64   `json:"created"`
	ElapsedS float64 `json:"elapsed_s"`
	Error    string  `json:"error,omitempty"`
	OK       bool    `json:"ok"`

	created atomic.Int64
}

// ctlCommand splits -ctl into a command and its first arguments.
func (pc *provisionConfig) ctlCommand(args ...string) (string, []string) {
	f := strings.Fields(pc.ctl)
	return f[0], append(f[1:], args...)
}

// command runs one administration command and returns its output.
func command(ctx context.Context, stdin string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return out.Bytes(), nil
}

// missing lists the accounts of the run that are not among existing
// (user names, without domain).
func (pc *provisionConfig) missing(existing map[string]bool, res *provisionResult) []string {
	var out []string
	for i := range pc.users {
		u := userName(pc.prefix, i)
		if existing[u] {
			res.Existing++
			continue
		}
		out = append(out, u)
	}
	return out
}

// parallelEach runs f for every name, pc.parallel at a time, reporting
// progress; it stops at the first error.
func (pc *provisionConfig) parallelEach(ctx context.Context, names []string, stderr io.Writer, f func(context.Context, string) error) error {
	var done atomic.Int64
	stop := progress(pc.quiet, stderr, "provision", func() string {
		return fmt.Sprintf("created %d/%d", done.Load(), len(names))
	})
	defer stop()
	return forEachLimited(ctx, len(names), pc.parallel, func(ctx context.Context, i int) error {
		if err := f(ctx, names[i]); err != nil {
			return err
		}
		done.Add(1)
		return nil
	})
}

// provisionRingd uses `ringd user list` and `ringd user add` (which work
// while the server runs), giving the password on standard input so that
// it does not show in the process list.
func provisionRingd(ctx context.Context, pc *provisionConfig, res *provisionResult, stderr io.Writer) error {
	out, err := command(ctx, "", pc.ringdBin, "user", "list", "-config", pc.ringdConfig)
	if err != nil {
		return err
	}
	existing := make(map[string]bool)
	suffix := "@" + pc.domain
	for line := range strings.Lines(string(out)) {
		if u, ok := strings.CutSuffix(strings.TrimSpace(line), suffix); ok {
			existing[u] = true
		}
	}
	todo := pc.missing(existing, res)
	return pc.parallelEach(ctx, todo, stderr, func(ctx context.Context, u string) error {
		if _, err := command(ctx, pc.password+"\n", pc.ringdBin, "user", "add", "-config", pc.ringdConfig, u+suffix); err != nil {
			return err
		}
		res.created.Add(1)
		return nil
	})
}

// provisionProsody feeds user:create lines to `prosodyctl shell` (one
// process for all accounts; needs the server running with
// mod_admin_shell), or, when the shell cannot connect, runs
// `prosodyctl register` per account. "User exists" counts as done.
func provisionProsody(ctx context.Context, pc *provisionConfig, res *provisionResult, stderr io.Writer) error {
	var in strings.Builder
	for i := range pc.users {
		fmt.Fprintf(&in, "user:create(%s, %s)\n", luaString(userName(pc.prefix, i)+"@"+pc.domain), luaString(pc.password))
	}
	name, args := pc.ctlCommand("shell", "--quiet")
	if !pc.quiet {
		fmt.Fprintf(stderr, "ringbench provision: %s %s with %d user:create lines\n", name, strings.Join(args, " "), pc.users)
	}
	out, err := command(ctx, in.String(), name, args...)
	if err == nil && !bytes.Contains(out, []byte("Unable to connect")) {
		created := int64(bytes.Count(out, []byte("User created")))
		exists := int64(bytes.Count(out, []byte("User exists")))
		res.created.Add(created)
		res.Existing = exists
		if created+exists != int64(pc.users) {
			return fmt.Errorf("prosodyctl shell: %d created and %d existing of %d accounts: %s", created, exists, pc.users, lastLines(out, 5))
		}
		return nil
	}
	if !pc.quiet {
		fmt.Fprintf(stderr, "ringbench provision: prosodyctl shell unavailable (%s); registering one account at a time\n", lastLines(out, 2))
	}
	return pc.parallelEach(ctx, pc.missing(nil, res), stderr, func(ctx context.Context, u string) error {
		name, args := pc.ctlCommand("register", u, pc.domain, pc.password)
		out, err := command(ctx, "", name, args...)
		switch {
		case err == nil:
			res.created.Add(1)
			return nil
		case bytes.Contains(bytes.ToLower(out), []byte("exists")):
			return nil
		}
		return err
	})
}

// luaString quotes s for the Prosody shell.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// provisionEjabberd lists the accounts with `ejabberdctl
// registered_users` and imports the missing ones from a XEP-0227 file
// with `ejabberdctl import_piefxis`: one command instead of one Erlang
// node start (about a second) per account. The file is readable by the
// ejabberd user, which reads it, and removed afterwards.
func provisionEjabberd(ctx context.Context, pc *provisionConfig, res *provisionResult, stderr io.Writer) error {
	name, args := pc.ctlCommand("registered_users", pc.domain)
	out, err := command(ctx, "", name, args...)
	if err != nil {
		return err
	}
	existing := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		existing[strings.TrimSpace(sc.Text())] = true
	}
	todo := pc.missing(existing, res)
	if len(todo) == 0 {
		return nil
	}
	dir, err := os.MkdirTemp("", "ringbench-piefxis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	var b []byte
	b = append(b, "<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='urn:xmpp:pie:0'><host jid='"...)
	b = appendEscaped(b, pc.domain)
	b = append(b, "'>\n"...)
	for _, u := range todo {
		b = append(b, "<user name='"...)
		b = appendEscaped(b, u)
		b = append(b, "' password='"...)
		b = appendEscaped(b, pc.password)
		b = append(b, "'/>\n"...)
	}
	b = append(b, "</host></server-data>\n"...)
	file := filepath.Join(dir, "users.xml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return err
	}
	if !pc.quiet {
		fmt.Fprintf(stderr, "ringbench provision: importing %d accounts with %s import_piefxis\n", len(todo), name)
	}
	name, args = pc.ctlCommand("import_piefxis", file)
	if _, err := command(ctx, "", name, args...); err != nil {
		return err
	}
	// import_piefxis stops at the first account it cannot create, so
	// count what is there now.
	name, args = pc.ctlCommand("registered_users", pc.domain)
	if out, err = command(ctx, "", name, args...); err != nil {
		return err
	}
	now := make(map[string]bool)
	sc = bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		now[strings.TrimSpace(sc.Text())] = true
	}
	var absent []string
	for _, u := range todo {
		if now[u] {
			res.created.Add(1)
		} else {
			absent = append(absent, u)
		}
	}
	if len(absent) > 0 {
		return fmt.Errorf("ejabberd: %d accounts missing after import_piefxis, e.g. %s", len(absent), absent[0])
	}
	return nil
}

// lastLines is the end of a command's output, for error messages.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
