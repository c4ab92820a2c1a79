package turn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Config.
const (
	DefaultListen    = "127.0.0.1:3478"
	DefaultUserQuota = 10
)

// The default relay port range: IANA's dynamic ports.
const (
	DefaultRelayPortMin = 49152
	DefaultRelayPortMax = 65535
)

// PortRange is an inclusive range of UDP ports.
type PortRange struct {
	Min, Max uint16
}

// ParsePortRange parses "min-max", such as "49152-65535".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return PortRange{}, fmt.Errorf("turn: port range %q is not of the form min-max", s)
	}
	a, err1 := strconv.ParseUint(lo, 10, 16)
	b, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil {
		return PortRange{}, fmt.Errorf("turn: port range %q: ports are 1 to 65535", s)
	}
	r := PortRange{Min: uint16(a), Max: uint16(b)}
	return r, r.validate()
}

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

func (r PortRange) validate() error {
	if r.Min == 0 || r.Max < r.Min {
		return fmt.Errorf("turn: relay port range %d-%d: want 1 ≤ min ≤ max ≤ 65535", r.Min, r.Max)
	}
	return nil
}

// Config configures the embedded relay. Secret and Realm are required;
// every other zero field takes its default (withDefaults).
type Config struct {
	// Listen is the host:port the server listens on, for UDP and TCP
	// alike; the host must be an IP address (empty or unspecified: all
	// interfaces). Port 0 picks a free port, the same for both. Default
	// DefaultListen.
	Listen string
	// PublicIP is the address clients are told: the relayed transport
	// address of their allocations and, through Services, the host of the
	// STUN/TURN services. Default: the Listen IP, which then must not be
	// unspecified.
	PublicIP netip.Addr
	// RelayPorts bounds the relay sockets' ports; default
	// DefaultRelayPortMin to DefaultRelayPortMax.
	RelayPorts PortRange
	// Realm is the TURN realm (ringd uses the XMPP domain). Required.
	Realm string
	// Secret is the TURN REST shared secret credentials are checked
	// against (see LoadOrCreateSecret). Required.
	Secret Secret
	// UserQuota is how many allocations one user (the user part of the
	// TURN REST username: a bare JID) may hold at once; more are refused
	// with 486 Allocation Quota Reached. Default DefaultUserQuota.
	UserQuota int
	// AllowPrivatePeers lets clients relay to peers in loopback, private,
	// link-local, multicast and other special-purpose ranges, and to the
	// server's own PublicIP. Off by default: a relay must not be a door
	// into the operator's network. Tests turn it on.
	AllowPrivatePeers bool
	// Now is the clock credentials are checked against; default time.Now.
	Now func() time.Time
	// Logger receives lifecycle and (at Debug) per-allocation lines; nil
	// discards them.
	Logger *slog.Logger
	// Registerer receives the ringd_turn_* metrics; nil: not registered.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if !c.PublicIP.IsValid() {
		if host, _, err := net.SplitHostPort(c.Listen); err == nil {
			if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
				c.PublicIP = ip.Unmap()
			}
		}
	}
	if c.RelayPorts == (PortRange{}) {
		c.RelayPorts = PortRange{Min: DefaultRelayPortMin, Max: DefaultRelayPortMax}
	}
	if c.UserQuota == 0 {
		c.UserQuota = DefaultUserQuota
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		errs = append(errs, fmt.Errorf("turn: listen %q: %w", c.Listen, err))
	} else {
		if host != "" {
			if _, err := netip.ParseAddr(host); err != nil {
				errs = append(errs, fmt.Errorf("turn: listen %q: the host must be an IP address", c.Listen))
			}
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			errs = append(errs, fmt.Errorf("turn: listen %q: bad port", c.Listen))
		}
	}
	switch {
	case !c.PublicIP.IsValid():
		errs = append(errs, errors.New("turn: public IP is required when listening on all interfaces"))
	case c.PublicIP.IsUnspecified():
		errs = append(errs, fmt.Errorf("turn: public IP %s is unspecified: clients could not reach their relays", c.PublicIP))
	}
	if err := c.RelayPorts.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Realm == "" {
		errs = append(errs, errors.New("turn: realm is required"))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("turn: secret is required"))
	}
	if c.UserQuota < 0 {
		errs = append(errs, fmt.Errorf("turn: user quota %d is negative", c.UserQuota))
	}
	return errors.Join(errs...)
}
