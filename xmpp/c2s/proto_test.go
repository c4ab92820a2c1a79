package c2s

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/ringd/ringd/xmpp/router"
)

// Protocol tests: a real server on loopback, spoken to in raw XML.

const (
	nsStanzas = router.NSStanzas
	streamNS  = `xmlns:stream="http://etherx.jabber.org/streams"`
	reFailure = `<failure xmlns="` + nsSASL + `"><%s/></failure>`
)

func failureRe(cond string) *regexp.Regexp {
	return regexp.MustCompile(`^` + fmt.Sprintf(reFailure, regexp.QuoteMeta(cond)))
}

func TestNegotiationStreamErrors(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		name   string
		send   string
		expect []*regexp.Regexp // after our header
		want   string           // stream error condition
	}{
		{
			name: "content namespace jabber:server",
			send: `<stream:stream xmlns="jabber:server" ` + streamNS + ` to="ringd.test" version="1.0">`,
			want: "invalid-namespace",
		},
		{
			name: "wrong stream namespace",
			send: `<stream:stream xmlns="jabber:client" xmlns:stream="urn:example:streams" to="ringd.test" version="1.0">`,
			want: "invalid-namespace",
		},
		{
			name: "unserved host",
			send: `<stream:stream xmlns="jabber:client" ` + streamNS + ` to="example.org" version="1.0">`,
			want: "host-unknown",
		},
		{
			name: "no to",
			send: `<stream:stream xmlns="jabber:client" ` + streamNS + ` version="1.0">`,
			want: "host-unknown",
		},
		{
			name: "no version",
			send: `<stream:stream xmlns="jabber:client" ` + streamNS + ` to="ringd.test">`,
			want: "unsupported-version",
		},
		{
			name: "version 2.0",
			send: `<stream:stream xmlns="jabber:client" ` + streamNS + ` to="ringd.test" version="2.0">`,
			want: "unsupported-version",
		},
		{
			name: "header not well-formed",
			send: `<stream:stream xmlns="jabber:client" ` + streamNS + ` to="ringd.test" version="1.0" version="1.0">`,
			want: "not-well-formed",
		},
		{
			name:   "element not well-formed",
			send:   clientHeader + `<message><body></message>`,
			expect: []*regexp.Regexp{reFeatures},
			want:   "not-well-formed",
		},
		{
			name:   "comment",
			send:   clientHeader + `<!-- hello -->`,
			expect: []*regexp.Regexp{reFeatures},
			want:   "restricted-xml",
		},
		{
			name:   "auth before STARTTLS",
			send:   clientHeader + `<auth xmlns="` + nsSASL + `" mechanism="PLAIN">AGFsaWNlAGFsaWNlIHNlY3JldA==</auth>`,
			expect: []*regexp.Regexp{reFeatures, failureRe("encryption-required")},
			want:   "policy-violation",
		},
		{
			name:   "data pipelined after starttls",
			send:   clientHeader + `<starttls xmlns="` + nsTLS + `"/><iq type="get" id="1"/>`,
			expect: []*regexp.Regexp{reFeatures},
			want:   "policy-violation",
		},
		{
			name:   "stanza before STARTTLS",
			send:   clientHeader + `<message to="bob@ringd.test"><body>hi</body></message>`,
			expect: []*regexp.Regexp{reFeatures},
			want:   "not-authorized",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.metric(t, "ringd_c2s_stream_errors_total", "condition", tc.want)
			c := dialClient(t, ts.starttls, ts.clientTLS)
			c.send(tc.send)
			// RFC 6120 §4.9.1.2: our header comes first, whatever the error.
			c.expect(reHeader)
			for _, re := range tc.expect {
				c.expect(re)
			}
			c.expectStreamError(tc.want)
			if got := ts.metric(t, "ringd_c2s_stream_errors_total", "condition", tc.want); got != before+1 {
				t.Errorf("stream_errors_total{condition=%q} = %v, want %v", tc.want, got, before+1)
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	ts := startServer(t)
	c := dialClient(t, ts.starttls, ts.clientTLS)
	if f := c.open(); f != `<starttls xmlns="`+nsTLS+`"><required/></starttls>` {
		t.Errorf("features before TLS = %q, want only a required starttls", f)
	}
	c.startTLS()
	want := `<mechanisms xmlns="` + nsSASL + `"><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>`
	if f := c.open(); f != want {
		t.Errorf("features after TLS = %q, want %q", f, want)
	}
	if cond := c.auth(sasl.ScramSha256, "alice", testUsers["alice"]); cond != "" {
		t.Fatalf("auth: %s", cond)
	}
	want = `<bind xmlns="` + nsBind + `"/><session xmlns="` + nsSession + `"><optional/></session><sm xmlns="` + nsSM + `"/>`
	if f := c.open(); f != want {
		t.Errorf("features after SASL = %q, want %q", f, want)
	}
}

// TestStreamVersion: a 1.x client gets our 1.0 (RFC 6120 §4.7.5).
func TestStreamVersion(t *testing.T) {
	ts := startServer(t)
	c := dialClient(t, ts.starttls, ts.clientTLS)
	c.send(strings.Replace(clientHeader, `version="1.0"`, `version="1.1"`, 1))
	if h := c.expect(reHeader)[0]; attr(h, "version") != "1.0" {
		t.Errorf("header %q: version %q, want 1.0", h, attr(h, "version"))
	}
	c.expect(reFeatures)
}

func TestSASL(t *testing.T) {
	type attempt struct {
		mech       sasl.Mechanism
		user, pass string
		want       string // failure condition; "" for success
	}
	ok := func(m sasl.Mechanism, user string) attempt { return attempt{m, user, testUsers[user], ""} }
	bad := func(m sasl.Mechanism, user, pass string) attempt { return attempt{m, user, pass, "not-authorized"} }
	tests := []struct {
		name      string
		direct    bool            // direct TLS instead of STARTTLS
		raw       func(c *client) // exchanges before the attempts
		attempts  []attempt
		streamErr string // the stream error after the attempts, if any
	}{
		{name: "SCRAM-SHA-256", attempts: []attempt{ok(sasl.ScramSha256, "alice")}},
		{name: "SCRAM-SHA-1", attempts: []attempt{ok(sasl.ScramSha1, "bob")}},
		{name: "PLAIN over TLS", attempts: []attempt{ok(sasl.Plain, "carol")}},
		{name: "direct TLS", direct: true, attempts: []attempt{ok(sasl.ScramSha256, "alice")}},
		{name: "direct TLS PLAIN", direct: true, attempts: []attempt{ok(sasl.Plain, "alice")}},
		{name: "username case-mapped", attempts: []attempt{{sasl.ScramSha256, "Alice", testUsers["alice"], ""}}},
		{
			name:     "wrong password then retry",
			attempts: []attempt{bad(sasl.ScramSha256, "alice", "nope"), ok(sasl.ScramSha256, "alice")},
		},
		{
			name:     "wrong PLAIN password then retry",
			attempts: []attempt{bad(sasl.Plain, "alice", "nope"), ok(sasl.Plain, "alice")},
		},
		{
			name:     "unknown user",
			attempts: []attempt{bad(sasl.ScramSha256, "mallory", "x"), ok(sasl.ScramSha1, "alice")},
		},
		{
			name: "too many failures",
			attempts: []attempt{
				bad(sasl.ScramSha256, "alice", "a"), bad(sasl.ScramSha1, "alice", "b"), bad(sasl.Plain, "alice", "c"),
			},
			streamErr: "policy-violation",
		},
		{
			name: "unknown mechanism",
			raw: func(c *client) {
				c.send(`<auth xmlns="` + nsSASL + `" mechanism="DIGEST-MD5"/>`)
				c.expect(failureRe("invalid-mechanism"))
			},
			attempts: []attempt{ok(sasl.ScramSha256, "alice")},
		},
		{
			name: "bad base64",
			raw: func(c *client) {
				c.send(`<auth xmlns="` + nsSASL + `" mechanism="PLAIN">!!!</auth>`)
				c.expect(failureRe("incorrect-encoding"))
			},
			attempts: []attempt{ok(sasl.ScramSha256, "alice")},
		},
		{
			name: "abort",
			raw: func(c *client) {
				c.send(`<auth xmlns="` + nsSASL + `" mechanism="SCRAM-SHA-256">biwsbj1hbGljZSxyPWFiY2RlZmdoaWprbG1ub3A=</auth>`)
				c.expect(regexp.MustCompile(`^<challenge xmlns="` + nsSASL + `">[^<]+</challenge>`))
				c.send(`<abort xmlns="` + nsSASL + `"/>`)
				c.expect(failureRe("aborted"))
			},
			attempts: []attempt{ok(sasl.ScramSha256, "alice")},
		},
		{
			name: "no initial response",
			raw: func(c *client) {
				c.send(`<auth xmlns="` + nsSASL + `" mechanism="PLAIN"/>`)
				c.expect(regexp.MustCompile(`^<challenge xmlns="` + nsSASL + `"></challenge>`))
				c.send(`<response xmlns="` + nsSASL + `">AGFsaWNlAGFsaWNlIHNlY3JldA==</response>`)
				c.expect(regexp.MustCompile(`^<success xmlns="` + nsSASL + `"/>`))
			},
		},
		{
			name:      "stanza before auth",
			raw:       func(c *client) { c.send(`<message to="bob@ringd.test"><body>hi</body></message>`) },
			streamErr: "not-authorized",
		},
	}
	ts := startServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c *client
			if tc.direct {
				c = dialDirectTLS(t, ts)
			} else {
				c = dialClient(t, ts.starttls, ts.clientTLS)
				c.open()
				c.startTLS()
			}
			c.t = t
			c.open()
			success := false
			if tc.raw != nil {
				tc.raw(c)
				success = tc.attempts == nil && tc.streamErr == ""
			}
			for i, a := range tc.attempts {
				if got := c.auth(a.mech, a.user, a.pass); got != a.want {
					t.Fatalf("attempt %d (%s as %s): failure %q, want %q", i, a.mech.Name, a.user, got, a.want)
				}
				success = a.want == ""
			}
			if tc.streamErr != "" {
				c.expectStreamError(tc.streamErr)
				return
			}
			if !success {
				t.Fatal("test case does not authenticate")
			}
			c.open()
			c.bind("")
			c.closeStream()
		})
	}
}

