package c2s

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"mellium.im/sasl"

	"github.com/ringd/ringd/xmpp/router"
)

// wsClient speaks RFC 7395: every message is one element.
type wsClient struct {
	t  testing.TB
	ws *websocket.Conn
}

func dialWS(t testing.TB, ts *testServer) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, ts.wsURL, &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &wsClient{t: t, ws: ws}
}

func (c *wsClient) send(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("send %.80q: %v", s, err)
	}
}

// expect reads the next message and checks it matches re.
func (c *wsClient) expect(re *regexp.Regexp) []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", re, err)
	}
	m := re.FindStringSubmatch(string(b))
	if typ != websocket.MessageText || m == nil {
		c.t.Fatalf("got %v message %q, want a match for %s", typ, b, re)
	}
	return m
}

// expectClosed reads until the WebSocket is closed.
func (c *wsClient) expectClosed() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	for {
		if _, b, err := c.ws.Read(ctx); err != nil {
			if ctx.Err() != nil {
				c.t.Fatalf("WebSocket still open")
			}
			return
		} else {
			c.t.Logf("after close: %q", b)
		}
	}
}

var (
	wsOpen     = `<open xmlns="` + nsFraming + `" to="` + testDomain + `" version="1.0"/>`
	reWSOpen   = regexp.MustCompile(`^<open xmlns="` + nsFraming + `" from="` + testDomain + `" id="[a-z0-9]+" version="1.0" xml:lang="en"/>$`)
	reWSFeat   = regexp.MustCompile(`^<stream:features xmlns:stream="http://etherx.jabber.org/streams">(.*)</stream:features>$`)
	reWSClose  = regexp.MustCompile(`^<close xmlns="` + nsFraming + `"/>$`)
	reWSSASL   = regexp.MustCompile(`^(?:<challenge xmlns="` + nsSASL + `">([^<]*)</challenge>|<success xmlns="` + nsSASL + `">([^<]*)</success>)$`)
	reWSStream = regexp.MustCompile(`^<stream:error xmlns:stream="http://etherx.jabber.org/streams"><([a-z-]+) xmlns="` + nsStreams + `"/>(?:<text xmlns="` + nsStreams + `">[^<]*</text>)?</stream:error>$`)
)

func (c *wsClient) open() string {
	c.t.Helper()
	c.send(wsOpen)
	c.expect(reWSOpen)
	return c.expect(reWSFeat)[1]
}

// TestWebSocket logs in over RFC 7395 framing: <open/>, SCRAM, <open/>
// again, bind, a message to itself, <close/>.
func TestWebSocket(t *testing.T) {
	ts := startServer(t)
	c := dialWS(t, ts)
	if f := c.open(); !strings.Contains(f, "<mechanism>SCRAM-SHA-256</mechanism>") || strings.Contains(f, "PLAIN") {
		t.Errorf("features on plain ws:// = %q, want SCRAM and no PLAIN", f)
	}
	n := sasl.NewClient(sasl.ScramSha256, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte("alice"), []byte(testUsers["alice"]), nil
	}))
	_, resp, _ := n.Step(nil)
	c.send(`<auth xmlns="` + nsSASL + `" mechanism="SCRAM-SHA-256">` + base64.StdEncoding.EncodeToString(resp) + `</auth>`)
	ch, _ := base64.StdEncoding.DecodeString(c.expect(reWSSASL)[1])
	_, resp, err := n.Step(ch)
	if err != nil {
		t.Fatal(err)
	}
	c.send(`<response xmlns="` + nsSASL + `">` + base64.StdEncoding.EncodeToString(resp) + `</response>`)
	fin, _ := base64.StdEncoding.DecodeString(c.expect(reWSSASL)[2])
	if _, _, err := n.Step(fin); err != nil {
		t.Fatalf("server signature: %v", err)
	}
	if f := c.open(); !strings.Contains(f, `<bind xmlns="`+nsBind+`"/>`) {
		t.Errorf("features after SASL = %q", f)
	}
	// Errors before binding are framed elements in jabber:client too.
	c.send(`<iq type="get" id="x"><query xmlns="jabber:iq:roster"/></iq>`)
	c.expect(regexp.MustCompile(`^<iq xmlns="jabber:client" type="error" id="x"><error type="cancel"><not-allowed xmlns="` + nsStanzas + `"/></error></iq>$`))
	c.send(`<iq xmlns="jabber:client" type="set" id="b"><bind xmlns="` + nsBind + `"><resource>web</resource></bind></iq>`)
	c.expect(regexp.MustCompile(`^<iq xmlns="jabber:client" type="result" id="b"><bind xmlns="` + nsBind + `"><jid>alice@ringd.test/web</jid></bind></iq>$`))
	c.send(`<message xmlns="jabber:client" to="alice@ringd.test/web" id="m"><body>hi</body></message>`)
	// RFC 7395 §3.3.3: every stanza carries its namespace.
	m := c.expect(regexp.MustCompile(`^<message [^>]*><body>hi</body><stanza-id [^>]*/></message>$`))[0]
	if attr(m, "xmlns") != "jabber:client" || attr(m, "from") != "alice@ringd.test/web" {
		t.Errorf("delivered %s, want xmlns jabber:client and from stamped", m)
	}
	// A stanza the client sent without xmlns gets it on the way out.
	c.send(`<message to="alice@ringd.test/web" id="m2"><body>hi</body></message>`)
	m = c.expect(regexp.MustCompile(`^<message [^>]*><body>hi</body><stanza-id [^>]*/></message>$`))[0]
	if !strings.HasPrefix(m, `<message xmlns="jabber:client" from="alice@ringd.test/web"`) {
		t.Errorf("delivered %s, want xmlns jabber:client added", m)
	}
	// The client closes the stream; the server answers and then closes
	// the WebSocket (RFC 7395 §3.6) without waiting for CloseTimeout.
	start := time.Now()
	c.send(`<close xmlns="` + nsFraming + `"/>`)
	c.expect(reWSClose)
	c.expectClosed()
	if d := time.Since(start); d > time.Second {
		t.Errorf("WebSocket closed after %v", d)
	}
	waitFor(t, ioTimeout, func() error {
		if n := ts.router.SessionCount(); n != 0 {
			return errorString("session still bound")
		}
		return nil
	})
}

