package c2s

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
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

// internalError is a failure that is ours, not the peer's: it is logged and
// the stream ends with internal-server-error.
type internalError struct{ err error }

func (e *internalError) Error() string { return e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }

// errClosing ends the read loop once the outbound queue is closed: the
// stream is over, the client's last stanzas are not routed.
var errClosing = errors.New("c2s: stream closing")

// conn is one client connection, from accept to close.
//
// Goroutines: the reader (serve) owns everything until the session is
// bound; it then starts the writer, which owns bw and all writes. Other
// goroutines (the router, Shutdown) only call Deliver and Close, which
// touch q, and mu-guarded fields.
//
// Closing: whoever ends the stream closes q with the final bytes (stream
// error, closing tag). The writer writes them, half-closes the transport
// (TLS close_notify, TCP FIN) and gives the reader CloseTimeout to see the
// client's closing tag, so that closing the socket never throws away what
// was just written (a close with unread input sends a TCP reset).
type conn struct {
	srv      *Server
	raw      net.Conn // as accepted (TCP, or the WebSocket's net.Conn); set once
	nc       net.Conn // raw or TLS over raw; changes only in startTLS, before any other goroutine looks
	listener string
	secure   bool // TLS is up (or the transport is otherwise trusted)

	ws     *websocket.Conn // non-nil for RFC 7395 sessions
	dec    *wire.Decoder
	bw     *bufio.Writer // nil for WebSocket: every element is its own message
	wsBuf  []byte        // the writer's scratch for WebSocket elements
	log    *slog.Logger
	ctx    context.Context // the connection's own; cancelled when serve returns
	cancel context.CancelFunc

	streamID   string
	headerSent bool // our header of the current stream was written
	broken     bool // the transport cannot carry our bytes (failed TLS handshake)
	lingering  bool // closeWrite ended our side gracefully; set by whoever writes last
	username   string
	q          *outbound
	writerDone chan struct{} // closed when the writer ends; nil until bound

	mu        sync.Mutex
	sess      *router.Session // written by the reader under mu
	closeCond string          // Close before binding: the condition to end with
}

func (s *Server) newConn(raw net.Conn, listener string, direct bool) *conn {
	c := &conn{
		srv:      s,
		raw:      raw,
		nc:       raw,
		listener: listener,
		secure:   direct,
		q:        newOutbound(s.cfg.OutboundQueueBytes),
	}
	if direct {
		c.nc = tls.Server(raw, s.cfg.TLS)
	}
	c.log = s.cfg.Logger.With("conn", raw.RemoteAddr().String(), "listener", listener)
	return c
}

// serve runs the connection to its end.
func (c *conn) serve() {
	c.ctx, c.cancel = context.WithCancel(c.srv.ctx)
	defer c.cancel()
	if c.ws == nil {
		c.dec = wire.NewDecoder(c.nc, c.srv.limits)
		c.bw = bufio.NewWriterSize(c.nc, 8<<10)
	} else {
		c.dec = wire.NewFramedDecoder(c.nc, c.srv.limits)
	}
	c.raw.SetDeadline(time.Now().Add(c.srv.cfg.AuthTimeout))
	c.mu.Lock()
	closing := c.closeCond != ""
	c.mu.Unlock()
	if closing {
		// Close came before the deadline above replaced its own.
		c.raw.SetReadDeadline(time.Now())
	}
	c.finish(c.run())
	c.raw.Close()
}

// run negotiates and then reads until the stream ends. A panic (in a
// feature handler the router called, say) ends only this stream.
func (c *conn) run() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &internalError{fmt.Errorf("c2s: panic: %v\n%s", p, debug.Stack())}
		}
	}()
	if err := c.negotiate(); err != nil {
		return err
	}
	return c.readLoop()
}