func TestBind(t *testing.T) {
	ts := startServer(t)
	notAllowed := regexp.MustCompile(`^<iq type="error" id="x1"><error type="cancel"><not-allowed xmlns="` + nsStanzas + `"/></error></iq>`)
	badRequest := regexp.MustCompile(`^<iq type="error" id="b1"><error type="modify"><bad-request xmlns="` + nsStanzas + `"/></error></iq>`)
	tests := []struct {
		name      string
		send      string         // before binding
		expect    *regexp.Regexp // the answer to send
		streamErr string
		resource  string         // then bound
		want      *regexp.Regexp // the full JID
	}{
		{name: "requested resource", resource: "phone", want: regexp.MustCompile(`^alice@ringd\.test/phone$`)},
		{name: "server-generated resource", want: regexp.MustCompile(`^alice@ringd\.test/ringd-[a-z2-7]{10}$`)},
		{name: "resource escaped", resource: "a&amp;b", want: regexp.MustCompile(`^alice@ringd\.test/a&amp;b$`)},
		{
			name:     "control character in resource",
			send:     `<iq type="set" id="b1"><bind xmlns="` + nsBind + `"><resource>&#x85;</resource></bind></iq>`,
			expect:   badRequest,
			resource: "ok", want: regexp.MustCompile(`/ok$`),
		},
		{
			name:     "resource too long",
			send:     `<iq type="set" id="b1"><bind xmlns="` + nsBind + `"><resource>` + strings.Repeat("r", 1100) + `</resource></bind></iq>`,
			expect:   badRequest,
			resource: "ok", want: regexp.MustCompile(`/ok$`),
		},
		{
			name:     "other IQ before bind",
			send:     `<iq type="get" id="x1"><query xmlns="jabber:iq:roster"/></iq>`,
			expect:   notAllowed,
			resource: "ok", want: regexp.MustCompile(`/ok$`),
		},
		{
			name:     "IQ result before bind is not answered",
			send:     `<iq type="result" id="r1"/><iq type="get" id="x1"><ping xmlns="urn:xmpp:ping"/></iq>`,
			expect:   notAllowed,
			resource: "ok", want: regexp.MustCompile(`/ok$`),
		},
		{
			name:      "message before bind",
			send:      `<message to="bob@ringd.test"><body>hi</body></message>`,
			streamErr: "not-authorized",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialDirectTLS(t, ts)
			c.open()
			if cond := c.auth(sasl.ScramSha256, "alice", testUsers["alice"]); cond != "" {
				t.Fatal(cond)
			}
			c.open()
			if tc.send != "" {
				c.send(tc.send)
			}
			if tc.streamErr != "" {
				c.expectStreamError(tc.streamErr)
				return
			}
			if tc.expect != nil {
				c.expect(tc.expect)
			}
			if got := c.bind(tc.resource); !tc.want.MatchString(got) {
				t.Errorf("bound %q, want a match for %s", got, tc.want)
			}
			c.closeStream()
		})
	}
}

