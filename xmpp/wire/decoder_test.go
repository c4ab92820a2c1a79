package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNext(t *testing.T) {
	tests := []struct {
		name string
		in   string // after streamHeader
		want []got
	}{
		{
			name: "chat message",
			in:   `<message to='juliet@example.com' from='romeo@example.net/orchard' id='m1' type='chat'><body>Wherefore?</body></message>`,
			want: []got{{
				Kind: KindMessage, NS: NSClient, Name: "message",
				To: "juliet@example.com", From: "romeo@example.net/orchard", ID: "m1", Type: "chat",
				Children: "jabber:client body [86:109]; ",
				Raw:      `<message to='juliet@example.com' from='romeo@example.net/orchard' id='m1' type='chat'><body>Wherefore?</body></message>`,
				NameEnd:  8, FromStart: 32, FromEnd: 65, InnerEnd: 109,
			}},
		},
		{
			name: "self-closing presence",
			in:   `<presence/>`,
			want: []got{{
				Kind: KindPresence, NS: NSClient, Name: "presence",
				To: "<nil>", From: "<nil>", ID: "<nil>", Type: "<nil>",
				Raw: `<presence/>`, NameEnd: 9, FromStart: -1, FromEnd: -1, InnerEnd: -1,
			}},
		},
		{
			name: "empty attribute is not absent",
			in:   `<iq to='' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`,
			want: []got{{
				Kind: KindIQ, NS: NSClient, Name: "iq",
				To: "", From: "<nil>", ID: "1", Type: "get",
				Children: "urn:xmpp:ping ping [28:57]; ",
				Raw:      `<iq to='' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`,
				NameEnd:  3, FromStart: -1, FromEnd: -1, InnerEnd: 57,
			}},
		},
		{
			name: "explicit jabber:client",
			in:   `<message xmlns="jabber:client" from = "a" />`,
			want: []got{{
				Kind: KindMessage, NS: NSClient, Name: "message",
				To: "<nil>", From: "a", ID: "<nil>", Type: "<nil>",
				Raw:     `<message xmlns="jabber:client" from = "a" />`,
				NameEnd: 8, FromStart: 30, FromEnd: 41, InnerEnd: -1, HasXMLNS: true,
			}},
		},
		{
			name: "stanza name in another namespace",
			in:   `<message xmlns='urn:example'/>`,
			want: []got{{
				Kind: KindOther, NS: "urn:example", Name: "message",
				To: "<nil>", From: "<nil>", ID: "<nil>", Type: "<nil>",
				Raw: `<message xmlns='urn:example'/>`, NameEnd: 8, FromStart: -1, FromEnd: -1, InnerEnd: -1, HasXMLNS: true,
			}},
		},
		{
			name: "prefixed stanza declared inside",
			in:   `<c:iq xmlns:c='jabber:client' type='result' id='7'/>`,
			want: []got{{
				Kind: KindIQ, NS: NSClient, Name: "iq",
				To: "<nil>", From: "<nil>", ID: "7", Type: "result",
				Raw: `<c:iq xmlns:c='jabber:client' type='result' id='7'/>`, NameEnd: 5, FromStart: -1, FromEnd: -1, InnerEnd: -1,
			}},
		},
		{
			name: "stream management and stream error",
			in:   `<r xmlns='urn:xmpp:sm:3'/><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
			want: []got{
				{
					Kind: KindOther, NS: "urn:xmpp:sm:3", Name: "r",
					To: "<nil>", From: "<nil>", ID: "<nil>", Type: "<nil>",
					Raw: `<r xmlns='urn:xmpp:sm:3'/>`, NameEnd: 2, FromStart: -1, FromEnd: -1, InnerEnd: -1, HasXMLNS: true,
				},
				{
					Kind: KindOther, NS: NSStream, Name: "error",
					To: "<nil>", From: "<nil>", ID: "<nil>", Type: "<nil>",
					Children: "urn:ietf:params:xml:ns:xmpp-streams conflict [14:69]; ",
					Raw:      `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
					NameEnd:  13, FromStart: -1, FromEnd: -1, InnerEnd: 69,
				},
			},
		},
		{
			name: "text forms",
			in:   `<message><body>a &lt;b&gt; &amp; &apos;&quot; &#65;&#x1F600; ]] ] > é 😀<![CDATA[<not> & ]] a tag]]></body></message>`,
			want: []got{{
				Kind: KindMessage, NS: NSClient, Name: "message",
				To: "<nil>", From: "<nil>", ID: "<nil>", Type: "<nil>",
				Children: "jabber:client body [9:110]; ",
				Raw:      `<message><body>a &lt;b&gt; &amp; &apos;&quot; &#65;&#x1F600; ]] ] > é 😀<![CDATA[<not> & ]] a tag]]></body></message>`,
				NameEnd:  8, FromStart: -1, FromEnd: -1, InnerEnd: 110,
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := streamHeader + tc.in + streamClose
			res := decodeAll(strings.NewReader(in), Limits{}, false)
			if res.Err != io.EOF || len(res.Stanzas) != len(tc.want) {
				t.Fatalf("Next(%q):\n%v\nwant %d stanzas and io.EOF", tc.in, res, len(tc.want))
			}
			for i, g := range res.Stanzas {
				if g != tc.want[i] {
					t.Errorf("Next(%q) #%d =\n %+v\nwant\n %+v", tc.in, i, g, tc.want[i])
				}
			}
		})
	}
}

