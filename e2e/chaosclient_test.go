package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/sasl"
)

// smClient is a small XMPP client written for the tests that need exact
// control over XEP-0198 acks and retries (TestChaosKill9,
// TestShutdownInFlight): direct TLS (XEP-0368), SCRAM-SHA-256
// (mellium.im/sasl), resource binding, and stream management with
// resumption, over encoding/xml.
//
// Why not the slixmpp scripts: slixmpp's XEP-0198 plugin (1.8.3, Debian's
// python3-slixmpp) empties its queue of unacknowledged stanzas when it
// sends <resume/> and again when resumption fails with <failed/>, so it
// never re-sends what the server did not ack; a client that re-sends
// exactly that, with the same ids, is what these tests are about. And the
// chaos test has to follow ringd to a new port after each restart and
// know which server run every stanza went to and came from, which is
// plain state in Go and a protocol over stdin for a script. mellium.im/xmpp
// (already a dependency) has no XEP-0198 support at all.
//
// Like the rest of the package it knows ringd only from the outside: the
// wire protocol.
type smClient struct {
	label string
	user  user

	// h is the XEP-0198 handled count of the current stream management
	// session: stanzas read from the server since <enabled/>, carried
	// over a resumption. Only the reader of the live connection adds to
	// it.
	h atomic.Uint32
	// frozen, when set, is the most the client acks: a client that stops
	// acknowledging (TestShutdownInFlight). Set from a reader only.
	frozen atomic.Pointer[uint32]

	mu     sync.Mutex
	previd string // resumption id of the current session; "" = none
	conns  int    // connections opened so far, for xconn.n
}

const (
	nsClient = "jabber:client"
	nsSASL   = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind   = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSM3    = "urn:xmpp:sm:3"
	nsSID    = "urn:xmpp:sid:0"
	nsDelay  = "urn:xmpp:delay"
	nsPing   = "urn:xmpp:ping"

	// negotiateTimeout bounds one connection's set-up (TLS to <enabled/>
	// or <resumed/>); writeTimeout one write.
	negotiateTimeout = 15 * time.Second
	writeTimeout     = 10 * time.Second
)

// errAuth is a SASL failure: retrying cannot help.
var errAuth = errors.New("authentication failed")

func newSMClient(label string, u user) *smClient {
	return &smClient{label: label, user: u}
}

// PrevID is the resumption id of the client's current session.
func (cl *smClient) PrevID() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.previd
}

// Forget drops the resumption id, as a client that lost its stream
// management state would (an app restarted with its outbox on disk): the
// next connect starts a fresh session.
func (cl *smClient) Forget() {
	cl.mu.Lock()
	cl.previd = ""
	cl.mu.Unlock()
}

// connCount is how many connections the client opened.
func (cl *smClient) connCount() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.conns
}

// ackValue is what the client answers <r/> with.
func (cl *smClient) ackValue() uint32 {
	if f := cl.frozen.Load(); f != nil {
		return *f
	}
	return cl.h.Load()
}

// sessionStart says how a connection got its stream management session.
type sessionStart struct {
	Resumed bool   // <resumed/>: H is the server's handled count
	H       uint32 // with Resumed
	// FailedH is the h of a <failed/> answer to <resume/> (the server
	// still knew the old session's count), if it had one.
	FailedH    uint32
	HasFailedH bool
	Tried      bool // a resumption was attempted
}