// wsLogin logs in over WebSocket with SCRAM-SHA-256 and binds resource.
func wsLogin(t testing.TB, ts *testServer, user, resource string) *wsClient {
	t.Helper()
	c := dialWS(t, ts)
	c.open()
	n := sasl.NewClient(sasl.ScramSha256, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(testUsers[user]), nil
	}))
	_, resp, _ := n.Step(nil)
	c.send(`<auth xmlns="` + nsSASL + `" mechanism="SCRAM-SHA-256">` + base64.StdEncoding.EncodeToString(resp) + `</auth>`)
	ch, _ := base64.StdEncoding.DecodeString(c.expect(reWSSASL)[1])
	_, resp, _ = n.Step(ch)
	c.send(`<response xmlns="` + nsSASL + `">` + base64.StdEncoding.EncodeToString(resp) + `</response>`)
	c.expect(reWSSASL)
	c.open()
	c.send(`<iq type="set" id="b"><bind xmlns="` + nsBind + `"><resource>` + resource + `</resource></bind></iq>`)
	c.expect(regexp.MustCompile(`^<iq xmlns="jabber:client" type="result" id="b">`))
	return c
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestWebSocketPlainRefused(t *testing.T) {
	ts := startServer(t)
	c := dialWS(t, ts)
	c.open()
	c.send(`<auth xmlns="` + nsSASL + `" mechanism="PLAIN">AGFsaWNlAGFsaWNlIHNlY3JldA==</auth>`)
	c.expect(regexp.MustCompile(`^<failure xmlns="` + nsSASL + `"><encryption-required/></failure>$`))
	c.send(`<close xmlns="` + nsFraming + `"/>`)
	c.expect(reWSClose)
}

// TestWebSocketStreamErrors: the server's <open/>, the stream error and
// <close/> each arrive as their own message (RFC 7395 §3.3.3, §3.6).
func TestWebSocketStreamErrors(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *router.Config) { c.MaxStanzaBytes = 4096 })
	tests := []struct {
		name  string
		send  []string
		open  bool // the server answers with <open/> and features first
		want  string
		bound bool
	}{
		{name: "unserved host", send: []string{`<open xmlns="` + nsFraming + `" to="example.org" version="1.0"/>`}, want: "host-unknown"},
		{name: "no version", send: []string{`<open xmlns="` + nsFraming + `" to="ringd.test"/>`}, want: "unsupported-version"},
		{name: "stream header instead of open", send: []string{clientHeader}, want: "restricted-xml"},
		{name: "message instead of open", send: []string{`<message xmlns="jabber:client"/>`}, want: "invalid-namespace"},
		{name: "stanza before auth", open: true, send: []string{`<message xmlns="jabber:client" to="bob@ringd.test"/>`}, want: "not-authorized"},
		{name: "not well-formed", open: true, send: []string{`<message xmlns="jabber:client"><body></message>`}, want: "not-well-formed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, ts)
			if tc.open {
				c.open()
			}
			for _, s := range tc.send {
				c.send(s)
			}
			if !tc.open {
				c.expect(reWSOpen)
			}
			if got := c.expect(reWSStream)[1]; got != tc.want {
				t.Errorf("stream error %q, want %q", got, tc.want)
			}
			c.expect(reWSClose)
			c.send(`<close xmlns="` + nsFraming + `"/>`)
			c.expectClosed()
		})
	}
}