func TestChildren(t *testing.T) {
	in := `<iq type='set' id='j1'>` +
		`<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate'><content name='a'/></jingle>` +
		`<p:x xmlns:p='urn:p'><p:y/></p:x>` +
		`<z xmlns='urn:z'><w xmlns='urn:w'/></z>` +
		`<a/><b/><c/><d/><e/><f/>` + // children 4 to 9: only up to MaxChildren are indexed
		`</iq>`
	d := NewFramedDecoder(strings.NewReader(in), Limits{})
	s, err := d.Next()
	if err != nil {
		t.Fatalf("Next(%q) = %v", in, err)
	}
	if s.NumChildren != MaxChildren {
		t.Fatalf("Next(%q).NumChildren = %d, want %d", in, s.NumChildren, MaxChildren)
	}
	want := []struct{ ns, name, raw string }{
		{"urn:xmpp:jingle:1", "jingle", `<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate'><content name='a'/></jingle>`},
		{"urn:p", "x", `<p:x xmlns:p='urn:p'><p:y/></p:x>`},
		{"urn:z", "z", `<z xmlns='urn:z'><w xmlns='urn:w'/></z>`},
		{NSClient, "a", `<a/>`},
		{NSClient, "b", `<b/>`},
		{NSClient, "c", `<c/>`},
		{NSClient, "d", `<d/>`},
		{NSClient, "e", `<e/>`},
	}
	for i, w := range want {
		c := s.Children[i]
		if string(c.NS) != w.ns || string(c.Name) != w.name || string(s.Raw[c.Start:c.End]) != w.raw {
			t.Errorf("Children[%d] = %s %s %q, want %s %s %q", i, c.NS, c.Name, s.Raw[c.Start:c.End], w.ns, w.name, w.raw)
		}
	}
	if c, ok := s.Payload(); !ok || string(c.Name) != "jingle" {
		t.Errorf("Payload() = %s, %v, want jingle", c.Name, ok)
	}
	if _, ok := s.Child("urn:z", "z"); !ok {
		t.Errorf("Child(urn:z, z) not found")
	}
	if s.HasChildNS("urn:w") {
		t.Errorf("HasChildNS(urn:w) = true for a grandchild, want false")
	}

	// The Stanza value is reused: children of the previous one must not
	// show through.
	d = NewFramedDecoder(strings.NewReader(in+`<presence><x xmlns='urn:x'/></presence>`), Limits{})
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	s, err = d.Next()
	if err != nil || s.NumChildren != 1 {
		t.Fatalf("Next() = %v, %d children, want presence with 1 child", err, s.NumChildren)
	}
	for i := 1; i < MaxChildren; i++ {
		if c := s.Children[i]; c.NS != nil || c.Name != nil || c.Start != 0 || c.End != 0 {
			t.Errorf("Children[%d] = %+v after a stanza with 1 child, want zero", i, c)
		}
	}
}

