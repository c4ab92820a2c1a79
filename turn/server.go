package turn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	pturn "github.com/pion/turn/v5"
)

// ErrServerClosed is returned by Serve after Close, and by Start and Serve
// once the server was closed.
var ErrServerClosed = errors.New("turn: server closed")

var errServing = errors.New("turn: server already started")

type state uint8

const (
	stateNew state = iota
	stateServing
	stateClosed
)

// Server is the embedded STUN/TURN relay. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	gate    *gate
	track   *tracker

	// Deadlines of a TCP client connection, which pion has none of (tests
	// shorten them).
	tcpFirstFrame, tcpIdle time.Duration

	quotaMu sync.Mutex
	perUser map[string]int // allocations by user (bare JID)

	mu      sync.Mutex
	state   state
	pion    *pturn.Server
	udpAddr net.Addr
	tcpAddr net.Addr
	done    chan struct{} // closed by Close
}

// New checks cfg and builds a server. It does no I/O: Start or Serve
// opens the relay.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("turn: metrics: %w", err)
	}
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: m,
		gate:    &gate{realm: cfg.Realm, secret: cfg.Secret, now: cfg.Now, m: m, log: cfg.Logger},
		track:   newTracker(),
		perUser: make(map[string]int),
		done:    make(chan struct{}),

		tcpFirstFrame: tcpFirstFrameTimeout,
		tcpIdle:       tcpIdleTimeout,
	}, nil
}

// Start listens on Config.Listen, UDP and TCP on the same port, and serves
// in the background until Close. The relay is ready when Start returns.
func (s *Server) Start(ctx context.Context) error {
	pc, ln, err := listen(ctx, s.cfg.Listen)
	if err != nil {
		return err
	}
	if err := s.start(pc, ln); err != nil {
		pc.Close()
		ln.Close()
		return err
	}
	s.log.Info("TURN relay listening", "udp", pc.LocalAddr().String(), "tcp", ln.Addr().String(),
		"public_ip", s.cfg.PublicIP.String(), "relay_ports", s.cfg.RelayPorts.String())
	return nil
}

// Serve relays on the given sockets (either may be nil, not both) until
// Close, then returns ErrServerClosed. Close closes the sockets.
func (s *Server) Serve(pc net.PacketConn, ln net.Listener) error {
	if err := s.start(pc, ln); err != nil {
		return err
	}
	<-s.done
	return ErrServerClosed
}