// TestResourceConflict: binding a resource in use ends the old session
// with <conflict/> (RFC 6120 §7.7.2.2); the new one works.
func TestResourceConflict(t *testing.T) {
	ts := startServer(t)
	old, full := login(t, ts, "alice", "phone")
	c, full2 := login(t, ts, "alice", "phone")
	if full != full2 {
		t.Fatalf("bound %q then %q", full, full2)
	}
	old.expectStreamError("conflict")
	c.send(`<message to="` + full + `" id="m1"><body>still here</body></message>`)
	c.expect(regexp.MustCompile(`<message from="alice@ringd\.test/phone" to="alice@ringd\.test/phone" id="m1">`))
	if n := ts.router.SessionCount(); n != 1 {
		t.Errorf("SessionCount = %d, want 1", n)
	}
	c.closeStream()
}

func TestMaxResources(t *testing.T) {
	ts := startServer(t, func(_ *Config, r *router.Config) { r.MaxResources = 2 })
	a, _ := login(t, ts, "alice", "a")
	b, _ := login(t, ts, "alice", "b")
	c := dialDirectTLS(t, ts)
	c.open()
	if cond := c.auth(sasl.ScramSha256, "alice", testUsers["alice"]); cond != "" {
		t.Fatal(cond)
	}
	c.open()
	c.send(`<iq type="set" id="bind1"><bind xmlns="` + nsBind + `"><resource>c</resource></bind></iq>`)
	c.expect(regexp.MustCompile(`^<iq type="error" id="bind1"><error type="wait"><resource-constraint xmlns="` + nsStanzas + `"/></error></iq>`))
	// Still unbound; once a resource is free, binding works.
	b.closeStream()
	waitFor(t, ioTimeout, func() error {
		if n := len(ts.router.Sessions("alice@ringd.test")); n != 1 {
			return fmt.Errorf("%d sessions of alice, want 1", n)
		}
		return nil
	})
	if got := c.bind("c"); got != "alice@ringd.test/c" {
		t.Errorf("bound %q", got)
	}
	a.closeStream()
	c.closeStream()
}