func TestWhitespaceKeepalives(t *testing.T) {
	in := streamHeader + " \n<presence/>\n\n \t<presence/>\r\n " + streamClose
	res := decodeAll(strings.NewReader(in), Limits{}, false)
	if res.Err != io.EOF || len(res.Stanzas) != 2 {
		t.Fatalf("Next(%q):\n%v\nwant 2 stanzas and io.EOF", in, res)
	}
	if res.Consumed != int64(len(in)) {
		t.Errorf("InputOffset() = %d at the end of %q, want %d", res.Consumed, in, len(in))
	}

	// A keepalive alone must be consumed, not block.
	d := NewDecoder(io.MultiReader(strings.NewReader(streamHeader+" "), strings.NewReader(" \n")), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != io.ErrUnexpectedEOF {
		t.Errorf("Next() on keepalives then EOF = %v, want io.ErrUnexpectedEOF", err)
	}
	if d.Buffered() != 0 {
		t.Errorf("Buffered() = %d after keepalives, want 0", d.Buffered())
	}
}

func TestNextErrors(t *testing.T) {
	const decl = ` xmlns:p='urn:p'`
	tests := []struct {
		name   string
		header string // default streamHeader
		in     string
		lim    Limits
		want   string
	}{
		{name: "mismatched end tag", in: `<message><body></message>`, want: CondNotWellFormed},
		{name: "non-ASCII element name", in: `<message><émoi xmlns='urn:x'/></message>`, want: CondNotWellFormed},
		{name: "non-ASCII attribute name", in: `<message><x xmlns='urn:x' ñ='1'/></message>`, want: CondNotWellFormed},
		{name: "mismatched prefix", in: `<p:a` + decl + `></a>`, want: CondNotWellFormed},
		{name: "end tag with junk", in: `<message></message x>`, want: CondNotWellFormed},
		{name: "invalid UTF-8", in: "<message>\xff</message>", want: CondNotWellFormed},
		{name: "truncated UTF-8", in: "<message>\xe2\x82</message>", want: CondNotWellFormed},
		{name: "surrogate in UTF-8", in: "<message>\xed\xa0\x80</message>", want: CondNotWellFormed},
		{name: "control character", in: "<message>\x01</message>", want: CondNotWellFormed},
		{name: "NUL in attribute", in: "<message to='\x00'/>", want: CondNotWellFormed},
		{name: "U+FFFE", in: "<message>\uFFFE</message>", want: CondNotWellFormed},
		{name: "U+FFFF in attribute", in: "<message to='\uFFFF'/>", want: CondNotWellFormed},
		{name: "name starts with digit", in: `<1message/>`, want: CondNotWellFormed},
		{name: "bad name character", in: `<mes$age/>`, want: CondNotWellFormed},
		{name: "non-name rune", in: "<message><a\u00d7b/></message>", want: CondNotWellFormed},
		{name: "two colons", in: `<a:b:c/>`, want: CondNotWellFormed},
		{name: "leading colon", in: `<:a/>`, want: CondNotWellFormed},
		{name: "trailing colon", in: `<a: />`, want: CondNotWellFormed},
		{name: "local name starts with digit", in: `<p:1` + decl + `/>`, want: CondNotWellFormed},
		{name: "unquoted attribute", in: `<message to=a/>`, want: CondNotWellFormed},
		{name: "attribute without value", in: `<message to/>`, want: CondNotWellFormed},
		{name: "no whitespace between attributes", in: `<message to='a'id='b'/>`, want: CondNotWellFormed},
		{name: "slash without gt", in: `<message/ >`, want: CondNotWellFormed},
		{name: "lt in attribute", in: `<message to='<'/>`, want: CondNotWellFormed},
		{name: "bare ampersand in attribute", in: `<message to='a&b'/>`, want: CondNotWellFormed},
		{name: "bare ampersand in text", in: `<message>a & b</message>`, want: CondNotWellFormed},
		{name: "duplicate attribute", in: `<message to='a' to='b'/>`, want: CondNotWellFormed},
		{name: "duplicate xmlns", in: `<message xmlns='a' xmlns='b'/>`, want: CondNotWellFormed},
		{name: "duplicate prefixed attribute", in: `<message xmlns:a='u' a:x='1' a:x='2'/>`, want: CondNotWellFormed},
		{name: "duplicate expanded name", in: `<message xmlns:a='u' xmlns:b='u' a:x='1' b:x='2'/>`, want: CondNotWellFormed},
		{name: "duplicate among many attributes", in: `<message a0='' a1='' a2='' a3='' a4='' a5='' a6='' a7='' a8='' a9='' b0='' b1='' b2='' b3='' b4='' b5='' b6='' b7='' a3=''/>`, want: CondNotWellFormed},
		{name: "undefined entity", in: `<message>&nbsp;</message>`, want: CondRestrictedXML},
		{name: "undefined entity in attribute", in: `<message to='&foo;'/>`, want: CondRestrictedXML},
		{name: "malformed reference", in: `<message>&am p;</message>`, want: CondNotWellFormed},
		{name: "reference to NUL", in: `<message>&#0;</message>`, want: CondNotWellFormed},
		{name: "reference to surrogate", in: `<message>&#xD800;</message>`, want: CondNotWellFormed},
		{name: "reference beyond Unicode", in: `<message>&#x110000;</message>`, want: CondNotWellFormed},
		{name: "huge reference", in: `<message>&#99999999999999999999999;</message>`, want: CondNotWellFormed},
		{name: "empty character reference", in: `<message>&#;</message>`, want: CondNotWellFormed},
		{name: "hex digits in decimal reference", in: `<message>&#1a;</message>`, want: CondNotWellFormed},
		{name: "overlong reference", in: `<message>&#x` + strings.Repeat("0", 40) + `41;</message>`, want: CondNotWellFormed},
		{name: "CDATA end in text", in: `<message>a]]>b</message>`, want: CondNotWellFormed},
		{name: "CDATA end after brackets", in: `<message>]]]></message>`, want: CondNotWellFormed},
		{name: "malformed CDATA", in: `<message><![CDAT[x]]></message>`, want: CondNotWellFormed},
		{name: "bad character in CDATA", in: "<message><![CDATA[\x02]]></message>", want: CondNotWellFormed},
		{name: "comment", in: `<message><!-- x --></message>`, want: CondRestrictedXML},
		{name: "processing instruction", in: `<message><?pi x?></message>`, want: CondRestrictedXML},
		{name: "doctype inside", in: `<message><!DOCTYPE x></message>`, want: CondRestrictedXML},
		{name: "top-level comment", in: `<!-- x -->`, want: CondRestrictedXML},
		{name: "top-level processing instruction", in: `<?xml version='1.0'?>`, want: CondRestrictedXML},
		{name: "top-level doctype", in: `<!DOCTYPE x>`, want: CondRestrictedXML},
		{name: "top-level text", in: `hello<message/>`, want: CondBadFormat},
		{name: "top-level reference", in: `&amp;`, want: CondBadFormat},
		{name: "top-level CDATA", in: `<![CDATA[x]]>`, want: CondBadFormat},
		{name: "wrong end tag at top level", in: `</message>`, want: CondNotWellFormed},
		{name: "undeclared element prefix", in: `<foo:bar/>`, want: CondBadNamespacePrefix},
		{name: "undeclared attribute prefix", in: `<message foo:bar='1'/>`, want: CondBadNamespacePrefix},
		{name: "prefix out of scope", in: `<message><p:a` + decl + `/><p:b/></message>`, want: CondBadNamespacePrefix},
		{
			name:   "prefix declared only on the stream header",
			header: `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>`,
			in:     `<db:result from='a' to='b'>key</db:result>`,
			want:   CondBadNamespacePrefix,
		},
		{name: "stream prefix inside a stanza", in: `<message><stream:error/></message>`, want: CondBadNamespacePrefix},
		{name: "stream prefix on an attribute", in: `<message stream:x='1'/>`, want: CondBadNamespacePrefix},
		{name: "xmlns prefix declared", in: `<message xmlns:xmlns='urn:x'/>`, want: CondBadNamespacePrefix},
		{name: "xmlns prefix on element", in: `<xmlns:a/>`, want: CondBadNamespacePrefix},
		{name: "xml prefix rebound", in: `<message xmlns:xml='urn:x'/>`, want: CondBadNamespacePrefix},
		{name: "xml namespace bound to other prefix", in: `<message xmlns:x='http://www.w3.org/XML/1998/namespace'/>`, want: CondBadNamespacePrefix},
		{name: "xmlns namespace as default", in: `<message xmlns='http://www.w3.org/2000/xmlns/'/>`, want: CondBadNamespacePrefix},
		{name: "prefix undeclared with empty value", in: `<message xmlns:p=''/>`, want: CondBadNamespacePrefix},
		{name: "stanza too large", in: `<message><body>` + strings.Repeat("x", 200) + `</body></message>`, lim: Limits{MaxStanzaBytes: 100}, want: CondPolicyViolation},
		{name: "stanza too large unterminated", in: `<message><body>` + strings.Repeat("x", 200), lim: Limits{MaxStanzaBytes: 100}, want: CondPolicyViolation},
		{name: "stanza one byte too large", in: `<message>` + strings.Repeat("x", 82) + `</message>`, lim: Limits{MaxStanzaBytes: 100}, want: CondPolicyViolation},
		{name: "too deep", in: strings.Repeat("<a>", 4) + strings.Repeat("</a>", 4), lim: Limits{MaxDepth: 3}, want: CondPolicyViolation},
		{name: "too many attributes", in: `<message a='' b='' c='' d=''/>`, lim: Limits{MaxAttrs: 3}, want: CondPolicyViolation},
		{name: "EOF inside a stanza", in: `<message><body>hi`, want: io.ErrUnexpectedEOF.Error()},
		{name: "EOF between stanzas", in: `<presence/>`, want: io.ErrUnexpectedEOF.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header
			if header == "" {
				header = streamHeader
			}
			in := header + tc.in
			if !strings.HasPrefix(tc.want, "unexpected EOF") {
				in += streamClose
			}
			res := decodeAll(strings.NewReader(in), tc.lim, false)
			if got := condition(res.Err); got != tc.want {
				t.Errorf("Next(%q) = %v, want %s", tc.in, res.Err, tc.want)
			}
		})
	}
}