// finish ends the stream: a stream error when err is one, the closing tag
// otherwise; then it waits for the writer and for the client's end of the
// stream. It never waits on the client for longer than WriteTimeout (a
// writer stuck on a client that does not read) plus CloseTimeout (a client
// that does not close), plus the 5s crypto/tls allows a close_notify.
func (c *conn) finish(err error) {
	final, cond := c.finalFor(err)
	if c.writerDone != nil {
		// Bound: the writer owns the socket. If the queue was closed
		// already (Close, overflow, conflict), that final stands.
		if c.q.close(final...) && cond != "" {
			c.srv.metrics.streamError(cond)
		}
		c.srv.cfg.Router.Unbind(context.WithoutCancel(c.ctx), c.sess)
		<-c.writerDone
	} else {
		if cond != "" {
			c.srv.metrics.streamError(cond)
		}
		if len(final) > 0 && !c.broken {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			if c.writeNow(final...) == nil {
				c.closeWrite()
			}
		}
	}
	// Once the client has closed its stream nothing more comes: close the
	// connection now (RFC 6120 §4.4, RFC 7395 §3.6). Otherwise wait for it.
	if !errors.Is(err, io.EOF) {
		c.drain()
	}
}

// finalFor maps how the read side ended to what the client is told last,
// and the stream error condition, if any.
func (c *conn) finalFor(err error) (final [][]byte, cond string) {
	var se *streamError
	var we *wire.Error
	var ie *internalError
	switch {
	case err == nil, errors.Is(err, errClosing):
		return nil, ""
	case errors.As(err, &se):
		cond = se.cond
		final = c.streamErrorParts(se.cond, se.text)
	case errors.As(err, &we):
		cond = we.Condition
		final = c.streamErrorParts(we.Condition, "")
		c.log.Warn("bad XML from client", "condition", we.Condition, "err", we.Msg)
	case errors.As(err, &ie):
		c.log.Error("connection failed", "err", ie.err)
		cond = "internal-server-error"
		final = c.streamErrorParts(cond, "")
	case errors.Is(err, io.EOF):
		// The client closed its stream: close ours.
		final = [][]byte{c.closeBytes()}
	case isTimeout(err):
		c.mu.Lock()
		cond = c.closeCond // Close interrupted the negotiation
		c.mu.Unlock()
		if cond == "" {
			cond = "connection-timeout"
		}
		final = c.streamErrorParts(cond, "")
	default:
		// The transport failed (reset, TLS error, ...): nobody to tell.
		c.log.Debug("connection ended", "err", err)
		return nil, ""
	}
	if !c.headerSent && c.writerDone == nil {
		// RFC 6120 §4.9.1.2: our stream header precedes any stream error,
		// even when the client's header was unusable.
		c.streamID = newStreamID()
		final = append([][]byte{c.headerBytes()}, final...)
		c.headerSent = true
	}
	return final, cond
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closeWrite signals the end of our output after the final bytes (TLS
// close_notify, then a TCP half-close; on WebSocket the <close/> element
// was that signal and the library runs the close handshake when the
// connection is closed) and gives the client CloseTimeout to close its
// side.
func (c *conn) closeWrite() {
	if c.ws == nil {
		if tc, ok := c.nc.(*tls.Conn); ok {
			if err := tc.CloseWrite(); err != nil {
				c.log.Debug("close_notify failed", "err", err)
				c.abort()
				return
			}
		}
		if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}
	c.raw.SetReadDeadline(time.Now().Add(c.srv.cfg.CloseTimeout))
	c.lingering = true
}

// drain waits, at most until the deadline closeWrite set, for the client
// to close its stream, discarding what it still sends, so that closing the
// socket neither cuts the client short nor resets the connection while our
// last bytes are on the way (a close with unread input sends a TCP reset).
// After a client sent XML we cannot read, it discards raw bytes until the
// client closes the connection. Without a graceful close of our side there
// is nothing to wait for.
func (c *conn) drain() {
	if !c.lingering {
		return
	}
	for {
		st, err := c.dec.Next()
		if err != nil {
			var we *wire.Error
			if errors.As(err, &we) {
				var buf [512]byte
				for err == nil {
					_, err = c.raw.Read(buf[:])
				}
			}
			return
		}
		if c.ws != nil && string(st.NS) == wire.NSFraming && string(st.Name) == "close" {
			return
		}
	}
}

// abort closes the transport at once; the reader's next read fails.
func (c *conn) abort() {
	if c.ws != nil {
		c.ws.CloseNow()
		return
	}
	c.raw.Close()
}

// Deliver implements router.Conn.
func (c *conn) Deliver(raw []byte) bool {
	ok, overflow := c.q.push(raw)
	if overflow {
		parts := c.streamErrorParts("policy-violation", "too many stanzas queued for this client")
		if c.q.close(parts...) {
			c.srv.metrics.slowCutoffs.Inc()
			c.srv.metrics.streamError("policy-violation")
			c.log.Warn("client too slow; disconnecting", "queued_limit", c.srv.cfg.OutboundQueueBytes)
		}
	}
	return ok
}

// Close implements router.Conn: the stream ends with the condition after
// what is queued is written. Before the session is bound, the reader is
// interrupted and writes the stream error itself.
func (c *conn) Close(condition string) {
	c.mu.Lock()
	bound := c.sess != nil
	if !bound && c.closeCond == "" {
		c.closeCond = condition
	}
	c.mu.Unlock()
	if !bound {
		c.raw.SetReadDeadline(time.Now())
		return
	}
	if c.q.close(c.streamErrorParts(condition, "")...) {
		c.srv.metrics.streamError(condition)
	}
}

// writeNow writes during negotiation, before the writer goroutine runs.
// Each part is one element: on WebSocket, one message.
func (c *conn) writeNow(parts ...[]byte) error {
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		if err := c.writeRaw(p); err != nil {
			return err
		}
	}
	if c.bw != nil {
		return c.bw.Flush()
	}
	return nil
}

// writeLoop drains the outbound queue: everything queued is written, then
// flushed once. After the final bytes of a closed queue it half-closes the
// transport and ends; on a write error it aborts the connection so the
// reader returns.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	timeout := c.srv.cfg.WriteTimeout
	m := c.srv.metrics
	for range c.q.wake {
		batch, closed, final := c.q.take()
		c.nc.SetWriteDeadline(time.Now().Add(timeout))
		n := 0
		for _, b := range batch {
			if err := c.writeRaw(b); err != nil {
				c.writeFailed(err)
				return
			}
			m.stanzaOut(b)
			n += len(b)
		}
		if closed {
			for _, f := range final {
				if err := c.writeRaw(f); err != nil {
					c.writeFailed(err)
					return
				}
			}
		}
		if c.bw != nil {
			if err := c.bw.Flush(); err != nil {
				c.writeFailed(err)
				return
			}
		}
		c.q.written(n)
		if closed {
			c.closeWrite()
			return
		}
	}
}

