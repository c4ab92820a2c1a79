package turn

import (
	"net/netip"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" for valid
		check   func(Config) bool
	}{
		{"defaults", Config{Realm: "localhost", Secret: "s"}, "", func(c Config) bool {
			return c.Listen == DefaultListen && c.PublicIP == netip.MustParseAddr("127.0.0.1") &&
				c.RelayPorts == PortRange{DefaultRelayPortMin, DefaultRelayPortMax} && c.UserQuota == DefaultUserQuota && !c.AllowPrivatePeers
		}},
		{"public IP defaults to the listen IP", Config{Listen: "192.0.2.7:3478", Realm: "r", Secret: "s"}, "", func(c Config) bool {
			return c.PublicIP == netip.MustParseAddr("192.0.2.7")
		}},
		{"all interfaces need a public IP", Config{Listen: "0.0.0.0:3478", Realm: "r", Secret: "s"}, "public IP is required", nil},
		{"all interfaces with a public IP", Config{Listen: ":3478", PublicIP: netip.MustParseAddr("203.0.113.5"), Realm: "r", Secret: "s"}, "", nil},
		{"unspecified public IP", Config{Listen: ":3478", PublicIP: netip.MustParseAddr("::"), Realm: "r", Secret: "s"}, "unspecified", nil},
		{"host name", Config{Listen: "turn.example.net:3478", PublicIP: netip.MustParseAddr("203.0.113.5"), Realm: "r", Secret: "s"}, "must be an IP address", nil},
		{"no port", Config{Listen: "127.0.0.1", Realm: "r", Secret: "s"}, "listen", nil},
		{"bad port", Config{Listen: "127.0.0.1:70000", Realm: "r", Secret: "s"}, "bad port", nil},
		{"no realm", Config{Secret: "s"}, "realm is required", nil},
		{"no secret", Config{Realm: "r"}, "secret is required", nil},
		{"inverted ports", Config{Realm: "r", Secret: "s", RelayPorts: PortRange{Min: 50000, Max: 40000}}, "relay port range", nil},
		{"negative quota", Config{Realm: "r", Secret: "s", UserQuota: -1}, "quota", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg.withDefaults()
			err := c.validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("validate() = %v, want an error containing %q", err, tc.wantErr)
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("withDefaults() = %+v", c)
			}
			if _, err := New(tc.cfg); (err != nil) != (tc.wantErr != "") {
				t.Errorf("New() error = %v, want error %v", err, tc.wantErr != "")
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr bool
	}{
		{"49152-65535", PortRange{49152, 65535}, false},
		{"50000-50000", PortRange{50000, 50000}, false},
		{"0-100", PortRange{}, true},
		{"200-100", PortRange{}, true},
		{"49152", PortRange{}, true},
		{"1-65536", PortRange{}, true},
		{"a-b", PortRange{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePortRange(tc.in)
			if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
				t.Errorf("ParsePortRange(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestPeerAllowed(t *testing.T) {
	self := netip.MustParseAddr("9.9.9.9")
	tests := []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true},
		{"2606:4700::1111", true},
		{"::ffff:8.8.8.8", true},
		{"127.0.0.1", false},
		{"127.3.4.5", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"100.64.0.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"fd00::1", false},
		{"fc00::1", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"ff02::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"255.255.255.255", false},
		{"64:ff9b::7f00:1", false}, // NAT64 to 127.0.0.1
		{"2002:7f00:1::", false},   // 6to4 of 127.0.0.1
		{"9.9.9.9", false},         // the server itself
		{"9.9.9.10", true},
		{"198.51.100.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.ip)
			if got := peerAllowed(ip, self, false); got != tc.want {
				t.Errorf("peerAllowed(%s) = %v, want %v", ip, got, tc.want)
			}
			if !peerAllowed(ip, self, true) {
				t.Errorf("peerAllowed(%s, allowPrivate) = false, want true", ip)
			}
		})
	}
}