func TestLimitsAtBoundary(t *testing.T) {
	stanza := `<message>` + strings.Repeat("x", 81) + `</message>` // 100 bytes
	deep := strings.Repeat("<a>", 3) + strings.Repeat("</a>", 3)
	tests := []struct {
		name string
		in   string
		lim  Limits
	}{
		{"exactly MaxStanzaBytes", stanza, Limits{MaxStanzaBytes: len(stanza)}},
		{"exactly MaxDepth", deep, Limits{MaxDepth: 3}},
		{"exactly MaxAttrs", `<message a='' b='' c=''/>`, Limits{MaxAttrs: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := streamHeader + tc.in + tc.in + streamClose
			res := decodeAll(strings.NewReader(in), tc.lim, false)
			if res.Err != io.EOF || len(res.Stanzas) != 2 {
				t.Errorf("Next(%q) with %+v:\n%v\nwant 2 stanzas and io.EOF", tc.in, tc.lim, res)
			}
		})
	}
}

func TestErrorIsSticky(t *testing.T) {
	in := streamHeader + `<message>&nbsp;</message><presence/>`
	d := NewDecoder(strings.NewReader(in), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err1 := d.Next()
	_, err2 := d.Next()
	var e *Error
	if !errors.As(err1, &e) || err2 != err1 {
		t.Fatalf("Next(%q) = %v then %v, want the same *Error twice", in, err1, err2)
	}
	if want := int64(len(streamHeader) + len("<message>")); e.Offset != want {
		t.Errorf("Error.Offset = %d, want %d", e.Offset, want)
	}
}

func TestFramed(t *testing.T) {
	in := `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>` +
		`<message to='a@localhost'><body>x</body></message>` +
		`<message xmlns='jabber:client' to='a@localhost'/>` +
		`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`
	res := decodeAll(strings.NewReader(in), Limits{}, true)
	if res.Err != io.EOF || len(res.Stanzas) != 4 {
		t.Fatalf("framed Next(%q):\n%v\nwant 4 elements and io.EOF", in, res)
	}
	want := []struct {
		kind     Kind
		ns, name string
		hasXMLNS bool
	}{
		{KindOther, NSFraming, "open", true},
		{KindMessage, NSClient, "message", false},
		{KindMessage, NSClient, "message", true},
		{KindOther, NSFraming, "close", true},
	}
	for i, w := range want {
		g := res.Stanzas[i]
		if g.Kind != w.kind || g.NS != w.ns || g.Name != w.name || g.HasXMLNS != w.hasXMLNS {
			t.Errorf("framed Next #%d = %v %s %s HasXMLNS=%v, want %v %s %s %v", i, g.Kind, g.NS, g.Name, g.HasXMLNS, w.kind, w.ns, w.name, w.hasXMLNS)
		}
	}

	errs := []struct {
		name, in string
		want     string
	}{
		{"stream end tag", `</stream:stream>`, CondNotWellFormed},
		{"cut element", `<message>`, io.ErrUnexpectedEOF.Error()},
		{"text", `x`, CondBadFormat},
		{"CDATA", `<![CDATA[x]]>`, CondNotWellFormed},
		{"stream prefix", `<stream:error/>`, CondBadNamespacePrefix},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			res := decodeAll(strings.NewReader(tc.in), Limits{}, true)
			if got := condition(res.Err); got != tc.want {
				t.Errorf("framed Next(%q) = %v, want %s", tc.in, res.Err, tc.want)
			}
		})
	}
}