func TestSessionIQ(t *testing.T) {
	ts := startServer(t)
	c, full := login(t, ts, "alice", "old")
	c.send(`<iq type="set" id="s&amp;1"><session xmlns="` + nsSession + `"/></iq>`)
	c.expect(regexp.MustCompile(`^<iq type="result" id="s&amp;1" to="` + regexp.QuoteMeta(full) + `"/>`))
	c.closeStream()
}

// TestRouteBetweenSessions: a message goes through the router into the
// other session's queue and writer, with from stamped by the server.
func TestRouteBetweenSessions(t *testing.T) {
	ts := startServer(t)
	alice, afull := login(t, ts, "alice", "a")
	bob, bfull := login(t, ts, "bob", "b")
	tests := []struct {
		name string
		from string // attribute the client puts in, if any
	}{
		{name: "no from"},
		{name: "full JID from", from: ` from="` + afull + `"`},
		{name: "bare JID from", from: ` from="alice@ringd.test"`},
		{name: "from in other case", from: ` from="ALICE@ringd.test/a"`},
		{name: "bare JID in other case", from: ` from="alice@RINGD.test"`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alice.t, bob.t = t, t
			id := fmt.Sprint("m", i)
			alice.send(`<message` + tc.from + ` to="` + bfull + `" type="chat" id="` + id + `"><body>hi &amp; bye</body></message>`)
			m := bob.expect(regexp.MustCompile(`(?s)^<message [^>]*>.*?</message>`))[0]
			if got := attr(m, "from"); got != afull {
				t.Errorf("from = %q, want %q in %s", got, afull, m)
			}
			if got := attr(m, "id"); got != id {
				t.Errorf("id = %q, want %q", got, id)
			}
			if !strings.Contains(m, `<body>hi &amp; bye</body>`) || !strings.Contains(m, `<stanza-id xmlns="urn:xmpp:sid:0"`) {
				t.Errorf("delivered %s", m)
			}
		})
	}
	// And back.
	bob.t, alice.t = t, t
	bob.send(`<message to="` + afull + `" id="r"><body>pong</body></message>`)
	m := alice.expect(regexp.MustCompile(`(?s)^<message [^>]*>.*?</message>`))[0]
	if attr(m, "from") != bfull {
		t.Errorf("reply %s", m)
	}
	if got := ts.metric(t, "ringd_c2s_stanzas_out_total", "kind", "message"); got != float64(len(tests)+1) {
		t.Errorf("stanzas_out_total{kind=message} = %v, want %d", got, len(tests)+1)
	}
	alice.closeStream()
	bob.closeStream()
}

