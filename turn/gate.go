package turn

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v3"
	pturn "github.com/pion/turn/v5"
)

// gate checks TURN REST credentials on every authenticated request before
// pion sees it, because pion answers bad credentials with 400 Bad Request
// where RFC 8489 §9.2.4 (and coturn) answer 401 Unauthorized, and because
// pion would log the username. Requests without MESSAGE-INTEGRITY pass:
// pion challenges them with 401, a nonce and the realm. Requests the gate
// passes are checked again by pion (auth), which derives the same key.
type gate struct {
	realm  string
	secret Secret
	now    func() time.Time
	m      *metrics
	log    *slog.Logger
}

// check returns the 401 error response to send to client instead of
// handing b to pion, or nil when b may pass.
func (g *gate) check(b []byte, client net.Addr) []byte {
	if !stun.IsMessage(b) {
		return nil // ChannelData
	}
	var t stun.MessageType
	t.ReadValue(binary.BigEndian.Uint16(b))
	if t.Class != stun.ClassRequest || t.Method == stun.MethodBinding {
		return nil // indications, responses and STUN bindings: never authenticated
	}
	// A copy: MessageIntegrity.Check briefly rewrites the header.
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if m.Decode() != nil || !m.Contains(stun.AttrMessageIntegrity) {
		return nil
	}
	var (
		username stun.Username
		realm    stun.Realm
		nonce    stun.Nonce
	)
	if username.GetFrom(m) != nil || realm.GetFrom(m) != nil || nonce.GetFrom(m) != nil {
		return nil // pion answers 400
	}
	reason := g.verify(m, username.String(), realm.String())
	if reason == "" {
		return nil
	}
	g.m.authFailures.WithLabelValues(reason).Inc()
	g.log.Debug("TURN request refused: 401", "reason", reason, "method", m.Type.Method.String(), "client", client.String())
	if m.Type.Method == stun.MethodAllocate {
		g.m.allocationsTotal.WithLabelValues(resultUnauthorized).Inc()
	}
	// The request's nonce is one pion issued and still accepts, so the
	// client may retry with other credentials.
	resp, err := stun.Build(
		&stun.Message{TransactionID: m.TransactionID},
		stun.NewType(m.Type.Method, stun.ClassErrorResponse),
		&stun.ErrorCodeAttribute{Code: stun.CodeUnauthorized},
		nonce,
		stun.NewRealm(g.realm),
		stun.Fingerprint,
	)
	if err != nil {
		return nil
	}
	return resp.Raw
}

// verify returns why the credentials of m are refused, or "".
func (g *gate) verify(m *stun.Message, username, realm string) string {
	if realm != g.realm {
		return authBadRealm
	}
	expires, _, err := ParseUsername(username)
	if err != nil {
		return authInvalid
	}
	if g.now().Unix() > expires.Unix() {
		return authExpired
	}
	key := longTermKey(username, realm, password(g.secret, username))
	if stun.MessageIntegrity(key).Check(m) != nil {
		return authInvalid
	}
	return ""
}

// auth is pion's AuthHandler: it returns the user (the bare JID, which
// quotas and events see) and the long-term key.
func (g *gate) auth(ra *pturn.RequestAttributes) (user string, key []byte, ok bool) {
	expires, user, err := ParseUsername(ra.Username)
	if err != nil || g.now().Unix() > expires.Unix() {
		return "", nil, false
	}
	return user, longTermKey(ra.Username, ra.Realm, password(g.secret, ra.Username)), true
}

// gatePacketConn is the UDP listening socket as pion sees it: requests
// with bad credentials are answered here and never returned by ReadFrom,
// and read errors other than closing are retried after a pause (pion's
// read loop would end on any error).
type gatePacketConn struct {
	net.PacketConn
	g      *gate
	t      *tracker
	log    *slog.Logger
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once
}

func (c *gatePacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.t.enter()
	defer c.t.leave()
	var delay time.Duration
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			if c.closed.Load() || errors.Is(err, net.ErrClosed) {
				return n, addr, err
			}
			delay = backoff(delay)
			c.log.Warn("turn: UDP read failed; retrying", "err", err, "in", delay)
			if !pause(delay, c.done) {
				return n, addr, err
			}
			continue
		}
		delay = 0
		if resp := c.g.check(p[:n], addr); resp != nil {
			c.PacketConn.WriteTo(resp, addr) // best effort, as any UDP answer
			continue
		}
		return n, addr, nil
	}
}

func (c *gatePacketConn) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.done)
		c.t.forget(c)
	})
	return c.PacketConn.Close()
}

// gateListener is the TCP listening socket as pion sees it: its
// connections are gated, and Accept retries temporary errors (pion's
// accept loop ends on any error).
type gateListener struct {
	net.Listener
	firstFrame, idle time.Duration // client connections' deadlines
	g                *gate
	t                *tracker
	log              *slog.Logger
	done             chan struct{}
	closed           atomic.Bool
	once             sync.Once
}

func (l *gateListener) Accept() (net.Conn, error) {
	l.t.enter()
	defer l.t.leave()
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			delay = backoff(delay)
			l.log.Warn("turn: TCP accept failed; retrying", "err", err, "in", delay)
			if !pause(delay, l.done) {
				return nil, err
			}
			continue
		}
		delay = 0
		gc := &gateStreamConn{Conn: c, frames: pturn.NewSTUNConn(c), buf: make([]byte, maxFrame), g: l.g, t: l.t, idle: l.firstFrame, idleNext: l.idle}
		if !l.t.open(gc) {
			continue // shutting down: open closed it
		}
		return gc, nil
	}
}

func (l *gateListener) Close() error {
	l.once.Do(func() {
		l.closed.Store(true)
		close(l.done)
		l.t.forget(l)
	})
	return l.Listener.Close()
}

// maxFrame is one more than the largest frame pion accepts (its inbound
// MTU, 1600 bytes, exclusive); larger frames are dropped, as pion would.
const maxFrame = 1600

// gateStreamConn is one TCP client connection: it splits the stream into
// STUN and ChannelData frames, answers the requests the gate refuses, and
// hands pion the rest of the stream unchanged.
type gateStreamConn struct {
	net.Conn
	frames   *pturn.STUNConn
	buf      []byte
	pending  []byte
	g        *gate
	t        *tracker
	idle     time.Duration // read deadline for the next frame
	idleNext time.Duration // and for those after it
	once     sync.Once
}

func (c *gateStreamConn) Read(p []byte) (int, error) {
	c.t.enter()
	defer c.t.leave()
	for len(c.pending) == 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
			return 0, err
		}
		n, _, err := c.frames.ReadFrom(c.buf)
		if err != nil {
			return 0, err
		}
		c.idle = c.idleNext
		if n > len(c.buf) {
			continue // truncated by STUNConn; pion drops frames this large
		}
		if resp := c.g.check(c.buf[:n], c.Conn.RemoteAddr()); resp != nil {
			if _, err := c.Conn.Write(resp); err != nil {
				return 0, err
			}
			continue
		}
		c.pending = c.buf[:n]
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *gateStreamConn) Close() error {
	c.once.Do(func() { c.t.forget(c) })
	return c.Conn.Close()
}

// backoff doubles the pause after a failed read or accept, from 5ms to 1s.
func backoff(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return 5 * time.Millisecond
	case d >= time.Second/2:
		return time.Second
	}
	return 2 * d
}

// pause waits d; false when done closed first.
func pause(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
