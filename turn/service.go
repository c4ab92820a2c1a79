package turn

import (
	"fmt"
	"net"
	"strconv"
)

// Service is one STUN or TURN server as XEP-0215 advertises it: the
// embedded relay (Server.Services) or an external one such as coturn.
type Service struct {
	Type      string // "stun", "stuns", "turn" or "turns"
	Host      string // host name or IP address
	Port      int
	Transport string // "udp" or "tcp"
	// Secret is the TURN REST shared secret the server checks credentials
	// with; clients get credentials only for services that have one.
	Secret Secret
}

// String describes the service without its secret.
func (s Service) String() string {
	return fmt.Sprintf("%s:%s/%s", s.Type, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), s.Transport)
}

// GoString is String, for %#v.
func (s Service) GoString() string { return s.String() }