func TestStreamErrorsAfterBind(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *router.Config) { c.MaxStanzaBytes = 4096 })
	tests := []struct {
		name string
		send string
		want string
	}{
		{
			name: "from another user",
			send: `<message from="bob@ringd.test/x" to="alice@ringd.test/a"><body>hi</body></message>`,
			want: "invalid-from",
		},
		{
			name: "from another resource",
			send: `<presence from="alice@ringd.test/other"/>`,
			want: "invalid-from",
		},
		{
			name: "stanza over MaxStanzaBytes",
			send: `<message to="alice@ringd.test/a"><body>` + strings.Repeat("x", 8192) + `</body></message>`,
			want: "policy-violation",
		},
		{
			name: "not well-formed",
			send: `<message to="alice@ringd.test/a"><body>hi</message>`,
			want: "not-well-formed",
		},
		{
			name: "undeclared prefix",
			send: `<message><x:y/></message>`,
			want: "bad-namespace-prefix",
		},
		{
			name: "ack request before enabling stream management",
			send: `<r xmlns="urn:xmpp:sm:3"/>`,
			want: "unsupported-stanza-type",
		},
		{
			name: "ack before enabling stream management",
			send: `<a xmlns="urn:xmpp:sm:3" h="0"/>`,
			want: "unsupported-stanza-type",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := login(t, ts, "alice", "a")
			c.send(tc.send)
			c.expectStreamError(tc.want)
			waitFor(t, ioTimeout, func() error {
				if n := ts.router.SessionCount(); n != 0 {
					return fmt.Errorf("%d sessions still bound", n)
				}
				return nil
			})
		})
	}
}

// TestClientCloses: the client's </stream:stream> is answered with ours,
// then the server closes the connection and unbinds.
func TestClientCloses(t *testing.T) {
	ts := startServer(t)
	for _, stage := range []string{"header", "tls", "auth", "bound"} {
		t.Run(stage, func(t *testing.T) {
			c := dialClient(t, ts.starttls, ts.clientTLS)
			c.open()
			if stage != "header" {
				c.startTLS()
				c.open()
			}
			if stage == "auth" || stage == "bound" {
				c.auth(sasl.ScramSha256, "alice", testUsers["alice"])
				c.open()
			}
			if stage == "bound" {
				c.bind("r")
			}
			c.closeStream()
			waitFor(t, ioTimeout, func() error {
				if n := ts.router.SessionCount(); n != 0 {
					return fmt.Errorf("%d sessions still bound", n)
				}
				return nil
			})
		})
	}
}

func TestAuthTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := startServer(t, func(c *Config, _ *router.Config) { c.AuthTimeout = timeout })
	tests := []struct {
		name   string
		before func(c *client)
	}{
		{name: "silent client", before: func(c *client) {}},
		{name: "after header", before: func(c *client) { c.send(clientHeader); c.expect(reHeader); c.expect(reFeatures) }},
		{name: "half a header", before: func(c *client) { c.send(`<stream:stream xmlns="jabber:client"`) }},
		{name: "after TLS", before: func(c *client) { c.open(); c.startTLS(); c.open() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now() // the server's clock starts after this
			c := dialClient(t, ts.starttls, ts.clientTLS)
			tc.before(c)
			if !strings.HasPrefix(tc.name, "after") {
				c.expect(reHeader)
			}
			c.expectStreamError("connection-timeout")
			if d := time.Since(start); d < timeout {
				t.Errorf("closed after %v, before AuthTimeout %v", d, timeout)
			}
		})
	}
	t.Run("during TLS handshake", func(t *testing.T) {
		c := dialClient(t, ts.starttls, ts.clientTLS)
		c.open()
		c.send(`<starttls xmlns="` + nsTLS + `"/>`)
		c.expect(reProceed)
		// No handshake: nothing can be said in plain text any more.
		c.expectClosed()
		if len(c.buf) != 0 {
			t.Errorf("got %q after <proceed/>", c.buf)
		}
	})
}

