package wire

import (
	"io"
	"strings"
	"testing"
)

// chat575 is a typical 575-byte one-to-one chat message as Conversations
// or Dino send it: body, thread, chat state, origin-id, receipt request
// and chat marker.
const chat575 = `<message xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@capulet.example/balcony' type='chat' id='5a8d6f1c-3b2e-4c1a-9f0e-7d2b8c4e6a10' xml:lang='en'>` +
	`<body>Art thou not Romeo, and a Montague? Neither, fair saint, if either thee dislike. How cam&apos;st thou here? ❤</body>` +
	`<thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread>` +
	`<active xmlns='http://jabber.org/protocol/chatstates'/>` +
	`<origin-id xmlns='urn:xmpp:sid:0' id='5a8d6f1c-3b2e-4c1a-9f0e-7d2b8c4e6a10'/>` +
	`<request xmlns='urn:xmpp:receipts'/>` +
	`<markable xmlns='urn:xmpp:chat-markers:0'/>` +
	`</message>`

// jingle2K is a XEP-0167 session-initiate with an Opus RTP description,
// ICE-UDP candidates and a DTLS fingerprint, about 2 KB.
const jingle2K = `<iq xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@capulet.example/balcony' id='jingle1' type='set'>` +
	`<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='romeo@montague.example/orchard' sid='a73sjjvkla37jfea'>` +
	`<content creator='initiator' name='voice' senders='both'>` +
	`<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio' ssrc='2856921315'>` +
	`<payload-type id='111' name='opus' clockrate='48000' channels='2'>` +
	`<parameter name='minptime' value='10'/><parameter name='useinbandfec' value='1'/>` +
	`<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/></payload-type>` +
	`<payload-type id='8' name='PCMA' clockrate='8000'/>` +
	`<payload-type id='126' name='telephone-event' clockrate='8000'/>` +
	`<rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>` +
	`<rtcp-mux/><source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='2856921315'>` +
	`<parameter name='cname' value='Yv9VpPfZ1xT2kQ4r'/><parameter name='msid' value='stream0 track0'/>` +
	`</source></description>` +
	`<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' pwd='asd88fgpdd777uzjYhagZg' ufrag='8hhy'>` +
	`<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>02:1A:CC:54:27:AB:EB:9C:53:3F:3E:4B:65:2E:7D:46:3F:54:42:CD:54:F1:7A:03:A2:7D:F9:B0:7F:46:19:B2</fingerprint>` +
	`<candidate component='1' foundation='1' generation='0' id='el0747fg11' ip='10.0.1.1' network='1' port='8998' priority='2130706431' protocol='udp' type='host'/>` +
	`<candidate component='1' foundation='2' generation='0' id='y3s2b30v3r' ip='192.0.2.3' network='1' port='45664' priority='1694498815' protocol='udp' rel-addr='10.0.1.1' rel-port='8998' type='srflx'/>` +
	`<candidate component='1' foundation='4' generation='0' id='r8m1p0z6wn' ip='203.0.113.7' network='1' port='3478' priority='16777215' protocol='udp' rel-addr='192.0.2.3' rel-port='45664' type='relay'/>` +
	`</transport></content><group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>` +
	`<content name='voice'/></group></jingle></iq>`

func TestBenchmarkStanzas(t *testing.T) {
	if len(chat575) != 575 {
		t.Errorf("len(chat575) = %d, want 575", len(chat575))
	}
	for _, in := range []string{chat575, jingle2K} {
		s, err := NewFramedDecoder(strings.NewReader(in), Limits{}).Next()
		if err != nil || string(s.Raw) != in {
			t.Errorf("Next(%.40q...) = %v, want the whole stanza", in, err)
		}
	}
}

// TestDecodeAllocs guards the zero-allocation steady state of Next.
func TestDecodeAllocs(t *testing.T) {
	tests := []struct {
		name   string
		stanza string
		framed bool
	}{
		{"chat", chat575, false},
		{"jingle", jingle2K, false},
		{"escaped namespace", `<message><x xmlns='urn:a&amp;b'/></message>`, false},
		{"many attributes", `<message` + manyAttrs(40) + `/>`, false},
		{"framed", chat575, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newStanzaLoop(t, tc.stanza, tc.framed)
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := d.Next(); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Next() allocates %v times per stanza in steady state, want 0", allocs)
			}
		})
	}
}

// newStanzaLoop returns a decoder over an endless stream of stanza, warmed
// up so that its buffers have reached their steady size.
func newStanzaLoop(tb testing.TB, stanza string, framed bool) *Decoder {
	r := repeatStream(stanza, framed)
	var d *Decoder
	if framed {
		d = NewFramedDecoder(r, Limits{})
	} else {
		d = NewDecoder(r, Limits{})
		if _, err := d.ReadHeader(); err != nil {
			tb.Fatal(err)
		}
	}
	for range 1000 {
		if _, err := d.Next(); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

func benchmarkDecode(b *testing.B, stanza string) {
	d := newStanzaLoop(b, stanza, false)
	b.SetBytes(int64(len(stanza)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := d.Next()
		if err != nil || len(s.Raw) != len(stanza) {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeChat575(b *testing.B) { benchmarkDecode(b, chat575) }

func BenchmarkDecodeJingle2K(b *testing.B) { benchmarkDecode(b, jingle2K) }

func BenchmarkAppendRewritten(b *testing.B) {
	s, err := NewFramedDecoder(strings.NewReader(chat575), Limits{}).Next()
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 1024)
	b.SetBytes(int64(len(chat575)))
	b.ReportAllocs()
	for range b.N {
		dst = AppendRewritten(dst[:0], s, "romeo@montague.example/orchard", nil)
	}
}

// BenchmarkDecodeTrickle measures the worst case for resumability: the chat
// message arriving a few bytes per Read.
func BenchmarkDecodeTrickle(b *testing.B) {
	d := NewDecoder(&smallReads{r: repeatStream(chat575, false), n: 7}, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(chat575)))
	b.ReportAllocs()
	for range b.N {
		if _, err := d.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

type smallReads struct {
	r io.Reader
	n int
}

func (s *smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }
