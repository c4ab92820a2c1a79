package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Login timing and shutdown bounds.
const (
	loginTimeout = 30 * time.Second // one login, dial to ready
	closeTimeout = 3 * time.Second  // </stream:stream> to the server's close
)

var errServerClosed = errors.New("server closed the stream")

// dialConfig is how sessions reach and log in to the server.
type dialConfig struct {
	Addr       string // loopback ip:port
	Domain     string
	DirectTLS  bool // XEP-0368 TLS from the first byte, else STARTTLS
	Mech       scramMech
	Password   string
	Curves     []tls.CurveID
	Sources    []net.IP // source addresses to spread sessions over; nil: the kernel's choice
	Cache      *saltCache
	ReadBuffer int // initial read buffer per session
}

// dialer opens sessions. It is shared by all goroutines of a run.
type dialer struct {
	cfg  dialConfig
	tls  *tls.Config
	next atomic.Uint64 // round robin over cfg.Sources
}

func newDialer(cfg dialConfig) *dialer {
	tc := &tls.Config{
		ServerName: cfg.Domain,
		// The targets are servers on loopback with self-signed
		// certificates: there is nobody in between to authenticate
		// against, and checking a chain would only add client work. The
		// handshake itself (key exchange, the server's signature) is
		// done in full.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
		CurvePreferences:   cfg.Curves,
	}
	if cfg.DirectTLS {
		tc.NextProtos = []string{"xmpp-client"} // XEP-0368
	}
	return &dialer{cfg: cfg, tls: tc}
}

// loginOpts is what a session does once bound.
type loginOpts struct {
	Resource string
	Roster   bool   // fetch the roster (RFC 6121 §2.2) before presence
	Presence []byte // initial presence; nil sends none
}

// loginPhases are the times from the start of the dial at which each
// step of a login completed. Ready is when the server answered a ping
// sent after the initial presence, so the presence has been processed.
type loginPhases struct {
	TCP, TLS, Auth, Bind, Ready time.Duration
}

// session is one logged-in client stream.
type session struct {
	nc      net.Conn
	fr      *frameReader
	wmu     sync.Mutex
	JID     string   // bound full JID
	Bare    string   // its bare JID
	Roster  *element // the roster query, when loginOpts.Roster asked for it
	TLS13   bool     // TLS 1.3 was negotiated
	pending [][]byte // stanzas that arrived during login, for Run
	closing atomic.Bool
	done    chan struct{} // closed when Run returns
}

// login connects user and runs the whole negotiation: TCP, TLS
// (STARTTLS or direct), SASL SCRAM, bind, optional roster, initial
// presence.
func (d *dialer) login(ctx context.Context, user string, o loginOpts) (*session, loginPhases, error) {
	var ph loginPhases
	start := time.Now()
	nd := net.Dialer{Timeout: loginTimeout}
	if n := len(d.cfg.Sources); n > 0 {
		src := d.cfg.Sources[(d.next.Add(1)-1)%uint64(n)]
		nd.LocalAddr = &net.TCPAddr{IP: src}
		nd.Control = sourcePortControl
	}
	raw, err := nd.DialContext(ctx, "tcp", d.cfg.Addr)
	if err != nil {
		return nil, ph, fmt.Errorf("dial %s: %w", d.cfg.Addr, err)
	}
	ph.TCP = time.Since(start)
	s := &session{nc: raw, done: make(chan struct{})}
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	raw.SetDeadline(start.Add(loginTimeout))
	if err := s.negotiate(ctx, d, user, o, start, &ph); err != nil {
		raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, ph, fmt.Errorf("%s: %w", user, err)
	}
	raw.SetDeadline(time.Time{})
	return s, ph, nil
}

