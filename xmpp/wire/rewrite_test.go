package wire

import (
	"bytes"
	"strings"
	"testing"
)

func TestAppendRewritten(t *testing.T) {
	const delay = `<delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z'/>`
	tests := []struct {
		name   string
		in     string
		from   string
		insert string // "" means nil
		want   string
	}{
		{
			name: "from absent",
			in:   `<message to='a@b'><body>x</body></message>`,
			from: "c@d/e",
			want: `<message from="c@d/e" to='a@b'><body>x</body></message>`,
		},
		{
			name: "from first",
			in:   `<message from='evil@x' to='a@b'/>`,
			from: "c@d/e",
			want: `<message from="c@d/e" to='a@b'/>`,
		},
		{
			name: "from in the middle",
			in:   `<message to='a@b' from='evil@x' id='1'/>`,
			from: "c@d/e",
			want: `<message from="c@d/e" to='a@b' id='1'/>`,
		},
		{
			name: "from last with odd whitespace",
			in:   "<message to='a@b'\n\tfrom = \"evil@x\"\n/>",
			from: "c@d/e",
			want: "<message from=\"c@d/e\" to='a@b'\n/>",
		},
		{
			name: "from removed",
			in:   `<presence from='evil@x' type='unavailable'/>`,
			from: "",
			want: `<presence type='unavailable'/>`,
		},
		{
			name: "from needs escaping",
			in:   `<presence/>`,
			from: `a'b"c<d>&e` + "\t\x01",
			want: `<presence from="a&apos;b&quot;c&lt;d&gt;&amp;e&#9;` + "\uFFFD" + `"/>`,
		},
		{
			name:   "insert before end tag",
			in:     `<message from='x' to='a@b'><body>x</body></message>`,
			from:   "c@d/e",
			insert: delay,
			want:   `<message from="c@d/e" to='a@b'><body>x</body>` + delay + `</message>`,
		},
		{
			name:   "insert into self-closing",
			in:     `<presence to='a@b' />`,
			from:   "c@d/e",
			insert: delay,
			want:   `<presence from="c@d/e" to='a@b' >` + delay + `</presence>`,
		},
		{
			name:   "insert into prefixed self-closing",
			in:     `<cl:message xmlns:cl='jabber:client' from='x'/>`,
			from:   "c@d/e",
			insert: delay,
			want:   `<cl:message from="c@d/e" xmlns:cl='jabber:client'>` + delay + `</cl:message>`,
		},
		{
			name:   "insert into prefixed element",
			in:     `<cl:message xmlns:cl='jabber:client'><cl:body>x</cl:body></cl:message>`,
			from:   "c@d/e",
			insert: delay,
			want:   `<cl:message from="c@d/e" xmlns:cl='jabber:client'><cl:body>x</cl:body>` + delay + `</cl:message>`,
		},
		{
			name: "prefixed from is not the from attribute",
			in:   `<message xmlns:p='urn:p' p:from='x'/>`,
			from: "c@d/e",
			want: `<message from="c@d/e" xmlns:p='urn:p' p:from='x'/>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewFramedDecoder(strings.NewReader(tc.in), Limits{}).Next()
			if err != nil {
				t.Fatalf("Next(%q) = %v", tc.in, err)
			}
			var insert []byte
			if tc.insert != "" {
				insert = []byte(tc.insert)
			}
			got := string(AppendRewritten([]byte("prefix:"), s, tc.from, insert))
			if got != "prefix:"+tc.want {
				t.Errorf("AppendRewritten(%q, %q, %q) = %q, want %q", tc.in, tc.from, tc.insert, got, "prefix:"+tc.want)
			}
			// The result is a stanza again, with the from we gave.
			s2, err := NewFramedDecoder(strings.NewReader(got[len("prefix:"):]), Limits{}).Next()
			if err != nil {
				t.Fatalf("Next(AppendRewritten(%q)) = %v", tc.in, err)
			}
			if tc.from == "" && s2.From != nil || tc.from != "" && string(Unescape(s2.From)) != string(Unescape(AppendEscaped(nil, tc.from))) {
				t.Errorf("Next(AppendRewritten(%q)).From = %q, want %q", tc.in, s2.From, tc.from)
			}
		})
	}
}

func TestAppendRewrittenAllocs(t *testing.T) {
	in := `<message to='juliet@example.com' from='x'><body>hi</body></message>`
	s, err := NewFramedDecoder(strings.NewReader(in), Limits{}).Next()
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 1024)
	insert := []byte(`<delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z'/>`)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendRewritten(dst[:0], s, "romeo@example.net/orchard", insert)
	})
	if allocs != 0 {
		t.Errorf("AppendRewritten allocates %v times per call with room in dst, want 0", allocs)
	}
}

func TestAppendEscaped(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "juliet@example.com/balcony", "juliet@example.com/balcony"},
		{"specials", `<a href="x">&'`, "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"},
		{"whitespace", "a\tb\nc\rd e", "a&#9;b&#10;c&#13;d e"},
		{"control", "a\x00b\x1fc\x7f", "a\uFFFDb\uFFFDc\x7f"},
		{"non-ASCII", "日本 ça 😀", "日本 ça 😀"},
		{"invalid UTF-8", "a\xffb\xe2\x82", "a\uFFFDb\uFFFD\uFFFD"},
		{"noncharacters", "\uFFFE\uFFFF\uFFFD", "\uFFFD\uFFFD\uFFFD"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendEscaped(nil, tc.in)); got != tc.want {
				t.Errorf("AppendEscaped(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "juliet@example.com", "juliet@example.com"},
		{"predefined", "&lt;&gt;&amp;&apos;&quot;", `<>&'"`},
		{"character references", "&#65;&#x42;&#x1F600;&#233;", "AB😀é"},
		{"mixed", "a&amp;b c&#10;d", "a&b c\nd"},
		{"malformed passes through", "a & b &foo; &#0; &#x;", "a & b &foo; &#0; &#x;"},
		{"trailing ampersand", "x&", "x&"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Unescape([]byte(tc.in))); got != tc.want {
				t.Errorf("Unescape(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	v := []byte("no references here")
	if got := Unescape(v); &got[0] != &v[0] || len(got) != len(v) {
		t.Errorf("Unescape(%q) returned a copy, want v itself", v)
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `<>&'"`, "tab\tnl\ncr\r", "日本語 😀 ça", "&amp; literally", "]]>"} {
		esc := AppendEscaped(nil, s)
		if got := string(Unescape(esc)); got != s {
			t.Errorf("Unescape(AppendEscaped(%q)) = %q, want %q", s, got, s)
		}
		// Escaped text is valid as an attribute value and as character data.
		in := `<message to="` + string(esc) + `"><body>` + string(esc) + `</body></message>`
		s2, err := NewFramedDecoder(strings.NewReader(in), Limits{}).Next()
		if err != nil || !bytes.Equal(s2.To, esc) {
			t.Errorf("Next(%q) = %v, want it accepted with To=%q", in, err, esc)
		}
	}
}