func TestRestart(t *testing.T) {
	// After SASL success the client sends the new header at once: it is
	// already buffered when Next returns <success/>'s counterpart.
	in := streamHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>` +
		`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.net' version='1.0'>` +
		`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`
	d := NewDecoder(strings.NewReader(in), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	s, err := d.Next()
	if err != nil || string(s.Name) != "auth" {
		t.Fatalf("Next() = %v, want auth", err)
	}
	if d.Buffered() == 0 {
		t.Fatalf("Buffered() = 0, want the next header buffered (reader returns everything at once)")
	}
	if int(d.InputOffset())+d.Buffered() != len(in) {
		t.Errorf("InputOffset() + Buffered() = %d + %d, want %d", d.InputOffset(), d.Buffered(), len(in))
	}
	d.Restart()
	h, err := d.ReadHeader()
	if err != nil || h.To != "example.net" {
		t.Fatalf("ReadHeader() after Restart = %+v, %v, want to=example.net", h, err)
	}
	s, err = d.Next()
	if err != nil || s.Kind != KindIQ {
		t.Fatalf("Next() after Restart = %v, want the bind iq", err)
	}
	if _, err := d.Next(); err != io.ErrUnexpectedEOF {
		t.Errorf("Next() at EOF = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReset(t *testing.T) {
	d := NewDecoder(strings.NewReader(streamHeader+`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>garbage`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	d.Reset(strings.NewReader(streamHeader + `<presence/>` + streamClose))
	if d.Buffered() != 0 || d.InputOffset() != 0 {
		t.Errorf("after Reset Buffered() = %d, InputOffset() = %d, want 0, 0", d.Buffered(), d.InputOffset())
	}
	if _, err := d.ReadHeader(); err != nil {
		t.Fatalf("ReadHeader() after Reset = %v", err)
	}
	if s, err := d.Next(); err != nil || s.Kind != KindPresence {
		t.Fatalf("Next() after Reset = %v, want presence", err)
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("Next() at </stream:stream> = %v, want io.EOF", err)
	}
}

func TestStreamEnd(t *testing.T) {
	tests := []struct {
		name, header, close string
	}{
		{"with whitespace", streamHeader, "</stream:stream \n>"},
		{"other prefix", `<s:stream xmlns:s='http://etherx.jabber.org/streams'>`, "</s:stream>"},
		{"unprefixed", `<stream xmlns='http://etherx.jabber.org/streams'>`, "</stream>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.header + "<a xmlns='urn:a'/>" + tc.close + "<trailing/>"
			d := NewDecoder(strings.NewReader(in), Limits{})
			if _, err := d.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Next(); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Next(); err != io.EOF {
				t.Fatalf("Next(%q) = %v, want io.EOF", in, err)
			}
			if d.Buffered() != len("<trailing/>") {
				t.Errorf("Buffered() = %d after the stream end, want %d", d.Buffered(), len("<trailing/>"))
			}
		})
	}
	d := NewDecoder(strings.NewReader(streamHeader+"</stream:streamx>"), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); condition(err) != CondNotWellFormed {
		t.Errorf("Next(</stream:streamx>) = %v, want %s", err, CondNotWellFormed)
	}
}

func TestEscapedNamespace(t *testing.T) {
	in := `<message xmlns:a='urn:x&amp;y' xmlns:b='urn:x&#38;y'><a:c xmlns='urn:&#x61;'/></message>`
	d := NewFramedDecoder(strings.NewReader(in), Limits{})
	s, err := d.Next()
	if err != nil {
		t.Fatalf("Next(%q) = %v", in, err)
	}
	if c := s.Children[0]; string(c.NS) != "urn:x&y" {
		t.Errorf("Children[0].NS = %q, want %q", c.NS, "urn:x&y")
	}
	in = `<message xmlns:a='urn:x&amp;y' xmlns:b='urn:x&#38;y' a:z='1' b:z='2'/>`
	if _, err := NewFramedDecoder(strings.NewReader(in), Limits{}).Next(); condition(err) != CondNotWellFormed {
		t.Errorf("Next(%q) = %v, want %s (same expanded name)", in, err, CondNotWellFormed)
	}
}

func TestBufferReuse(t *testing.T) {
	// Stanzas bigger than the initial buffer, then small ones: the buffer
	// grows, and is released again once drained.
	big := `<message><body>` + strings.Repeat("y", 100<<10) + `</body></message>`
	var in bytes.Buffer
	in.WriteString(streamHeader)
	for range 3 {
		in.WriteString(big)
		in.WriteString(`<presence/>`)
	}
	in.WriteString(streamClose)
	res := decodeAll(iotest.HalfReader(&in), Limits{}, false)
	if res.Err != io.EOF || len(res.Stanzas) != 6 {
		t.Fatalf("Next over big stanzas: %v, %d stanzas, want io.EOF, 6", res.Err, len(res.Stanzas))
	}
	if res.Stanzas[0].Raw != big {
		t.Errorf("big stanza Raw differs")
	}
}