func (s *session) negotiate(ctx context.Context, d *dialer, user string, o loginOpts, start time.Time, ph *loginPhases) error {
	readBuf := d.cfg.ReadBuffer
	if readBuf <= 0 {
		readBuf = 4096
	}
	if d.cfg.DirectTLS {
		tc := tls.Client(s.nc, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		s.nc = tc
		s.TLS13 = tc.ConnectionState().Version == tls.VersionTLS13
		ph.TLS = time.Since(start)
	}
	s.fr = newFrameReader(s.nc, readBuf)
	features, err := s.open(d.cfg.Domain)
	if err != nil {
		return err
	}
	if !d.cfg.DirectTLS {
		if features.Child(nsTLS, "starttls") == nil {
			return errors.New("server offers no STARTTLS")
		}
		if err := s.write([]byte(`<starttls xmlns='` + nsTLS + `'/>`)); err != nil {
			return err
		}
		el, err := s.expect()
		if err != nil {
			return err
		}
		if el.Local != "proceed" || el.Space != nsTLS {
			return fmt.Errorf("STARTTLS: server answered %s", el)
		}
		if s.fr.Buffered() > 0 {
			return errors.New("STARTTLS: server sent data after <proceed/>")
		}
		tc := tls.Client(s.nc, d.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		s.nc = tc
		s.TLS13 = tc.ConnectionState().Version == tls.VersionTLS13
		s.fr.Reset(tc)
		ph.TLS = time.Since(start)
		if features, err = s.open(d.cfg.Domain); err != nil {
			return err
		}
	}
	if err := s.authenticate(d, user, features); err != nil {
		return err
	}
	ph.Auth = time.Since(start)
	if features, err = s.open(d.cfg.Domain); err != nil {
		return err
	}
	if err := s.bind(o.Resource, features); err != nil {
		return err
	}
	ph.Bind = time.Since(start)

	var b []byte
	if o.Roster {
		b = append(b, `<iq type='get' id='rbroster'><query xmlns='`+nsRoster+`'/></iq>`...)
	}
	b = append(b, o.Presence...)
	b = append(b, `<iq type='get' id='rbready' to='`...)
	b = appendEscaped(b, d.cfg.Domain)
	b = append(b, `'><ping xmlns='`+nsPing+`'/></iq>`...)
	if err := s.write(b); err != nil {
		return err
	}
	for {
		el, raw, err := s.next()
		if err != nil {
			return err
		}
		if el.Local == "iq" && el.Space == nsClient {
			switch el.Attr("id") {
			case "rbready":
				ph.Ready = time.Since(start)
				if o.Roster && s.Roster == nil {
					return errors.New("no roster result before the ping's")
				}
				return nil
			case "rbroster":
				if el.Attr("type") != "result" {
					return fmt.Errorf("roster get: %s", stanzaErr(el))
				}
				if s.Roster = el.Child(nsRoster, "query"); s.Roster == nil {
					s.Roster = &element{Space: nsRoster, Local: "query"}
				}
				continue
			}
		}
		s.pending = append(s.pending, append([]byte(nil), raw...))
	}
}

// open sends a stream header and reads the server's header and features.
func (s *session) open(domain string) (*element, error) {
	b := append([]byte(nil), `<?xml version='1.0'?><stream:stream to='`...)
	b = appendEscaped(b, domain)
	b = append(b, `' version='1.0' xml:lang='en' xmlns='`+nsClient+`' xmlns:stream='`+nsStream+`'>`...)
	if err := s.write(b); err != nil {
		return nil, err
	}
	for {
		kind, _, err := s.fr.Next()
		if err != nil {
			return nil, fmt.Errorf("read stream header: %w", err)
		}
		switch kind {
		case frameStreamOpen:
			el, err := s.expect()
			if err != nil {
				return nil, err
			}
			if el.Space != nsStream || el.Local != "features" {
				return nil, fmt.Errorf("want stream features, got %s", el)
			}
			return el, nil
		case frameStreamClose:
			return nil, errServerClosed
		default:
			return nil, errors.New("element before the stream header")
		}
	}
}

// authenticate runs SASL SCRAM.
func (s *session) authenticate(d *dialer, user string, features *element) error {
	mechs := features.Child(nsSASL, "mechanisms")
	offered := false
	var names []string
	if mechs != nil {
		for _, m := range mechs.Children {
			names = append(names, m.Text)
			offered = offered || m.Text == d.cfg.Mech.name
		}
	}
	if !offered {
		return fmt.Errorf("server does not offer %s (offers %v)", d.cfg.Mech.name, names)
	}
	var nonce [18]byte
	rand.Read(nonce[:])
	sc := newSCRAM(d.cfg.Mech, user, d.cfg.Password, base64.RawStdEncoding.EncodeToString(nonce[:]), d.cfg.Cache)

	b := []byte(`<auth xmlns='` + nsSASL + `' mechanism='` + d.cfg.Mech.name + `'>`)
	b = base64.StdEncoding.AppendEncode(b, sc.First())
	b = append(b, `</auth>`...)
	if err := s.write(b); err != nil {
		return err
	}
	verified := false
	for step := 0; ; step++ {
		el, err := s.expect()
		if err != nil {
			return err
		}
		if el.Space != nsSASL {
			return fmt.Errorf("SASL: unexpected %s", el)
		}
		data, err := base64.StdEncoding.DecodeString(el.Text)
		if err != nil {
			return fmt.Errorf("SASL: bad base64 in <%s/>", el.Local)
		}
		switch {
		case el.Local == "failure":
			cond := "unknown"
			if len(el.Children) > 0 {
				cond = el.Children[0].Local
			}
			return fmt.Errorf("SASL %s failed: %s", d.cfg.Mech.name, cond)
		case el.Local == "challenge" && step == 0:
			final, err := sc.Final(data)
			if err != nil {
				return err
			}
			b = append(b[:0], `<response xmlns='`+nsSASL+`'>`...)
			b = base64.StdEncoding.AppendEncode(b, final)
			b = append(b, `</response>`...)
			if err := s.write(b); err != nil {
				return err
			}
		case el.Local == "challenge" && step == 1:
			// RFC 6120 §6.3.10 allows the additional data of success in
			// a final challenge, answered by an empty response.
			if err := sc.Verify(data); err != nil {
				return err
			}
			verified = true
			if err := s.write([]byte(`<response xmlns='` + nsSASL + `'/>`)); err != nil {
				return err
			}
		case el.Local == "success":
			if !verified {
				if err := sc.Verify(data); err != nil {
					return err
				}
			}
			return nil
		default:
			return fmt.Errorf("SASL: unexpected <%s/>", el.Local)
		}
	}
}

// bind binds the resource and, where the server still requires it, opens
// the RFC 3921 session.
func (s *session) bind(resource string, features *element) error {
	if features.Child(nsBind, "bind") == nil {
		return errors.New("server offers no resource binding")
	}
	b := []byte(`<iq type='set' id='rbbind'><bind xmlns='` + nsBind + `'>`)
	if resource != "" {
		b = append(b, `<resource>`...)
		b = appendEscaped(b, resource)
		b = append(b, `</resource>`...)
	}
	b = append(b, `</bind></iq>`...)
	if err := s.write(b); err != nil {
		return err
	}
	el, err := s.expectIQ("rbbind")
	if err != nil {
		return err
	}
	if el.Attr("type") != "result" {
		return fmt.Errorf("bind: %s", stanzaErr(el))
	}
	var j *element
	if bind := el.Child(nsBind, "bind"); bind != nil {
		j = bind.Child(nsBind, "jid")
	}
	if j == nil || j.Text == "" {
		return errors.New("bind: no JID in the result")
	}
	s.JID = j.Text
	s.Bare, _, _ = cutResource(j.Text)
	if sess := features.Child(nsSession, "session"); sess != nil && sess.Child(nsSession, "optional") == nil {
		if err := s.write([]byte(`<iq type='set' id='rbsess'><session xmlns='` + nsSession + `'/></iq>`)); err != nil {
			return err
		}
		el, err := s.expectIQ("rbsess")
		if err != nil {
			return err
		}
		if el.Attr("type") != "result" {
			return fmt.Errorf("session: %s", stanzaErr(el))
		}
	}
	return nil
}

// cutResource splits a JID at its resource.
func cutResource(j string) (bare, resource string, ok bool) {
	for i := 0; i < len(j); i++ {
		if j[i] == '/' {
			return j[:i], j[i+1:], true
		}
	}
	return j, "", false
}

// expect reads the next element during negotiation; nothing else may
// arrive before it.
func (s *session) expect() (*element, error) {
	el, _, err := s.next()
	return el, err
}

// expectIQ reads until the IQ answer with this id, keeping what comes
// before it for Run.
func (s *session) expectIQ(id string) (*element, error) {
	for {
		el, raw, err := s.next()
		if err != nil {
			return nil, err
		}
		if el.Local == "iq" && el.Space == nsClient && el.Attr("id") == id {
			return el, nil
		}
		s.pending = append(s.pending, append([]byte(nil), raw...))
	}
}

// next reads and parses one element; a stream error or close ends the
// negotiation.
func (s *session) next() (*element, []byte, error) {
	for {
		kind, raw, err := s.fr.Next()
		if err != nil {
			return nil, nil, err
		}
		switch kind {
		case frameStreamOpen:
			continue
		case frameStreamClose:
			return nil, nil, errServerClosed
		}
		el, err := parseElement(raw, streamScope())
		if err != nil {
			return nil, nil, err
		}
		if el.Space == nsStream && el.Local == "error" {
			return nil, nil, streamErr(el)
		}
		return el, raw, nil
	}
}

// streamErr describes a <stream:error/>.
func streamErr(el *element) error {
	cond := "undefined-condition"
	text := ""
	for _, c := range el.Children {
		if c.Local == "text" {
			text = ": " + c.Text
		} else {
			cond = c.Local
		}
	}
	return fmt.Errorf("stream error %s%s", cond, text)
}

// stanzaErr describes the <error/> of a stanza of type error.
func stanzaErr(el *element) string {
	e := el.Child("", "error")
	if e == nil {
		return "type " + strconv.Quote(el.Attr("type"))
	}
	for _, c := range e.Children {
		if c.Space == nsStanzas && c.Local != "text" {
			return "error " + c.Local
		}
	}
	return "error"
}

// write sends raw bytes; it is safe from any goroutine.
func (s *session) write(b []byte) error {
	s.wmu.Lock()
	_, err := s.nc.Write(b)
	s.wmu.Unlock()
	return err
}

// Run hands every top-level element to h until the stream ends or h
// fails: first the stanzas that arrived during login, then the rest as
// they come. The slice is h's only until it returns. A close the tool
// asked for (Close) returns nil.
func (s *session) Run(h func(raw []byte) error) error {
	defer close(s.done)
	for _, raw := range s.pending {
		if err := h(raw); err != nil {
			return err
		}
	}
	s.pending = nil
	for {
		kind, raw, err := s.fr.Next()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			return fmt.Errorf("%s: read: %w", s.JID, err)
		}
		switch kind {
		case frameStreamOpen:
			continue
		case frameStreamClose:
			if s.closing.Load() {
				return nil
			}
			return fmt.Errorf("%s: %w", s.JID, errServerClosed)
		}
		if err := h(raw); err != nil {
			return fmt.Errorf("%s: %w", s.JID, err)
		}
	}
}

// Close ends the stream politely, waits a little for the server's close
// (and for Run, if it runs) and closes the connection.
func (s *session) Close(running bool) {
	if !s.closing.CompareAndSwap(false, true) {
		return
	}
	s.nc.SetWriteDeadline(time.Now().Add(closeTimeout))
	if s.write([]byte(`</stream:stream>`)) == nil && running {
		t := time.NewTimer(closeTimeout)
		select {
		case <-s.done:
		case <-t.C:
		}
		t.Stop()
	}
	s.nc.Close()
}

// defaultHandler deals with what a scenario does not care about, as any
// client must: it answers IQ get/set (pings and roster pushes with a
// result, anything else with service-unavailable, RFC 6120 §8.4) and
// fails on a stream error. It returns whether the stanza was a stanza
// error, which scenarios count.
func (s *session) defaultHandler(raw []byte) (stanzaError bool, err error) {
	switch {
	case hasPrefix(raw, "<iq"):
		typ := string(startTagAttr(raw, "type"))
		if typ != "get" && typ != "set" {
			return typ == "error", nil
		}
		el, err := parseElement(raw, streamScope())
		if err != nil {
			return false, err
		}
		b := []byte(`<iq type='`)
		ok := el.Child(nsPing, "ping") != nil || (typ == "set" && el.Child(nsRoster, "query") != nil)
		if ok {
			b = append(b, `result'`...)
		} else {
			b = append(b, `error'`...)
		}
		b = append(b, ` id='`...)
		b = appendEscaped(b, el.Attr("id"))
		if from := el.Attr("from"); from != "" {
			b = append(b, `' to='`...)
			b = appendEscaped(b, from)
		}
		if ok {
			b = append(b, `'/>`...)
		} else {
			b = append(b, `'><error type='cancel'><service-unavailable xmlns='`+nsStanzas+`'/></error></iq>`...)
		}
		return false, s.write(b)
	case hasPrefix(raw, "<stream:error"):
		el, err := parseElement(raw, streamScope())
		if err != nil {
			return false, err
		}
		return false, streamErr(el)
	}
	return string(startTagAttr(raw, "type")) == "error", nil
}

// handleDefault is defaultHandler for a scenario's reader: a stanza
// error counts in errs, named by role (such as "sender ", or "") and
// the session's JID.
func (s *session) handleDefault(raw []byte, errs *errorLog, role string) error {
	isErr, err := s.defaultHandler(raw)
	if isErr {
		errs.Add(fmt.Errorf("%s%s got an error stanza: %.300s", role, s.JID, raw))
	}
	return err
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }
