package c2s

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Namespaces of stream negotiation.
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsStreams = "urn:ietf:params:xml:ns:xmpp-streams"
)

// streamError ends a stream with an RFC 6120 §4.9.3 condition.
type streamError struct {
	cond string
	text string
}

func (e *streamError) Error() string { return "c2s: stream error " + e.cond + ": " + e.text }

func newStreamError(cond, text string) *streamError { return &streamError{cond: cond, text: text} }

// conn is one client connection, from accept to close.
type conn struct {
	srv      *Server
	nc       net.Conn
	listener string
	secure   bool // TLS is up (or the transport is otherwise trusted)

	ws     *websocket.Conn // non-nil for RFC 7395 sessions
	dec    *wire.Decoder
	bw     *bufio.Writer
	wmu    sync.Mutex // serialises writes before the writer goroutine starts
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	streamID string
	username string // set by SASL success
	sess     *router.Session
	q        *outbound

	writerDone chan struct{}
}

func (s *Server) newConn(nc net.Conn, listener string, secure bool) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		srv:      s,
		nc:       nc,
		listener: listener,
		secure:   secure,
		ctx:      ctx,
		cancel:   cancel,
		q:        newOutbound(s.cfg.OutboundQueueBytes),
	}
	c.log = s.cfg.Logger.With("conn", nc.RemoteAddr().String(), "listener", listener)
	if c.ws == nil {
		c.dec = wire.NewDecoder(nc, s.limits)
		c.bw = bufio.NewWriterSize(nc, 8<<10)
	}
	return c
}

// serve runs the connection to its end.
func (c *conn) serve() {
	defer c.cancel()
	defer c.nc.Close()
	c.nc.SetDeadline(time.Now().Add(c.srv.cfg.AuthTimeout))
	err := c.negotiate()
	if err == nil {
		c.nc.SetDeadline(time.Time{})
		err = c.readLoop()
	}
	c.finish(err)
}