// connect opens a stream to addr (server run run) and either resumes the
// client's session (when tryResume and it has one) or, if that is not
// possible, binds a resource and enables stream management with
// resumption. The connection's reader is not started yet: the caller sets
// up what the first stanzas need, then calls start. A resumed session's
// unacknowledged stanzas wait in the connection's buffer until then.
func (cl *smClient) connect(addr string, run int, tryResume bool) (*xconn, sessionStart, error) {
	var st sessionStart
	c, err := dialXMPP(addr, cl.user, cl.label, run)
	if err != nil {
		return nil, st, err
	}
	cl.mu.Lock()
	cl.conns++
	c.n = cl.conns
	previd := cl.previd
	cl.mu.Unlock()
	c.cl = cl
	fail := func(err error) (*xconn, sessionStart, error) {
		c.tc.Close()
		return nil, st, fmt.Errorf("%s (connection %d, run %d): %w", cl.label, c.n, run, err)
	}

	if tryResume && previd != "" {
		st.Tried = true
		h := cl.h.Load()
		if err := c.send(fmt.Sprintf(`<resume xmlns='%s' previd='%s' h='%d'/>`, nsSM3, xmlEscape(previd), h)); err != nil {
			return fail(err)
		}
		e, err := c.next()
		if err != nil {
			return fail(fmt.Errorf("waiting for <resumed/>: %w", err))
		}
		switch {
		case e.is(nsSM3, "resumed"):
			if st.H, err = parseH(e.H); err != nil {
				return fail(err)
			}
			st.Resumed = true
			c.tc.SetDeadline(time.Time{})
			return c, st, nil
		case e.is(nsSM3, "failed"):
			if e.H != "" {
				if st.FailedH, err = parseH(e.H); err != nil {
					return fail(err)
				}
				st.HasFailedH = true
			}
		default:
			return fail(fmt.Errorf("answer to <resume/>: got <%s xmlns='%s'>", e.XMLName.Local, e.XMLName.Space))
		}
	}

	// A fresh session: bind (the server picks the resource), enable.
	cl.mu.Lock()
	cl.previd = ""
	cl.mu.Unlock()
	if err := c.send(`<iq type='set' id='bind'><bind xmlns='` + nsBind + `'/></iq>`); err != nil {
		return fail(err)
	}
	e, err := c.next()
	switch {
	case err != nil:
		return fail(fmt.Errorf("waiting for the bind result: %w", err))
	case !e.is(nsClient, "iq") || e.Type != "result" || e.Bind == nil || e.Bind.JID == "":
		return fail(fmt.Errorf("bind: got <%s type='%s'> %s", e.XMLName.Local, e.Type, e.errorText()))
	}
	if err := c.send(`<enable xmlns='` + nsSM3 + `' resume='true'/>`); err != nil {
		return fail(err)
	}
	if e, err = c.next(); err != nil {
		return fail(fmt.Errorf("waiting for <enabled/>: %w", err))
	}
	if !e.is(nsSM3, "enabled") || e.ID == "" || (e.Resume != "true" && e.Resume != "1") {
		return fail(fmt.Errorf("enable: got <%s id='%s' resume='%s'>, want <enabled/> with resumption", e.XMLName.Local, e.ID, e.Resume))
	}
	cl.h.Store(0)
	cl.frozen.Store(nil)
	cl.mu.Lock()
	cl.previd = e.ID
	cl.mu.Unlock()
	c.tc.SetDeadline(time.Time{})
	return c, st, nil
}

// xconn is one connection of an smClient.
type xconn struct {
	cl    *smClient
	label string
	run   int // the server run (1, 2, …) it went to
	n     int // the client's connection number (1, 2, …)

	tc  *tls.Conn
	br  *bufio.Reader
	dec *xml.Decoder
	wmu sync.Mutex

	closing atomic.Bool // our </stream:stream> is sent

	mu    sync.Mutex
	pings map[string]chan *element // IQ id → its answer

	done        chan struct{} // closed when the reader has stopped
	err         error         // why it stopped; valid once done is closed
	streamError string        // the <stream:error/> condition, if any; valid once done is closed
}

