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
	cond  string
	text  string
	extra string // an application-specific condition element, if any
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
// bound or resumed; it then starts the writer, which owns bw and all
// writes. Other goroutines (the router through the session, Shutdown)
// only touch the session's queue, mu-guarded fields and kill.
//
// Closing: whoever ends the stream closes the session's queue with the
// final bytes (stream error, closing tag). The writer writes them,
// half-closes the transport (TLS close_notify, TCP FIN) and gives the
// reader CloseTimeout to see the client's closing tag, so that closing the
// socket never throws away what was just written (a close with unread
// input sends a TCP reset). When the transport breaks under a resumable
// session, the connection lets the session go (it hibernates) instead.
type conn struct {
	srv      *Server
	raw      net.Conn // as accepted (TCP, or the WebSocket's net.Conn); set once
	nc       net.Conn // raw or TLS over raw; changes only in startTLS, before any other goroutine looks
	listener string
	secure   bool // TLS is up (or the transport is otherwise trusted)

	ws  *websocket.Conn // non-nil for RFC 7395 sessions
	dec *wire.Decoder
	// bw buffers a batch of output, from the srv.writers pool between
	// the first write and the flush; nil otherwise, and always on
	// WebSocket (every element is its own message).
	bw     *bufio.Writer
	wsBuf  []byte // the writer's scratch for WebSocket elements
	log    *slog.Logger
	ctx    context.Context // the connection's own; cancelled when serve returns
	cancel context.CancelFunc

	streamID   string
	headerSent bool // our header of the current stream was written
	broken     bool // the transport cannot carry our bytes (failed TLS handshake)
	lingering  bool // closeWrite ended our side gracefully; set by whoever writes last
	username   string
	writerDone chan struct{} // closed when the writer ends; nil until it starts
	stop       chan struct{} // closed by kill: the writer ends, writing nothing more
	stopOnce   sync.Once
	wb         batch  // the writer's current batch
	ackBuf     []byte // the writer's scratch for <a h/>

	mu        sync.Mutex
	sess      *session // written by the reader under mu once bound or resumed
	closeCond string   // Close before binding: the condition to end with
}

