package c2s

import (
	"bytes"
	"net/http"

	"github.com/coder/websocket"

	"github.com/ringd/ringd/xmpp/wire"
)

// serveWebSocket runs an RFC 7395 session over an upgraded request.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{"xmpp"},
		// Browsers connect from any page; authentication is SASL's job.
		InsecureSkipVerify: true,
	})
	if err != nil {
		s.cfg.Logger.Debug("websocket upgrade failed", "err", err)
		return
	}
	if ws.Subprotocol() != "xmpp" {
		ws.Close(websocket.StatusPolicyViolation, "the xmpp subprotocol is required")
		return
	}
	s.metrics.accepted.WithLabelValues("websocket").Inc()
	// Each Write on nc is one message; its deadlines bound reads and writes.
	// Hitting one closes the WebSocket, so a client that times out during
	// negotiation, or is still negotiating at Shutdown, is closed without a
	// stream error. NetConn lifts the read limit, so it is set after: a
	// frame larger than a stanza can be is refused.
	nc := websocket.NetConn(s.ctx, ws, websocket.MessageText)
	ws.SetReadLimit(int64(s.cfg.MaxStanzaBytes) + 1024)
	// wss:// is TLS; plain ws:// gets no PLAIN (a TLS-terminating proxy in
	// front should be trusted through configuration, not guessed).
	c := s.newConn(nc, "websocket", false)
	c.secure = r.TLS != nil
	c.ws = ws
	if !s.add(c) {
		ws.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	defer s.remove(c)
	c.serve()
}

// readOpen reads the RFC 7395 <open/> element that starts a stream.
func (c *conn) readOpen() (wire.Header, error) {
	st, err := c.dec.Next()
	if err != nil {
		return wire.Header{}, err
	}
	if string(st.NS) != wire.NSFraming || string(st.Name) != "open" {
		return wire.Header{}, newStreamError("invalid-namespace", "expected <open/>")
	}
	var h struct {
		To      string `xml:"to,attr"`
		Version string `xml:"version,attr"`
		Lang    string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	}
	if err := xmlUnmarshal(st.Raw, &h); err != nil {
		return wire.Header{}, newStreamError("bad-format", "unreadable <open/>")
	}
	return wire.Header{NS: wire.NSClient, To: h.To, Version: h.Version, Lang: h.Lang}, nil
}

// withClientNS adds xmlns="jabber:client" to a stanza that inherits it on
// a TCP stream: RFC 7395 §3.3.3 wants every framed element to carry it.
// It returns b itself when there is nothing to add, otherwise the result
// in scratch (grown as needed), so the writer allocates nothing per stanza.
func withClientNS(scratch, b []byte) []byte {
	if len(b) < 2 || b[0] != '<' || hasXMLNS(b) {
		return b
	}
	i := 1
	for i < len(b) && b[i] != ' ' && b[i] != '>' && b[i] != '/' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	if bytes.IndexByte(b[1:i], ':') >= 0 {
		return b // prefixed element: it declares its own namespace
	}
	out := append(scratch[:0], b[:i]...)
	out = append(out, ` xmlns="jabber:client"`...)
	return append(out, b[i:]...)
}

// hasXMLNS reports whether the start tag of a well-formed element declares
// a default namespace; attribute values are skipped, not searched.
func hasXMLNS(b []byte) bool {
	i := 1
	for i < len(b) && !isSpace(b[i]) && b[i] != '>' && b[i] != '/' {
		i++
	}
	for i < len(b) {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || b[i] == '>' || b[i] == '/' {
			return false
		}
		start := i
		for i < len(b) && b[i] != '=' && !isSpace(b[i]) {
			i++
		}
		name := b[start:i]
		for i < len(b) && b[i] != '\'' && b[i] != '"' {
			i++
		}
		if i >= len(b) {
			return false
		}
		q := b[i]
		i++
		end := bytes.IndexByte(b[i:], q)
		if end < 0 {
			return false
		}
		i += end + 1
		if string(name) == "xmlns" {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