// finish ends the stream: a stream error when err is one, the closing tag
// otherwise, then waits for the writer.
func (c *conn) finish(err error) {
	var se *streamError
	var we *wire.Error
	var final []byte
	switch {
	case errors.As(err, &se):
		final = c.streamErrorBytes(se.cond, se.text)
	case errors.As(err, &we):
		final = c.streamErrorBytes(we.Condition, "")
		c.log.Warn("bad XML from client", "condition", we.Condition, "err", we.Msg)
	case errors.Is(err, io.EOF):
		final = c.closeBytes()
	case isTimeout(err):
		final = c.streamErrorBytes("connection-timeout", "")
	default:
		if err != nil {
			c.log.Debug("connection ended", "err", err)
		}
		final = c.closeBytes()
	}
	if se != nil || we != nil {
		cond := ""
		if se != nil {
			cond = se.cond
		} else {
			cond = we.Condition
		}
		c.srv.metrics.streamErrors.WithLabelValues(cond).Inc()
	}
	if c.sess != nil {
		c.q.close(final)
		c.srv.cfg.Router.Unbind(context.WithoutCancel(c.ctx), c.sess)
		<-c.writerDone
		return
	}
	c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	c.writeNow(final)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Deliver implements router.Conn.
func (c *conn) Deliver(raw []byte) bool {
	ok, overflow := c.q.push(raw)
	if overflow {
		c.srv.metrics.slowCutoffs.Inc()
		c.log.Warn("client too slow; disconnecting", "queued_limit", c.srv.cfg.OutboundQueueBytes)
		c.srv.metrics.streamErrors.WithLabelValues("policy-violation").Inc()
		c.q.close(c.streamErrorBytes("policy-violation", "too many stanzas queued for this client"))
	}
	return ok
}

// Close implements router.Conn: the stream ends with the condition after
// what is queued is written.
func (c *conn) Close(condition string) {
	if c.sess == nil {
		// Still negotiating: nothing is queued; cut the socket so the
		// negotiation fails.
		c.nc.Close()
		return
	}
	c.srv.metrics.streamErrors.WithLabelValues(condition).Inc()
	c.q.close(c.streamErrorBytes(condition, ""))
}

// writeNow writes during negotiation, before the writer goroutine runs.
func (c *conn) writeNow(parts ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws != nil {
		for _, p := range parts {
			if len(p) == 0 {
				continue
			}
			if err := c.ws.Write(c.ctx, websocket.MessageText, p); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range parts {
		c.bw.Write(p)
	}
	return c.bw.Flush()
}

// writeLoop drains the outbound queue: everything queued is written, then
// flushed once. It ends after writing the final bytes of a closed queue,
// closing the connection so the reader returns.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	defer c.nc.Close()
	timeout := c.srv.cfg.WriteTimeout
	for {
		select {
		case <-c.q.wake:
		case <-c.ctx.Done():
			return
		}
		batch, closed, final := c.q.take()
		c.nc.SetWriteDeadline(time.Now().Add(timeout))
		for _, b := range batch {
			if err := c.writeStanza(b); err != nil {
				c.log.Debug("write failed", "err", err)
				return
			}
		}
		if closed && len(final) > 0 {
			c.writeRaw(final)
		}
		if c.ws == nil {
			if err := c.bw.Flush(); err != nil {
				c.log.Debug("flush failed", "err", err)
				return
			}
		}
		if closed {
			return
		}
	}
}

func (c *conn) writeStanza(b []byte) error {
	c.srv.metrics.stanzasOut.WithLabelValues(kindOf(b)).Inc()
	return c.writeRaw(b)
}

func (c *conn) writeRaw(b []byte) error {
	if c.ws != nil {
		return c.ws.Write(c.ctx, websocket.MessageText, withClientNS(b))
	}
	_, err := c.bw.Write(b)
	return err
}

// kindOf names the stanza kind of serialised bytes for metrics.
func kindOf(b []byte) string {
	switch {
	case len(b) > 2 && b[1] == 'm':
		return "message"
	case len(b) > 2 && b[1] == 'p':
		return "presence"
	case len(b) > 2 && b[1] == 'i':
		return "iq"
	}
	return "other"
}

// readLoop hands every stanza of a bound session to the router.
func (c *conn) readLoop() error {
	r := c.srv.cfg.Router
	full := c.sess.FullString()
	bare := c.sess.BareString()
	for {
		st, err := c.dec.Next()
		if err != nil {
			return err
		}
		switch st.Kind {
		case wire.KindMessage, wire.KindPresence, wire.KindIQ:
			c.srv.metrics.stanzasIn.WithLabelValues(st.Kind.String()).Inc()
			if st.From != nil && string(st.From) != full && string(st.From) != bare {
				if !sameJID(st.From, full, bare) {
					return newStreamError("invalid-from", "from does not match the session")
				}
			}
			if st.Kind == wire.KindIQ && c.handleSessionIQ(st) {
				continue
			}
			r.Route(c.ctx, c.sess, st)
		default:
			if c.ws != nil && string(st.NS) == wire.NSFraming && string(st.Name) == "close" {
				return io.EOF
			}
			return newStreamError("unsupported-stanza-type", "")
		}
	}
}

// sameJID compares a client-supplied from, after unescaping and PRECIS, to
// the session's JIDs.
func sameJID(from []byte, full, bare string) bool {
	j, err := jid.Parse(string(wire.Unescape(from)))
	if err != nil {
		return false
	}
	s := j.String()
	return s == full || s == bare
}

// handleSessionIQ answers the RFC 3921 session IQ that old clients send
// after binding; true when st was that IQ.
func (c *conn) handleSessionIQ(st *wire.Stanza) bool {
	p, ok := st.Payload()
	if !ok || string(p.NS) != nsSession || string(p.Name) != "session" {
		return false
	}
	b := append([]byte(`<iq type="result" id="`), st.ID...)
	b = append(b, `"/>`...)
	c.Deliver(b)
	return true
}

// newStreamID returns a random stream id.
func newStreamID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