// TestSlowConsumer: a client that does not read is cut off once its queue
// exceeds OutboundQueueBytes; its sender is not held up, the cut-off is
// counted, and what was still queued for it (not written) is stored
// offline, in order.
func TestSlowConsumer(t *testing.T) {
	ts := startServerWith(t, withFeatures, func(c *Config, _ *router.Config) {
		c.OutboundQueueBytes = 64 << 10
		c.WriteTimeout = 500 * time.Millisecond
		c.CloseTimeout = 300 * time.Millisecond
	})
	// A small receive buffer, set before connecting so the TCP window is
	// small too, fills the socket buffers sooner.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		})
	}}
	nc, err := d.Dial("tcp", ts.directTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	slow := &client{t: t, nc: tls.Client(nc, ts.clientTLS), wait: ioTimeout}
	slow.open()
	if cond := slow.auth(sasl.ScramSha256, "alice", testUsers["alice"]); cond != "" {
		t.Fatal(cond)
	}
	slow.open()
	slowJID := slow.bind("slow")
	fast, fastJID := login(t, ts, "bob", "fast")
	sent, n := 0, 0
	for ts.metric(t, "ringd_c2s_slow_consumer_disconnects_total") == 0 {
		if sent > 100<<20 {
			t.Fatal("100 MB sent and the slow client is still connected")
		}
		var b strings.Builder
		for range 16 {
			n++
			fmt.Fprintf(&b, `<message to="%s" type="chat" id="m%d"><body>%s</body></message>`, slowJID, n, strings.Repeat("x", 1000))
		}
		fast.send(b.String())
		sent += b.Len()
	}
	if got := ts.metric(t, "ringd_c2s_stream_errors_total", "condition", "policy-violation"); got != 1 {
		t.Errorf("stream_errors_total{policy-violation} = %v, want 1", got)
	}
	// The sender goes on as if nothing happened.
	fast.send(`<message to="` + fastJID + `" id="self"><body>me</body></message>`)
	fast.expect(regexp.MustCompile(`<message from="` + regexp.QuoteMeta(fastJID) + `" to="` + regexp.QuoteMeta(fastJID) + `" id="self">`))
	// The slow one is gone within WriteTimeout (if its writer was stuck)
	// plus CloseTimeout (the wait for its closing tag): reading now drains
	// what the kernel held and ends in a close, not in a wait.
	waitFor(t, ioTimeout, func() error {
		if n := len(ts.router.Sessions("alice@ringd.test")); n != 0 {
			return fmt.Errorf("slow session still bound")
		}
		return nil
	})
	slow.expectClosed()
	fast.closeStream()
	// Once its connection is gone, nothing the server accepted is lost:
	// what the session still held (not written) is handed back, and what
	// overflowed its queue was stored directly. Together they are a run
	// of consecutive messages, each stored once, ending with the last one
	// sent; the two paths race, so the order is not fixed. (What the
	// writer had written into the kernel's buffers counts as delivered.)
	ts.waitMetric(t, 0, "ringd_c2s_connections")
	if stored := ts.offlineIDs(t, "alice"); len(stored) > 0 {
		nums := make([]int, len(stored))
		for i, id := range stored {
			fmt.Sscanf(id, "m%d", &nums[i])
		}
		slices.Sort(nums)
		first := nums[0]
		sorted := make([]string, len(nums))
		for i, v := range nums {
			sorted[i] = fmt.Sprintf("m%d", v)
		}
		if want := ids("m", first, n); !slices.Equal(sorted, want) {
			t.Errorf("stored %q, want each of m%d…m%d once", stored, first, n)
		}
	}
}