// dialXMPP connects with direct TLS (ringd's certificate is self-signed,
// so it is not verified), opens the stream and authenticates with
// SCRAM-SHA-256. The stream after authentication is open and offers
// binding and stream management.
func dialXMPP(addr string, u user, label string, run int) (*xconn, error) {
	d := net.Dialer{Timeout: negotiateTimeout}
	tc, err := tls.DialWithDialer(&d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: domain})
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s: %w", label, addr, err)
	}
	c := &xconn{label: label, run: run, tc: tc, br: bufio.NewReader(tc),
		pings: make(map[string]chan *element), done: make(chan struct{})}
	tc.SetDeadline(time.Now().Add(negotiateTimeout))
	if err := c.negotiate(u); err != nil {
		tc.Close()
		return nil, fmt.Errorf("%s: %s: %w", label, addr, err)
	}
	return c, nil
}

func (c *xconn) negotiate(u user) error {
	f, err := c.openStream()
	if err != nil {
		return err
	}
	if f.Mechanisms == nil || !slices.Contains(f.Mechanisms.Names, "SCRAM-SHA-256") {
		return errors.New("SCRAM-SHA-256 not offered")
	}
	local, _, _ := strings.Cut(u.JID, "@")
	neg := sasl.NewClient(sasl.ScramSha256, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(local), []byte(u.Password), nil
	}))
	_, resp, err := neg.Step(nil)
	if err != nil {
		return fmt.Errorf("SCRAM: %w", err)
	}
	if err := c.send(`<auth xmlns='` + nsSASL + `' mechanism='SCRAM-SHA-256'>` + base64.StdEncoding.EncodeToString(resp) + `</auth>`); err != nil {
		return err
	}
	for {
		e, err := c.next()
		if err != nil {
			return fmt.Errorf("SASL: %w", err)
		}
		data, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(e.Text))
		switch {
		case e.is(nsSASL, "failure"):
			return fmt.Errorf("%w: %s", errAuth, e.childNames())
		case derr != nil:
			return fmt.Errorf("SASL <%s>: %w", e.XMLName.Local, derr)
		case e.is(nsSASL, "challenge"):
			if _, resp, err = neg.Step(data); err != nil {
				return fmt.Errorf("SCRAM: %w", err)
			}
			if err := c.send(`<response xmlns='` + nsSASL + `'>` + base64.StdEncoding.EncodeToString(resp) + `</response>`); err != nil {
				return err
			}
		case e.is(nsSASL, "success"):
			// The server's signature: a server that does not know the
			// password cannot produce it.
			if _, _, err := neg.Step(data); err != nil {
				return fmt.Errorf("SCRAM server signature: %w", err)
			}
			if f, err = c.openStream(); err != nil {
				return err
			}
			if f.Bind == nil || f.SM == nil {
				return errors.New("stream features after authentication lack <bind/> or <sm xmlns='urn:xmpp:sm:3'/>")
			}
			return nil
		default:
			return fmt.Errorf("SASL: unexpected <%s xmlns='%s'>", e.XMLName.Local, e.XMLName.Space)
		}
	}
}

// openStream sends a stream header and reads the server's header and
// stream features. The decoder is new for each stream (RFC 6120 §4.3.3);
// it reads from the same buffered reader, which it does not read ahead of.
func (c *xconn) openStream() (*element, error) {
	if err := c.send(streamHeader); err != nil {
		return nil, err
	}
	c.dec = xml.NewDecoder(c.br)
	if _, err := nextStart(c.dec, xml.Name{Space: nsStream, Local: "stream"}); err != nil {
		return nil, fmt.Errorf("waiting for the stream header: %w", err)
	}
	e, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("waiting for stream features: %w", err)
	}
	if !e.is(nsStream, "features") {
		return nil, fmt.Errorf("want stream features, got <%s xmlns='%s'>", e.XMLName.Local, e.XMLName.Space)
	}
	return e, nil
}

