package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
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
