package turn

import (
	"errors"
	"net"
	"sync"

	pturn "github.com/pion/turn/v5"
)

var (
	// errTCPRelay refuses RFC 6062 TCP allocations: ringd relays UDP only.
	errTCPRelay = errors.New("turn: TCP relaying (RFC 6062) is not offered")
	// errFamily refuses a relay of the other address family than PublicIP.
	errFamily = errors.New("turn: relay address family not offered")
)

// relayGenerator makes relay sockets in the configured port range, of
// PublicIP's address family, wrapped to count the bytes they carry.
type relayGenerator struct {
	inner *pturn.RelayAddressGeneratorPortRange
	v6    bool // PublicIP is IPv6
	t     *tracker
	m     *metrics
}

var _ pturn.RelayAddressGenerator = (*relayGenerator)(nil)

func (g *relayGenerator) Validate() error { return g.inner.Validate() }

func (g *relayGenerator) AllocatePacketConn(c pturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if (c.Network == "udp6") != g.v6 {
		return nil, nil, errFamily
	}
	pc, addr, err := g.inner.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	rc := &relayConn{PacketConn: pc, t: g.t, m: g.m}
	if !g.t.open(rc) {
		return nil, nil, net.ErrClosed
	}
	return rc, addr, nil
}

func (g *relayGenerator) AllocateListener(pturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

func (g *relayGenerator) AllocateConn(pturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// relayConn is one allocation's relay socket.
type relayConn struct {
	net.PacketConn
	t    *tracker
	m    *metrics
	once sync.Once
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.t.enter()
	n, addr, err := c.PacketConn.ReadFrom(p)
	c.t.leave()
	if n > 0 {
		c.m.fromPeer.Add(float64(n))
	}
	return n, addr, err
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, addr)
	if n > 0 {
		c.m.toPeer.Add(float64(n))
	}
	return n, err
}

func (c *relayConn) Close() error {
	c.once.Do(func() { c.t.forget(c) })
	return c.PacketConn.Close()
}
