package main

import (
	"strings"
	"testing"
)

func TestParseElement(t *testing.T) {
	const features = `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>` +
		`<mechanism>PLAIN</mechanism></mechanisms><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/>` +
		`<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>`
	el, err := parseElement([]byte(features), streamScope())
	if err != nil {
		t.Fatalf("parseElement(features): %v", err)
	}
	if el.Space != nsStream || el.Local != "features" {
		t.Errorf("root = {%s}%s, want {%s}features", el.Space, el.Local, nsStream)
	}
	mechs := el.Child(nsSASL, "mechanisms")
	if mechs == nil || len(mechs.Children) != 2 || mechs.Children[0].Text != "SCRAM-SHA-1" || mechs.Children[1].Space != nsSASL {
		t.Fatalf("mechanisms = %+v, want SCRAM-SHA-1 and PLAIN, inheriting the SASL namespace", mechs)
	}
	if el.Child(nsBind, "bind") == nil {
		t.Error("no bind feature (double-quoted xmlns)")
	}
	if s := el.Child(nsSession, "session"); s == nil || s.Child(nsSession, "optional") == nil {
		t.Error("no optional session feature")
	}

	const iq = `<iq type="result" id='a&amp;b' to='x@y/&#x72;&#101;s'><query xmlns='jabber:iq:roster'>` +
		`<item jid='bench1@localhost' subscription='both' name='&lt;1&gt; &quot;q&quot; &apos;'/>` +
		`<p:x xmlns:p='urn:p'><p:y>t<![CDATA[<raw>]]>u</p:y></p:x></query></iq>`
	el, err = parseElement([]byte(iq), streamScope())
	if err != nil {
		t.Fatalf("parseElement(iq): %v", err)
	}
	if got := el.Attr("id"); got != "a&b" {
		t.Errorf("id = %q, want a&b", got)
	}
	if got := el.Attr("to"); got != "x@y/res" {
		t.Errorf("to = %q, want x@y/res (character references)", got)
	}
	q := el.Child(nsRoster, "query")
	if q == nil {
		t.Fatal("no roster query")
	}
	if got := q.Child("", "item").Attr("name"); got != `<1> "q" '` {
		t.Errorf("item name = %q", got)
	}
	y := q.Child("urn:p", "x").Child("urn:p", "y")
	if y == nil || y.Text != "t<raw>u" {
		t.Errorf("prefixed child text = %+v, want t<raw>u", y)
	}
	if el.Space != nsClient {
		t.Errorf("iq namespace = %q, want jabber:client by default", el.Space)
	}
}

func TestParseElementErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"mismatched close", `<a><b></a></b>`, "does not match"},
		{"unbound prefix", `<q:a/>`, "unbound prefix"},
		{"unquoted attribute", `<a x=1/>`, "unquoted"},
		{"unterminated value", `<a x='1/>`, "unterminated"},
		{"unknown entity", `<a>&nbsp;</a>`, "bad entity"},
		{"two roots", `<a/><b/>`, "more than one root"},
		{"incomplete", `<a><b/>`, "incomplete"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseElement([]byte(tc.in), streamScope())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseElement(%q) error = %v, want one containing %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestStartTagAttr(t *testing.T) {
	tests := []struct{ raw, name, want string }{
		{`<message from='a@b/c' type='chat'><body type='x'/></message>`, "type", "chat"},
		{`<message from="a@b/c" xtype='no' type="error">`, "type", "error"},
		{`<presence from='a@b/c'><show>away</show></presence>`, "type", ""},
		{`<iq id='1' type='get'/>`, "id", "1"},
		{`<message mytype='x'>`, "type", ""},
	}
	for _, tc := range tests {
		if got := string(startTagAttr([]byte(tc.raw), tc.name)); got != tc.want {
			t.Errorf("startTagAttr(%q, %q) = %q, want %q", tc.raw, tc.name, got, tc.want)
		}
	}
}

func TestChildText(t *testing.T) {
	tests := []struct{ raw, name, want string }{
		{`<message><body>hi</body></message>`, "body", "hi"},
		{`<message><bodyx>no</bodyx><body xml:lang='en'>yes</body></message>`, "body", "yes"},
		{`<message><body/></message>`, "body", ""},
		{`<presence><status>rb 1</status><priority>1</priority></presence>`, "status", "rb 1"},
		{`<message><subject>x</subject></message>`, "body", ""},
	}
	for _, tc := range tests {
		if got := string(childText([]byte(tc.raw), tc.name)); got != tc.want {
			t.Errorf("childText(%q, %q) = %q, want %q", tc.raw, tc.name, got, tc.want)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	got := string(appendEscaped([]byte("x"), `a<b>&'"c`))
	if want := `xa&lt;b&gt;&amp;&apos;&quot;c`; got != want {
		t.Errorf("appendEscaped = %q, want %q", got, want)
	}
	back, err := unescape([]byte(got[1:]))
	if err != nil || back != `a<b>&'"c` {
		t.Errorf("unescape(appendEscaped(s)) = %q, %v", back, err)
	}
}