// TestShutdown: Shutdown ends every stream, bound or still negotiating,
// with system-shutdown and waits for them.
func TestShutdown(t *testing.T) {
	ts := startServer(t)
	alice, _ := login(t, ts, "alice", "a")
	bob := wsLogin(t, ts, "bob", "web")
	unbound := dialClient(t, ts.starttls, ts.clientTLS)
	unbound.open()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	for _, c := range []*client{alice, unbound} {
		c.expect(regexp.MustCompile(`<stream:error><system-shutdown xmlns="` + nsStreams + `"/></stream:error></stream:stream>`))
		c.send(`</stream:stream>`)
		c.expectClosed()
	}
	if got := bob.expect(reWSStream)[1]; got != "system-shutdown" {
		t.Errorf("WebSocket stream error %q, want system-shutdown", got)
	}
	bob.expect(reWSClose)
	bob.send(`<close xmlns="` + nsFraming + `"/>`)
	bob.expectClosed()
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	// Clients that answer our closing tag are let go at once, not after
	// CloseTimeout (2s).
	if d := time.Since(start); d > time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if got := ts.metric(t, "ringd_c2s_stream_errors_total", "condition", "system-shutdown"); got != 3 {
		t.Errorf("stream_errors_total{system-shutdown} = %v, want 3", got)
	}
	if nc, err := net.Dial("tcp", ts.starttls); err == nil {
		nc.Close()
		t.Error("listener still accepts after Shutdown")
	}
}

// TestShutdownStuckClient: a client that neither reads nor closes does
// not hold Shutdown beyond WriteTimeout and CloseTimeout.
func TestShutdownStuckClient(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *router.Config) {
		c.WriteTimeout = 300 * time.Millisecond
		c.CloseTimeout = 300 * time.Millisecond
	})
	login(t, ts, "alice", "stuck")
	start := time.Now()
	ts.shutdown(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
}

// TestCloseRacesFinish: the router closing a session (conflict) while the
// session ends by itself must neither deadlock nor leak.
func TestCloseRacesFinish(t *testing.T) {
	ts := startServer(t)
	for i := range 10 {
		old, _ := login(t, ts, "alice", "race")
		old.send(`</stream:stream>`)
		var wg sync.WaitGroup
		var readErr error
		wg.Go(func() {
			// Not old.expectClosed: only the test goroutine may fail t.
			old.nc.SetReadDeadline(time.Now().Add(ioTimeout))
			_, readErr = io.Copy(io.Discard, old.nc)
		})
		c, _ := login(t, ts, "alice", "race")
		wg.Wait()
		if isTimeout(readErr) {
			t.Fatalf("old session still open: %v", readErr)
		}
		if i%2 == 0 {
			c.closeStream()
		} else {
			c.nc.Close()
		}
	}
	waitFor(t, ioTimeout, func() error {
		if n := ts.router.SessionCount(); n != 0 {
			return fmt.Errorf("%d sessions still bound", n)
		}
		return nil
	})
}

// TestShutdownDuringLogins: Shutdown while connections are at every stage
// of negotiation and binding (Close racing bind and finish) ends them all,
// in time, without leaks; run it with -race.
func TestShutdownDuringLogins(t *testing.T) {
	ts := startServer(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			// The server goes away under these clients: a failed
			// expectation ends the goroutine, not the test.
			tb := goexitTB{t}
			for {
				nc, err := net.Dial("tcp", ts.starttls)
				if err != nil {
					return // listener closed
				}
				func() {
					defer nc.Close()
					c := &client{t: tb, nc: nc, tlsc: ts.clientTLS, wait: ioTimeout}
					c.open()
					c.startTLS()
					c.open()
					c.auth(sasl.ScramSha256, "alice", testUsers["alice"])
					c.open()
					c.bind(fmt.Sprint("r", i))
					c.closeStream()
				}()
			}
		})
	}
	waitFor(t, ioTimeout, func() error {
		if n := ts.metric(t, "ringd_c2s_auth_total", "mechanism", "SCRAM-SHA-256", "result", "success"); n < 16 {
			return fmt.Errorf("%v logins", n)
		}
		return nil
	})
	start := time.Now()
	ts.shutdown(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	wg.Wait()
	if n := ts.router.SessionCount(); n != 0 {
		t.Errorf("%d sessions bound after Shutdown", n)
	}
}

// goexitTB ends the calling goroutine on a fatal failure, for clients
// that run outside the test goroutine and are expected to fail.
type goexitTB struct{ testing.TB }

func (goexitTB) Helper()               {}
func (goexitTB) Cleanup(func())        {}
func (goexitTB) Fatal(...any)          { runtime.Goexit() }
func (goexitTB) Fatalf(string, ...any) { runtime.Goexit() }
func (goexitTB) Logf(string, ...any)   {}
