package c2s

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// negotiate runs the stream from its first header to a bound resource
// (RFC 6120 §4.3): [STARTTLS], SASL, restart, bind.
func (c *conn) negotiate() error {
	if err := c.openStream(); err != nil {
		return err
	}
	if !c.secure && c.ws == nil {
		if err := c.startTLS(); err != nil {
			return err
		}
		if err := c.openStream(); err != nil {
			return err
		}
	}
	if err := c.authenticate(); err != nil {
		return err
	}
	c.dec.Restart()
	c.headerSent = false
	if err := c.openStream(); err != nil {
		return err
	}
	return c.bind()
}

// openStream reads the client's stream header, answers with ours and the
// features of the current stage. When the client's header is unusable, our
// header is still sent first (by finish) and the stream error follows.
func (c *conn) openStream() error {
	var hdr wire.Header
	var err error
	if c.ws != nil {
		hdr, err = c.readOpen()
	} else {
		hdr, err = c.dec.ReadHeader()
	}
	if err != nil {
		return err
	}
	c.streamID = newStreamID()
	c.headerSent = true
	// Buffered, not flushed: it goes out with the features (or with the
	// stream error finish writes), one TLS record and one write instead
	// of two.
	if err := c.writeRaw(c.headerBytes()); err != nil {
		return err
	}
	if c.ws == nil && hdr.NS != wire.NSClient {
		return newStreamError("invalid-namespace", "content namespace must be jabber:client")
	}
	if !versionOK(hdr.Version) {
		return newStreamError("unsupported-version", "version 1.0 is required")
	}
	if to, err := jid.Parse(hdr.To); err != nil || to.String() != c.srv.cfg.Domain {
		return newStreamError("host-unknown", "this server serves "+c.srv.cfg.Domain)
	}
	return c.writeNow(c.featuresBytes())
}

// versionOK reports whether a stream version is 1.x (RFC 6120 §4.7.5): a
// higher minor version is answered with ours, 1.0; a missing version means
// a pre-RFC 3920 client, which we do not serve.
func versionOK(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	return ok && strings.TrimLeft(major, "0") == "1" && minor != "" && strings.Trim(minor, "0123456789") == ""
}

func (c *conn) headerBytes() []byte {
	if c.ws != nil {
		return []byte(`<open xmlns="` + wire.NSFraming + `" from="` + c.srv.cfg.Domain + `" id="` + c.streamID + `" version="1.0" xml:lang="en"/>`)
	}
	return []byte(`<?xml version='1.0'?><stream:stream xmlns="jabber:client" xmlns:stream="` + wire.NSStream +
		`" from="` + c.srv.cfg.Domain + `" id="` + c.streamID + `" version="1.0" xml:lang="en">`)
}

func (c *conn) featuresBytes() []byte {
	var b bytes.Buffer
	if c.ws != nil {
		b.WriteString(`<stream:features xmlns:stream="` + wire.NSStream + `">`)
	} else {
		b.WriteString(`<stream:features>`)
	}
	switch {
	case !c.secure && c.ws == nil:
		b.WriteString(`<starttls xmlns="` + nsTLS + `"><required/></starttls>`)
	case c.username == "":
		b.WriteString(`<mechanisms xmlns="` + nsSASL + `"><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism>`)
		if c.secure {
			b.WriteString(`<mechanism>PLAIN</mechanism>`)
		}
		b.WriteString(`</mechanisms>`)
	default:
		b.WriteString(`<bind xmlns="` + nsBind + `"/><session xmlns="` + nsSession + `"><optional/></session>`)
		b.Write(smFeature)
		for _, f := range c.srv.cfg.StreamFeatures {
			b.Write(f)
		}
	}
	b.WriteString(`</stream:features>`)
	return b.Bytes()
}

// streamErrorParts is a stream error (RFC 6120 §4.9) and the closing
// element, as two elements: on WebSocket each must be its own message
// (RFC 7395 §3.3.3).
func (c *conn) streamErrorParts(cond, text string) [][]byte {
	return c.streamErrorPartsExtra(cond, text, "")
}