func (s *Server) start(pc net.PacketConn, ln net.Listener) error {
	if pc == nil && ln == nil {
		return errors.New("turn: serve: no socket")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateServing:
		return errServing
	case stateClosed:
		return ErrServerClosed
	}
	var local net.Addr
	if pc != nil {
		local = pc.LocalAddr()
	} else {
		local = ln.Addr()
	}
	bind, _, err := net.SplitHostPort(local.String())
	if err != nil {
		return fmt.Errorf("turn: serve: local address %v: %w", local, err)
	}
	v6 := !s.cfg.PublicIP.Is4()
	// Relay sockets bind where the server listens; on all interfaces,
	// those of PublicIP's family.
	if ip, err := netip.ParseAddr(bind); err != nil || ip.IsUnspecified() {
		bind = "0.0.0.0"
		if v6 {
			bind = "::"
		}
	}
	gen := &relayGenerator{
		inner: &pturn.RelayAddressGeneratorPortRange{
			RelayAddress: net.IP(s.cfg.PublicIP.AsSlice()),
			MinPort:      s.cfg.RelayPorts.Min,
			MaxPort:      s.cfg.RelayPorts.Max,
			Address:      bind,
		},
		v6: v6,
		t:  s.track,
		m:  s.metrics,
	}
	var (
		pcs     []pturn.PacketConnConfig
		lns     []pturn.ListenerConfig
		sockets []io.Closer
	)
	if pc != nil {
		gpc := &gatePacketConn{PacketConn: pc, g: s.gate, t: s.track, log: s.log, done: make(chan struct{})}
		s.track.open(gpc)
		sockets = append(sockets, gpc)
		pcs = append(pcs, pturn.PacketConnConfig{PacketConn: gpc, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	if ln != nil {
		gln := &gateListener{Listener: ln, firstFrame: s.tcpFirstFrame, idle: s.tcpIdle, g: s.gate, t: s.track, log: s.log, done: make(chan struct{})}
		s.track.open(gln)
		sockets = append(sockets, gln)
		lns = append(lns, pturn.ListenerConfig{Listener: gln, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	srv, err := pturn.NewServer(pturn.ServerConfig{
		PacketConnConfigs: pcs,
		ListenerConfigs:   lns,
		LoggerFactory:     pionLoggers{s.log},
		Realm:             s.cfg.Realm,
		// A request without REQUESTED-ADDRESS-FAMILY gets a relay of
		// PublicIP's family: IPv4 as RFC 6156 says, or IPv6 when that is
		// all the server has (pion then follows the listener, as browsers
		// on IPv6-only networks expect).
		StrictAddressFamily: !v6,
		AuthHandler:         s.gate.auth,
		QuotaHandler:        s.quota,
		EventHandler: pturn.EventHandler{
			OnAllocationCreated: s.allocationCreated,
			OnAllocationDeleted: s.allocationDeleted,
		},
	})
	if err != nil {
		for _, c := range sockets {
			c.Close()
		}
		return fmt.Errorf("turn: start: %w", err)
	}
	s.pion = srv
	s.state = stateServing
	if pc != nil {
		s.udpAddr = pc.LocalAddr()
	}
	if ln != nil {
		s.tcpAddr = ln.Addr()
	}
	return nil
}

// Close stops the relay: it closes the listening sockets, every client
// connection and every allocation, then waits until their readers have
// returned or ctx ends. Later calls return nil.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return nil
	}
	s.state = stateClosed
	close(s.done)
	srv := s.pion
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// pion's Close only closes the listening sockets; its error is a
	// string-joined list, so it is logged, not wrapped.
	if err := srv.Close(); err != nil {
		s.log.Debug("TURN relay: closing listeners", "err", err)
	}
	s.track.closeAll() // client connections and relay sockets
	if err := s.track.wait(ctx); err != nil {
		return fmt.Errorf("turn: close: %w", err)
	}
	s.log.Info("TURN relay stopped")
	return nil
}

// Services describes the running relay for XEP-0215: STUN over UDP and
// TURN over UDP and TCP on PublicIP, with the secret. It is empty before
// Start or Serve.
func (s *Server) Services() []Service {
	s.mu.Lock()
	udp, tcp := s.udpAddr, s.tcpAddr
	s.mu.Unlock()
	host := s.cfg.PublicIP.String()
	var out []Service
	if udp != nil {
		port := portOf(udp)
		out = append(out,
			Service{Type: "stun", Host: host, Port: port, Transport: "udp"},
			Service{Type: "turn", Host: host, Port: port, Transport: "udp", Secret: s.cfg.Secret})
	}
	if tcp != nil {
		out = append(out, Service{Type: "turn", Host: host, Port: portOf(tcp), Transport: "tcp", Secret: s.cfg.Secret})
	}
	return out
}

func portOf(a net.Addr) int {
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// permit is pion's PermissionHandler, asked for CreatePermission,
// ChannelBind and Connect.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	if peerAllowed(ipAddr(peer), s.cfg.PublicIP, s.cfg.AllowPrivatePeers) {
		return true
	}
	s.metrics.peersDenied.Inc()
	s.log.Debug("TURN peer refused", "client", client.String(), "peer", peer.String())
	return false
}

// quota is pion's QuotaHandler. Two allocations of one user arriving at
// the same moment on different TCP connections may both pass: the quota
// bounds abuse, it is not an exact count.
func (s *Server) quota(user, _ string, _ net.Addr) bool {
	s.quotaMu.Lock()
	n := s.perUser[user]
	s.quotaMu.Unlock()
	if n < s.cfg.UserQuota {
		return true
	}
	s.metrics.allocationsTotal.WithLabelValues(resultQuota).Inc()
	s.log.Debug("TURN allocation refused: quota", "jid", user, "quota", s.cfg.UserQuota)
	return false
}

func (s *Server) allocationCreated(src, _ net.Addr, protocol, user, _ string, relay net.Addr, _ int) {
	s.quotaMu.Lock()
	s.perUser[user]++
	s.quotaMu.Unlock()
	s.metrics.allocations.Inc()
	s.metrics.allocationsTotal.WithLabelValues(resultCreated).Inc()
	s.log.Debug("TURN allocation created", "jid", user, "client", src.String(), "transport", protocol, "relay", relay.String())
}

func (s *Server) allocationDeleted(src, _ net.Addr, _, user, _ string) {
	s.quotaMu.Lock()
	if s.perUser[user] <= 1 {
		delete(s.perUser, user)
	} else {
		s.perUser[user]--
	}
	s.quotaMu.Unlock()
	s.metrics.allocations.Dec()
	s.log.Debug("TURN allocation deleted", "jid", user, "client", src.String())
}

// Deadlines of a TCP client connection: the first frame must come soon
// after connecting, and a client with an allocation refreshes it (and its
// permissions) well within the 10-minute allocation lifetime, so a longer
// silence means it is gone.
const (
	tcpFirstFrameTimeout = 10 * time.Second
	tcpIdleTimeout       = 15 * time.Minute
)

// udpReadBuffer is the receive buffer asked for the listening UDP socket.
const udpReadBuffer = 4 << 20

// listen opens UDP and TCP sockets on the same address; with port 0, on
// the same free port.
func listen(ctx context.Context, addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("turn: listen %s: %w", addr, err)
	}
	var lc net.ListenConfig
	network := "udp"
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		network = "udp4"
	}
	tries := 1
	if port == "0" {
		tries = 20
	}
	for i := 0; ; i++ {
		pc, err := lc.ListenPacket(ctx, network, addr)
		if err != nil {
			return nil, nil, fmt.Errorf("turn: listen udp %s: %w", addr, err)
		}
		ln, err := lc.Listen(ctx, "tcp"+network[3:], net.JoinHostPort(host, strconv.Itoa(portOf(pc.LocalAddr()))))
		if err == nil {
			if u, ok := pc.(*net.UDPConn); ok {
				// Every client's datagrams queue on this one socket while
				// pion's single reader works; the default buffer (208 KiB)
				// drops bursts from many allocations. The kernel caps the
				// size at net.core.rmem_max.
				u.SetReadBuffer(udpReadBuffer)
			}
			return pc, ln, nil
		}
		pc.Close()
		if i+1 >= tries {
			return nil, nil, fmt.Errorf("turn: listen tcp %s: %w", addr, err)
		}
	}
}