func (s *Server) newConn(raw net.Conn, listener string, direct bool) *conn {
	c := &conn{
		srv:      s,
		raw:      raw,
		nc:       raw,
		listener: listener,
		secure:   direct,
		stop:     make(chan struct{}),
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
//
// A bound session ends with the stream (it is unbound, and what it still
// holds is requeued), except when the transport broke under a resumable
// session: then the session hibernates and nothing is written.
func (c *conn) finish(err error) {
	final, cond := c.finalFor(err)
	s := c.sess
	if s == nil {
		if cond != "" {
			c.srv.metrics.streamError(cond)
		}
		if len(final) > 0 && !c.broken {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			if c.writeNow(final...) == nil {
				c.closeWrite()
			}
		}
		if !errors.Is(err, io.EOF) {
			c.drain()
		}
		return
	}
	if c.transportFailed(err) {
		// Nothing can be written any more: what is queued stays for the
		// resumption or the requeue.
		c.kill()
		if c.writerDone != nil {
			<-c.writerDone
		}
		if s.id != "" && s.hibernate(c) {
			c.log.Info("connection lost; session hibernating", "err", err, "resume_timeout", s.resumeFor)
			return
		}
	}
	s.end(c)
	// If the queue was closed already (Close, overflow, conflict), that
	// final stands.
	if s.q.close(final...) && cond != "" {
		c.srv.metrics.streamError(cond)
	}
	if c.writerDone != nil {
		<-c.writerDone
	}
	// Once the client has closed its stream nothing more comes: close the
	// connection now (RFC 6120 §4.4, RFC 7395 §3.6). Otherwise wait for it
	// (and for its last acks, so fewer stanzas are requeued). The session
	// stays bound meanwhile: a message routed to it now queues behind the
	// ones it holds and is requeued with them, in order, instead of
	// reaching offline storage ahead of them.
	if !errors.Is(err, io.EOF) {
		c.drain()
	}
	c.srv.cfg.Router.Unbind(context.WithoutCancel(c.ctx), s.rs)
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.WriteTimeout)
	s.requeue(ctx)
	cancel()
}

// transportFailed reports whether the read side ended because the
// transport broke (reset, TLS failure, EOF in mid-stream, a WebSocket
// closed without <close/>) rather than because either side ended the
// stream.
func (c *conn) transportFailed(err error) bool {
	if err == nil || errors.Is(err, errClosing) || errors.Is(err, errClientClosed) {
		return false
	}
	if c.ws == nil && errors.Is(err, io.EOF) {
		return false // </stream:stream>
	}
	var se *streamError
	var we *wire.Error
	var ie *internalError
	return !errors.As(err, &se) && !errors.As(err, &we) && !errors.As(err, &ie)
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
		final = c.streamErrorPartsExtra(se.cond, se.text, se.extra)
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
	if !c.headerSent && c.sess == nil {
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
		if s := c.sess; s != nil && s.sm && string(st.NS) == nsSM && string(st.Name) == "a" {
			// The client's last acks: fewer stanzas to requeue.
			if h, ok := parseH(attrValue(st, "h")); ok {
				_, _, recs := s.q.ack(h)
				s.release(recs)
			}
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

// kill stops the writer, which writes nothing more, and closes the
// transport: the connection is dead (broken, or replaced by a resumption).
func (c *conn) kill() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.abort()
}

// Close ends the connection's stream with the condition (Shutdown). Once
// bound, that is the session's stream, ended after what is queued is
// written. Before, the reader is interrupted and writes the stream error
// itself.
func (c *conn) Close(condition string) {
	c.mu.Lock()
	s := c.sess
	if s == nil {
		if c.closeCond == "" {
			c.closeCond = condition
		}
		// Under mu: binding, which reads closeCond under mu, then knows
		// this deadline is set and replaces it.
		c.raw.SetReadDeadline(time.Now())
	}
	c.mu.Unlock()
	if s != nil {
		s.closeConn(c, condition)
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
	return c.flush()
}

// flush writes what bw holds and gives bw back to the pool. After a
// failed write bw is dropped: the connection is done.
func (c *conn) flush() error {
	if c.bw == nil {
		return nil
	}
	err := c.bw.Flush()
	if err == nil {
		c.bw.Reset(nil)
		c.srv.writers.Put(c.bw)
	}
	c.bw = nil
	return err
}

// startWriter starts the writer on the session's queue.
func (c *conn) startWriter() {
	c.writerDone = make(chan struct{})
	go c.writeLoop()
}

// writeLoop drains the session's queue: everything taken is written, then
// flushed once. After the final bytes of a closed queue it half-closes the
// transport and ends; on a write error it aborts the connection so the
// reader returns; once killed it ends without writing more.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	timeout := c.srv.cfg.WriteTimeout
	m := c.srv.metrics
	s := c.sess
	q := s.q
	w := &c.wb
	for {
		select {
		case <-q.wake:
		case <-c.stop:
			return
		}
		q.take(w)
		c.nc.SetWriteDeadline(time.Now().Add(timeout))
		for _, e := range w.stanzas {
			if err := c.writeRaw(e.b); err != nil {
				c.writeFailed(err)
				return
			}
			m.stanzaOut(e.b)
		}
		for _, b := range w.ctrl {
			if err := c.writeRaw(b); err != nil {
				c.writeFailed(err)
				return
			}
		}
		if w.ack {
			c.ackBuf = appendAck(c.ackBuf[:0], s.inH.Load())
			if err := c.writeRaw(c.ackBuf); err != nil {
				c.writeFailed(err)
				return
			}
		}
		if w.request {
			if err := c.writeRaw(smRequest); err != nil {
				c.writeFailed(err)
				return
			}
		}
		if w.closed {
			for _, f := range w.final {
				if err := c.writeRaw(f); err != nil {
					c.writeFailed(err)
					return
				}
			}
		}
		if err := c.flush(); err != nil {
			c.writeFailed(err)
			return
		}
		for _, e := range w.stanzas {
			if e.at != 0 {
				m.writeSeconds.Observe(float64(monoNow()-e.at) / 1e9)
			}
		}
		q.written(w.release)
		if w.closed {
			c.closeWrite()
			return
		}
	}
}

// writeFailed ends the writer after a failed write. The stanzas of the
// batch that were not kept for acknowledgement go back to the queue, to
// be requeued: with the transport failing, nobody knows what arrived.
func (c *conn) writeFailed(err error) {
	c.log.Debug("write failed", "err", err)
	var back []entry
	for _, e := range c.wb.stanzas[:c.wb.uncounted] {
		if kindOf(e.b) != wire.KindOther {
			back = append(back, e)
		}
	}
	c.sess.q.unwrite(back)
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
	if c.bw == nil {
		bw, _ := c.srv.writers.Get().(*bufio.Writer)
		if bw == nil {
			bw = bufio.NewWriterSize(c.nc, 8<<10)
		}
		bw.Reset(c.nc)
		c.bw = bw
	}
	_, err := c.bw.Write(b)
	return err
}

// readLoop hands every stanza of a bound session to the router. The
// XEP-0198 count of routed stanzas goes up once Route returned, which for
// an offline recipient includes the durable write to offline storage; a
// stanza that added in-flight records (for a recipient that acknowledges)
// also notes the journal batch it needs, and the <a h/> that covers it
// waits for that batch (see sm.go).
func (c *conn) readLoop() error {
	r := c.srv.cfg.Router
	j := c.srv.cfg.Journal
	s := c.sess
	rs := s.rs
	q := s.q
	full := rs.FullString()
	bare := rs.BareString()
	m := c.srv.metrics
	var n uint32
	for {
		st, err := c.dec.Next()
		if err != nil {
			return err
		}
		var t0 int64
		if n++; n%sampleEvery == 0 {
			t0 = monoNow()
		}
		if c.ws != nil && st.Kind == wire.KindOther && string(st.NS) == wire.NSFraming && string(st.Name) == "close" {
			return errClientClosed
		}
		if q.isClosed() {
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
			if st.Kind != wire.KindIQ || !c.handleSessionIQ(st) {
				if j != nil {
					added := j.Added()
					r.Route(c.ctx, rs, st)
					if j.Added() != added {
						s.need.Store(j.Batch())
					}
				} else {
					r.Route(c.ctx, rs, st)
				}
			}
			s.routedH.Add(1)
			if t0 != 0 {
				m.routeSeconds.Observe(float64(monoNow()-t0) / 1e9)
			}
		default:
			if string(st.NS) != nsSM {
				return newStreamError("unsupported-stanza-type", "")
			}
			if err := c.handleSM(st); err != nil {
				return err
			}
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
	b = wire.AppendEscaped(b, c.sess.rs.FullString())
	b = append(b, `"/>`...)
	c.sess.Deliver(b)
	return true
}

// newStreamID returns a random stream id.
func newStreamID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
