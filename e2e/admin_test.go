package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// adminPasswordRE finds the password in the line ringd prints when it
// creates the first admin ("… admin@localhost … password XYZ …",
// "password=XYZ", "password: XYZ").
var adminPasswordRE = regexp.MustCompile(`(?i)\bpassword\b["']?\s*[:=]?\s*["']?([^\s"',;]+)`)

// adminPassword finds the admin line in ringd's output and returns it
// with the password in it.
func adminPassword(lines []string) (line, password string, ok bool) {
	for _, l := range lines {
		if !strings.Contains(l, "admin@"+domain) {
			continue
		}
		if m := adminPasswordRE.FindStringSubmatch(l); m != nil {
			return l, m[1], true
		}
	}
	return "", "", false
}

// TestFirstStartAdmin starts ringd on an empty store: it must create
// admin@localhost and print its password once; the password must work,
// and a restart on the same store must not print a password again.
func TestFirstStartAdmin(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{})

	var (
		line, password string
		found          bool
	)
	poll(5*time.Second, func() bool {
		line, password, found = adminPassword(s.Output())
		return found
	})
	if !found {
		t.Fatalf("no line with admin@%s and its password in ringd's output", domain)
	}
	t.Logf("admin line: %s", line)
	admin := user{"admin@" + domain, password}

	c := startClient(t, "login.py", loginArgs(t, s.C2S, false, admin)...)
	c.Finish(t)
	checkSession(t, c.MustFind(t, Event{Event: "session_start"}), admin, true)

	t.Run("restart-keeps-admin", func(t *testing.T) {
		s.Stop(t)
		s2 := startServer(t, serverOpts{DataDir: s.DataDir})
		for _, l := range s2.Output() {
			if strings.Contains(l, password) {
				t.Errorf("restart printed the admin password again: %s", l)
			}
		}
		c := startClient(t, "login.py", loginArgs(t, s2.C2S, false, admin)...)
		c.Finish(t)
		checkSession(t, c.MustFind(t, Event{Event: "session_start"}), admin, true)
	})
}