func (c *conn) writeFailed(err error) {
	c.log.Debug("write failed", "err", err)
	c.q.close() // nothing more is taken: Deliver reports failure
	c.abort()
}

func (c *conn) writeRaw(b []byte) error {
	if c.ws != nil {
		out := withClientNS(c.wsBuf, b)
		if len(b) != len(out) {
			c.wsBuf = out // reuse the grown scratch buffer
		}
		_, err := c.nc.Write(out)
		return err
	}
	_, err := c.bw.Write(b)
	return err
}

// readLoop hands every stanza of a bound session to the router.
func (c *conn) readLoop() error {
	r := c.srv.cfg.Router
	sess := c.sess
	full := sess.FullString()
	bare := sess.BareString()
	m := c.srv.metrics
	for {
		st, err := c.dec.Next()
		if err != nil {
			return err
		}
		if c.ws != nil && st.Kind == wire.KindOther && string(st.NS) == wire.NSFraming && string(st.Name) == "close" {
			return io.EOF
		}
		if c.q.isClosed() {
			return errClosing
		}
		switch st.Kind {
		case wire.KindMessage, wire.KindPresence, wire.KindIQ:
			m.stanzasIn[st.Kind].Inc()
			if st.From != nil && string(st.From) != full && string(st.From) != bare {
				if !sameJID(st.From, full, bare) {
					return newStreamError("invalid-from", "from does not match the session")
				}
			}
			if st.Kind == wire.KindIQ && c.handleSessionIQ(st) {
				continue
			}
			r.Route(c.ctx, sess, st)
		default:
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
	if string(st.Type) != "set" {
		return false // the router answers it like any unknown IQ
	}
	b := append([]byte(`<iq type="result" id="`), st.ID...) // still escaped
	b = append(b, `" to="`...)
	b = wire.AppendEscaped(b, c.sess.FullString())
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
