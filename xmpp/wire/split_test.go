package wire

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// conversation is a stream exercising most token kinds, for the split-read
// tests and the fuzz seeds.
var conversation = `<?xml version='1.0' encoding='UTF-8'?>` + "\n" + streamHeader + "\n" +
	`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</auth>` +
	"\n \n" +
	`<message to="juliet@example.com" from='romeo@example.net/orchard' type='chat' id='ktx72v49' xml:lang='en'>` +
	`<body>Art thou not Romeo, and a Montague? &lt;3 &amp; &#x1F339; «ça»</body>` +
	`<active xmlns='http://jabber.org/protocol/chatstates'/>` +
	`<origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013'/>` +
	`</message>` +
	`<presence><show>away</show><status><![CDATA[<brb> ]] & ]]]></status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://dino.im' ver='QqY4ry9/xM+eKjB5K0dSxT7Q5Es='/></presence>` +
	`<iq type='set' id='j1' to='juliet@example.com/balcony'>` +
	`<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='a73sjjvkla37jfea'>` +
	`<content creator='initiator' name='voice'>` +
	`<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='111' name='opus' clockrate='48000' channels='2'/></description>` +
	`<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' pwd='asd88fgpdd777uzjYhagZg' ufrag='8hhy'>` +
	`<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>02:1A:CC:54:27:AB:EB:9C:53:3F:3E:4B:65:2E:7D:46:3F:54:42:CD:54:F1:7A:03:A2:7D:F9:B0:7F:46:19:B2</fingerprint>` +
	`<candidate component='1' foundation='1' generation='0' id='el0747fg11' ip='10.0.1.1' network='1' port='8998' priority='2130706431' protocol='udp' type='host'/>` +
	`</transport></content></jingle></iq>` +
	`<p:x xmlns:p='urn:p' p:a='1' xmlns='urn:d'><p:y p:b="2"><z/></p:y></p:x>` +
	"<r xmlns='urn:xmpp:sm:3'\n/>" +
	`<émoi xmlns='urn:é' ñ='ü'>日本語 &#233;</émoi>` +
	"\n" + streamClose

// splitInputs are decoded whole and split; all splits must agree.
var splitInputs = []struct {
	name string
	in   string
	lim  Limits
}{
	{name: "conversation", in: conversation},
	{name: "error after stanzas", in: streamHeader + `<presence/><message><body>a]]>b</body></message>`},
	{name: "entity", in: streamHeader + `<message to='&amp;&nbsp;'/>`},
	{name: "bad UTF-8 late", in: streamHeader + `<message><body>` + strings.Repeat("é", 20) + "\xc3(</body></message>"},
	{name: "mismatch", in: streamHeader + `<message><a><b></a></b></message>`},
	{name: "lt in value", in: streamHeader + `<message to='abc<def'/>`},
	{name: "comment", in: streamHeader + `<message><!-- x --></message>`},
	{name: "bad CDATA open", in: streamHeader + `<message><![CDAT</message>`},
	{name: "too big", in: streamHeader + `<message><body>` + strings.Repeat("x", 300) + `</body></message>`, lim: Limits{MaxStanzaBytes: 200}},
	{name: "too big tag", in: streamHeader + `<message to='` + strings.Repeat("x", 300) + `'/>`, lim: Limits{MaxStanzaBytes: 200}},
	{name: "too deep", in: streamHeader + strings.Repeat("<a>", 10), lim: Limits{MaxDepth: 5}},
	{name: "cut", in: streamHeader + `<message><body>hello`},
	{name: "bad header", in: `<stream:stream xmlns:stream='urn:wrong'>`},
	{name: "text at top", in: streamHeader + `<presence/> x`},
	{name: "stream end", in: streamHeader + `<presence/></stream:stream  >trailing`},
}

func TestSplitReads(t *testing.T) {
	for _, tc := range splitInputs {
		t.Run(tc.name, func(t *testing.T) {
			want := decodeAll(strings.NewReader(tc.in), tc.lim, false)
			readers := map[string]io.Reader{
				"one byte": iotest.OneByteReader(strings.NewReader(tc.in)),
				"half":     iotest.HalfReader(strings.NewReader(tc.in)),
			}
			for seed := range uint64(8) {
				readers[fmt.Sprintf("chunks seed %d", seed)] = newChunkReader([]byte(tc.in), seed, 1+int(seed)*7)
			}
			for name, r := range readers {
				got := decodeAll(r, tc.lim, false)
				if !equalResults(got, want) {
					t.Errorf("%s: Next(%q) =\n%v\nwant (whole input)\n%v", name, tc.in, got, want)
				}
			}
		})
	}
}

func equalResults(a, b result) bool {
	if a.Header != b.Header || !sameErr(a.Err, b.Err) || a.Consumed != b.Consumed || len(a.Stanzas) != len(b.Stanzas) {
		return false
	}
	for i := range a.Stanzas {
		if a.Stanzas[i] != b.Stanzas[i] {
			return false
		}
	}
	return true
}

// TestTrickleIsLinear feeds large tokens one byte per Read: a scanner that
// rescans from the start of the stanza (or of the token) on each Read would
// take minutes here instead of milliseconds.
func TestTrickleIsLinear(t *testing.T) {
	const n = 200 << 10
	big := strings.Repeat("a", n)
	tests := []struct{ name, stanza string }{
		{"attribute value", `<message to='` + big + `'/>`},
		{"element name", `<m` + big + `></m` + big + `>`},
		{"text", `<message><body>` + big + `</body></message>`},
		{"CDATA", `<message><![CDATA[` + big + `]]></message>`},
		{"many elements", `<message` + manyAttrs(60) + `>` + strings.Repeat(`<x a='1' b='2'/>`, n/16) + `</message>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := streamHeader + tc.stanza + streamClose
			start := time.Now()
			res := decodeAll(iotest.OneByteReader(strings.NewReader(in)), Limits{MaxStanzaBytes: 1 << 20, MaxAttrs: 100}, false)
			if res.Err != io.EOF || len(res.Stanzas) != 1 || res.Stanzas[0].Raw != tc.stanza {
				t.Fatalf("Next(%.40q...) one byte at a time: %v, %d stanzas", tc.stanza, res.Err, len(res.Stanzas))
			}
			// Generous: linear is ~50 ms even with -race; quadratic is minutes.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Next(%.40q...) one byte at a time took %v", tc.stanza, d)
			}
		})
	}
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d='%d'", i, i)
	}
	return b.String()
}
