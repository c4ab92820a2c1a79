package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/turn"
)

// TestTURNConfig: [turn] and [[turn.external]] parse into server.TURNConfig,
// and every bad value is reported under its key.
func TestTURNConfig(t *testing.T) {
	s, err := parseConfig(`
[turn]
enabled = true
listen = "0.0.0.0:3478"
public_ip = "203.0.113.10"
relay_ports = "50000-50100"
ttl = "1h"
user_quota = 3

[[turn.external]]
type = "turn"
host = "coturn.example.net"
port = 3478
secret = "abc"

[[turn.external]]
type = "stun"
host = "stun.example.net"
port = 3478
transport = "udp"
`)
	if err != nil {
		t.Fatal(err)
	}
	c := s.server.TURN
	if !c.Enabled || c.PublicIP != netip.MustParseAddr("203.0.113.10") || c.RelayPorts != (turn.PortRange{Min: 50000, Max: 50100}) || c.TTL != time.Hour || c.UserQuota != 3 || len(c.External) != 2 || c.External[0].Transport != "udp" || c.External[0].Secret != "abc" {
		t.Errorf("%+v", c)
	}
	_, err = parseConfig("[turn]\npublic_ip = \"x\"\nrelay_ports = \"9-1\"\nttl = \"soon\"\nuser_quota = -1\n[[turn.external]]\ntype = \"turn\"\nport = 0\n")
	for _, k := range []string{"turn.public_ip", "turn.relay_ports", "turn.ttl", "turn.user_quota", "turn.external[1].host", "turn.external[1].port", "turn.external[1].secret"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("error %v lacks %s", err, k)
		}
	}
}