// element is any top-level element of the stream, with the parts the
// tests look at.
type element struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	Type    string `xml:"type,attr"`
	From    string `xml:"from,attr"`
	H       string `xml:"h,attr"`
	Resume  string `xml:"resume,attr"`
	Text    string `xml:",chardata"`

	Body     *string `xml:"body"`
	OriginID *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 origin-id"`
	Delays []struct {
		From  string `xml:"from,attr"`
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
	Error *struct {
		Type     string  `xml:"type,attr"`
		Children []xname `xml:",any"`
	} `xml:"error"`

	// Stream features.
	Mechanisms *struct {
		Names []string `xml:"mechanism"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms"`
	Bind *struct {
		JID string `xml:"jid"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	SM *struct{} `xml:"urn:xmpp:sm:3 sm"`

	Children []xname `xml:",any"` // anything else (stream error conditions, …)
}

type xname struct {
	XMLName xml.Name
}

func (e *element) is(space, local string) bool {
	return e.XMLName.Space == space && e.XMLName.Local == local
}

func (e *element) isStanza() bool {
	return e.XMLName.Space == nsClient &&
		(e.XMLName.Local == "message" || e.XMLName.Local == "presence" || e.XMLName.Local == "iq")
}

// childNames lists the local names of the children not decoded otherwise
// (a stream error's or SASL failure's condition).
func (e *element) childNames() string {
	var names []string
	for _, ch := range e.Children {
		names = append(names, ch.XMLName.Local)
	}
	return strings.Join(names, ",")
}

// errorText is a stanza error's condition, for messages.
func (e *element) errorText() string {
	if e.Error == nil {
		return ""
	}
	var names []string
	for _, ch := range e.Error.Children {
		names = append(names, ch.XMLName.Local)
	}
	return "error " + e.Error.Type + ": " + strings.Join(names, ",")
}

// streamErrorCondition is the defined condition of a <stream:error/>.
func (e *element) streamErrorCondition() string {
	for _, ch := range e.Children {
		if ch.XMLName.Space == nsStreamErrors && ch.XMLName.Local != "text" {
			return ch.XMLName.Local
		}
	}
	return ""
}

// next reads the next top-level element; io.EOF when the server closed
// the stream (</stream:stream>).
func (c *xconn) next() (*element, error) {
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := new(element)
			if err := c.dec.DecodeElement(e, &tok); err != nil {
				return nil, err
			}
			return e, nil
		case xml.EndElement:
			return nil, io.EOF
		}
	}
}

// send writes s at once; writes from several goroutines do not
// interleave.
func (c *xconn) send(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.tc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := io.WriteString(c.tc, s)
	return err
}

// start runs the connection's reader: it counts the server's stanzas for
// XEP-0198, answers <r/>, completes pings, and hands every element to
// handle (in the reader's goroutine). When the server closes the stream
// the client closes its side too; done is closed when the reader stops.
func (c *xconn) start(handle func(*xconn, *element)) {
	go func() {
		defer close(c.done)
		for {
			e, err := c.next()
			if err != nil {
				c.err = err
				if errors.Is(err, io.EOF) && c.closing.CompareAndSwap(false, true) {
					c.send("</stream:stream>")
				}
				c.tc.Close()
				return
			}
			switch {
			case e.is(nsSM3, "r"):
				if !c.closing.Load() { // nothing may follow our closing tag
					c.ack()
				}
				continue
			case e.is(nsStream, "error"):
				c.streamError = e.streamErrorCondition()
			case e.isStanza():
				c.cl.h.Add(1)
			}
			if e.is(nsClient, "iq") && (e.Type == "result" || e.Type == "error") {
				c.mu.Lock()
				ch := c.pings[e.ID]
				delete(c.pings, e.ID)
				c.mu.Unlock()
				if ch != nil {
					ch <- e
				}
			}
			if handle != nil {
				handle(c, e)
			}
		}
	}()
}

// ping sends a XEP-0199 ping to the server and waits for its answer. The
// server handles a session's stanzas in order and queues its answers in
// order, so once the answer is here, everything the client sent before
// has been routed, and everything queued for the client before it has
// been read.
func (c *xconn) ping(id string, timeout time.Duration) error {
	return c.pingVia(id, timeout, c.send)
}

// pingVia is ping with the IQ written by send (a client that keeps its
// own stanzas for re-sending writes it through its queue).
func (c *xconn) pingVia(id string, timeout time.Duration, send func(raw string) error) error {
	ch := make(chan *element, 1)
	c.mu.Lock()
	c.pings[id] = ch
	c.mu.Unlock()
	if err := send(`<iq type='get' id='` + id + `' to='` + domain + `'><ping xmlns='` + nsPing + `'/></iq>`); err != nil {
		return fmt.Errorf("%s: ping %s: %w", c.label, id, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case e := <-ch:
		if e.Type != "result" {
			return fmt.Errorf("%s: ping %s: %s", c.label, id, e.errorText())
		}
		return nil
	case <-c.done:
		return fmt.Errorf("%s: connection lost waiting for ping %s: %v", c.label, id, c.err)
	case <-timer.C:
		return fmt.Errorf("%s: no answer to ping %s within %v", c.label, id, timeout)
	}
}

// ack sends <a h/> with what the client acks now.
func (c *xconn) ack() error {
	return c.send(fmt.Sprintf(`<a xmlns='%s' h='%d'/>`, nsSM3, c.cl.ackValue()))
}

// closeStream ends the stream politely (</stream:stream>); the reader
// stops once the server closed its side.
func (c *xconn) closeStream() error {
	if !c.closing.CompareAndSwap(false, true) {
		return nil
	}
	return c.send("</stream:stream>")
}

// abort cuts the TCP connection the way a dead mobile link does from the
// server's point of view: no closing tag, no TLS close_notify, a reset.
func (c *xconn) abort() {
	if tcp, ok := c.tc.NetConn().(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	c.tc.NetConn().Close()
}

// wait waits until the reader stopped, at most timeout.
func (c *xconn) wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.done:
		return nil
	case <-timer.C:
		return fmt.Errorf("%s: connection %d still open %v after it should have ended", c.label, c.n, timeout)
	}
}

// parseH parses an XEP-0198 h attribute.
func parseH(s string) (uint32, error) {
	h, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad h %q: %w", s, err)
	}
	return uint32(h), nil
}

// xmlEscape escapes s for an attribute value or character data.
func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// serverRuns tells clients where the current run of a restarted server
// listens: after a kill -9 the new run has new ports.
type serverRuns struct {
	mu      sync.Mutex
	run     int
	addr    string
	changed chan struct{} // closed when a newer run is published
}

func newServerRuns(addr string) *serverRuns {
	return &serverRuns{run: 1, addr: addr, changed: make(chan struct{})}
}

// publish announces a new run listening on addr.
func (r *serverRuns) publish(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.run++
	r.addr = addr
	close(r.changed)
	r.changed = make(chan struct{})
}

// current returns the current run, its address, and a channel closed
// when a newer run is published.
func (r *serverRuns) current() (int, string, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run, r.addr, r.changed
}

// connectAny connects cl to whatever run of the server is current,
// following restarts: a connection that fails (the server was killed
// meanwhile) is tried again once a newer run is published. It gives up
// at deadline or when quit is closed, and at once on an authentication
// failure.
func (cl *smClient) connectAny(runs *serverRuns, tryResume bool, deadline time.Time, quit <-chan struct{}) (*xconn, sessionStart, error) {
	for {
		run, addr, changed := runs.current()
		c, st, err := cl.connect(addr, run, tryResume)
		if err == nil {
			return c, st, nil
		}
		if errors.Is(err, errAuth) {
			return nil, st, err
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-changed:
			timer.Stop()
		case <-timer.C:
			return nil, st, fmt.Errorf("%s: no connection by the deadline; last error: %w", cl.label, err)
		case <-quit:
			timer.Stop()
			return nil, st, fmt.Errorf("%s: stopped; last error: %w", cl.label, err)
		}
	}
}