// streamErrorPartsExtra is streamErrorParts with an application-specific
// condition element (RFC 6120 §4.9.4), such as XEP-0198's
// handled-count-too-high.
func (c *conn) streamErrorPartsExtra(cond, text, extra string) [][]byte {
	var b []byte
	if c.ws != nil {
		b = append(b, `<stream:error xmlns:stream="`+wire.NSStream+`">`...)
	} else {
		b = append(b, `<stream:error>`...)
	}
	b = append(b, '<')
	b = append(b, cond...)
	b = append(b, ` xmlns="`+nsStreams+`"/>`...)
	if text != "" {
		b = append(b, `<text xmlns="`+nsStreams+`">`...)
		b = wire.AppendEscaped(b, text)
		b = append(b, `</text>`...)
	}
	b = append(b, extra...)
	b = append(b, `</stream:error>`...)
	return [][]byte{b, c.closeBytes()}
}

func (c *conn) closeBytes() []byte {
	if c.ws != nil {
		return []byte(`<close xmlns="` + wire.NSFraming + `"/>`)
	}
	return []byte(`</stream:stream>`)
}

// next reads the next top-level element during negotiation.
func (c *conn) next() (*wire.Stanza, error) {
	st, err := c.dec.Next()
	if err != nil {
		return nil, err
	}
	if c.ws != nil && string(st.NS) == wire.NSFraming && string(st.Name) == "close" {
		return nil, errClientClosed
	}
	return st, nil
}

var errClientClosed = fmt.Errorf("c2s: client closed the stream: %w", io.EOF)

func (c *conn) startTLS() error {
	st, err := c.next()
	if err != nil {
		return err
	}
	switch {
	case string(st.NS) == nsTLS && string(st.Name) == "starttls":
	case string(st.NS) == nsSASL && string(st.Name) == "auth":
		c.writeNow([]byte(`<failure xmlns="` + nsSASL + `"><encryption-required/></failure>`))
		return newStreamError("policy-violation", "STARTTLS is required")
	default:
		return newStreamError("not-authorized", "STARTTLS is required first")
	}
	if c.dec.Buffered() > 0 {
		// Bytes sent after <starttls/> before the handshake would be
		// processed as if they came over TLS (CVE-2011-0411 style).
		return newStreamError("policy-violation", "data after starttls")
	}
	if err := c.writeNow([]byte(`<proceed xmlns="` + nsTLS + `"/>`)); err != nil {
		return err
	}
	// From here on plain-text bytes would corrupt the TLS stream.
	c.broken = true
	tc := tls.Server(c.raw, c.srv.cfg.TLS)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		return fmt.Errorf("c2s: TLS handshake: %w", err)
	}
	c.broken = false
	c.nc = tc
	c.secure = true
	c.dec.Reset(tc)
	c.headerSent = false
	return nil
}

// saslFailure is written as <failure/> with the condition.
func (c *conn) saslFailure(cond string) error {
	return c.writeNow([]byte(`<failure xmlns="` + nsSASL + `"><` + cond + `/></failure>`))
}

func (c *conn) authenticate() error {
	failures := 0
	for {
		st, err := c.next()
		if err != nil {
			return err
		}
		if string(st.NS) != nsSASL || string(st.Name) != "auth" {
			return newStreamError("not-authorized", "authenticate first")
		}
		var auth struct {
			Mechanism string `xml:"mechanism,attr"`
			Data      string `xml:",chardata"`
		}
		if err := xml.Unmarshal(st.Raw, &auth); err != nil {
			return newStreamError("bad-format", "unreadable auth element")
		}
		ok, err := c.runSASL(auth.Mechanism, auth.Data)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		failures++
		if failures >= c.srv.cfg.MaxAuthAttempts {
			return newStreamError("policy-violation", "too many failed authentication attempts")
		}
	}
}

