package router_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/xmpp/wire"
)

// chat575 is a typical 575-byte chat message as Conversations sends it.
var chat575 = func() string {
	s := `<message xmlns="jabber:client" to="bob@localhost/b" type="chat" id="7a1f3c52-9d0e-4b8e-a0a4-6b1c2d3e4f50">` +
		`<body>Hey! Are we still on for the call later today? I moved the meeting to 17:30 so we have time. ☎</body>` +
		`<origin-id xmlns="urn:xmpp:sid:0" id="7a1f3c52-9d0e-4b8e-a0a4-6b1c2d3e4f50"/>` +
		`<request xmlns="urn:xmpp:receipts"/><markable xmlns="urn:xmpp:chat-markers:0"/>` +
		`<active xmlns="http://jabber.org/protocol/chatstates"/>`
	pad := 575 - len(s) - len(`<store xmlns="urn:xmpp:hints"/></message>`) - len(`<thread></thread>`)
	return s + `<thread>` + strings.Repeat("t", pad) + `</thread><store xmlns="urn:xmpp:hints"/></message>`
}()

// loopReader repeats one stanza forever, as a client stream would.
type loopReader struct {
	b []byte
	i int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.b[l.i:])
		n += c
		l.i = (l.i + c) % len(l.b)
	}
	return n, nil
}

// discardConn takes stanzas and forgets them, so the benchmark measures the
// router, not a queue.
type discardConn struct{ n int }

func (d *discardConn) Deliver(raw []byte) bool { d.n += len(raw); return true }
func (d *discardConn) Close(string)            {}

func benchmarkRoute(b *testing.B, stanza string, to string) {
	f := newFixture(b, map[string]string{"alice@localhost/a": "0"})
	dc := &discardConn{}
	bob, err := f.r.Bind(mustJID(b, to), dc)
	if err != nil {
		b.Fatal(err)
	}
	bob.SetPresence(true, 0, []byte(`<presence/>`))
	alice := f.sess["alice@localhost/a"]
	dec := wire.NewFramedDecoder(&loopReader{b: []byte(stanza)}, wire.Limits{})
	ctx := context.Background()
	b.SetBytes(int64(len(stanza)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		st, err := dec.Next()
		if err != nil {
			b.Fatal(err)
		}
		f.r.Route(ctx, alice, st)
	}
	b.StopTimer()
	if dc.n == 0 {
		b.Fatal("nothing was delivered")
	}
}

// BenchmarkRouteChat575 decodes a chat message from a client stream and
// routes it to another session's queue: the server's work per message
// other than TLS and the socket write.
func BenchmarkRouteChat575(b *testing.B) {
	if len(chat575) != 575 {
		b.Fatalf("chat575 is %d bytes", len(chat575))
	}
	benchmarkRoute(b, chat575, "bob@localhost/b")
}

// BenchmarkRouteChat575Bare routes the same message to the bare JID.
func BenchmarkRouteChat575Bare(b *testing.B) {
	benchmarkRoute(b, strings.Replace(chat575, `to="bob@localhost/b"`, `to="bob@localhost"`, 1), "bob@localhost/b")
}

// BenchmarkRouteJingle2K routes a 2 KB Jingle session-initiate between
// full JIDs.
func BenchmarkRouteJingle2K(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`<iq xmlns="jabber:client" to="bob@localhost/b" type="set" id="jingle-1"><jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" initiator="alice@localhost/a" sid="a73sjjvkla37jfea">`)
	buf.WriteString(`<content creator="initiator" name="audio" senders="both"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">`)
	for i, pt := range []string{"opus", "G722", "PCMU", "PCMA", "telephone-event"} {
		buf.WriteString(`<payload-type id="` + string(rune('0'+i)) + `" name="` + pt + `" clockrate="48000" channels="2"><parameter name="useinbandfec" value="1"/><rtcp-fb xmlns="urn:xmpp:jingle:apps:rtp:rtcp-fb:0" type="transport-cc"/></payload-type>`)
	}
	buf.WriteString(`<rtp-hdrext xmlns="urn:xmpp:jingle:apps:rtp:rtp-hdrext:0" id="1" uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"/><rtcp-mux/></description>`)
	buf.WriteString(`<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" pwd="asd88fgpdd777uzjYhagZg" ufrag="8hhy">`)
	buf.WriteString(`<fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">02:1A:CC:54:27:AB:EB:9C:53:3F:3E:4B:65:2E:7D:46:3F:54:42:CD:54:F1:7A:03:A2:7D:F9:B0:7F:46:19:B2</fingerprint>`)
	for i := 0; i < 6; i++ {
		buf.WriteString(`<candidate component="1" foundation="1" generation="0" id="el0747fg11" ip="10.0.1.1" network="1" port="8998" priority="2130706431" protocol="udp" type="host"/>`)
	}
	buf.WriteString(`</transport></content></jingle></iq>`)
	benchmarkRoute(b, buf.String(), "bob@localhost/b")
}

var _ io.Reader = (*loopReader)(nil)

func mustJID(tb testing.TB, s string) jid.JID {
	tb.Helper()
	j, err := jid.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return j
}