// decodeSASL decodes a SASL payload: "=" is an empty response (RFC 6120
// §6.4.2).
func decodeSASL(s string) ([]byte, bool) {
	s = string(bytes.TrimSpace([]byte(s)))
	if s == "=" || s == "" {
		return []byte{}, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

func encodeSASL(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// bind waits for the resource binding IQ (RFC 6120 §7), binds the session
// in the router and starts the writer. Other IQs are refused until then.
// A client may instead resume an earlier session (XEP-0198 §5).
func (c *conn) bind() error {
	for {
		st, err := c.next()
		if err != nil {
			return err
		}
		if st.Kind == wire.KindOther && string(st.NS) == nsSM {
			switch string(st.Name) {
			case "resume":
				if ok, err := c.resume(st); ok || err != nil {
					return err
				}
				continue
			case "enable":
				// XEP-0198 §3: only once a resource is bound.
				if err := c.writeNow(smFailed("unexpected-request", 0, false, "")); err != nil {
					return err
				}
				continue
			}
		}
		if st.Kind != wire.KindIQ {
			return newStreamError("not-authorized", "bind a resource first")
		}
		id := string(wire.Unescape(st.ID))
		p, ok := st.Payload()
		if !ok || string(p.NS) != nsBind || string(p.Name) != "bind" || string(st.Type) != "set" {
			// Only binding is possible before a resource is bound. A
			// result or error is not answered (RFC 6120 §8.2.3).
			if t := string(st.Type); t == "result" || t == "error" {
				continue
			}
			if err := c.writeNow(bindError(id, "not-allowed")); err != nil {
				return err
			}
			continue
		}
		var req struct {
			Resource string `xml:"bind>resource"`
		}
		if err := xmlUnmarshal(st.Raw, &req); err != nil {
			if err := c.writeNow(bindError(id, "bad-request")); err != nil {
				return err
			}
			continue
		}
		res := req.Resource
		if res == "" {
			res = "ringd-" + newStreamID()[:10]
		}
		full, err := jid.New(c.username, c.srv.cfg.Domain, res)
		if err != nil {
			if err := c.writeNow(bindError(id, "bad-request")); err != nil {
				return err
			}
			continue
		}
		// Deliver and Close may run as soon as the router knows the
		// session: set what they read first.
		c.log = c.log.With("jid", full.String())
		sess := newSession(c.srv, c)
		sess.log = c.srv.cfg.Logger.With("jid", full.String())
		rs, err := c.srv.cfg.Router.Bind(full, sess)
		if errors.Is(err, router.ErrResourceLimit) {
			if err := c.writeNow(bindError(id, "resource-constraint")); err != nil {
				return err
			}
			continue
		} else if err != nil {
			return &internalError{fmt.Errorf("c2s: bind %v: %w", full, err)}
		}
		sess.rs = rs
		// Negotiation is over: no read deadline from here on but the one
		// the writer sets when it ends the stream.
		c.raw.SetReadDeadline(time.Time{})
		c.mu.Lock()
		c.sess = sess
		cond := c.closeCond
		c.mu.Unlock()
		c.startWriter()
		res2 := []byte(`<iq type="result" id="`)
		res2 = wire.AppendEscaped(res2, id)
		res2 = append(res2, `"><bind xmlns="`+nsBind+`"><jid>`...)
		res2 = wire.AppendEscaped(res2, full.String())
		res2 = append(res2, `</jid></bind></iq>`...)
		sess.Deliver(res2)
		if cond != "" {
			// Close came while binding (Shutdown, say): the stream ends
			// through the writer, which sets the read deadline then.
			c.raw.SetReadDeadline(time.Time{})
			c.Close(cond)
		}
		c.log.Info("session bound")
		return nil
	}
}

// bindError is the error reply to an IQ before binding; it has no 'to', as
// the client has no full JID yet.
func bindError(id, cond string) []byte {
	b := []byte(`<iq type="error" id="`)
	b = wire.AppendEscaped(b, id)
	b = append(b, `">`...)
	b = router.AppendError(b, stanzaErr(cond))
	return append(b, `</iq>`...)
}
