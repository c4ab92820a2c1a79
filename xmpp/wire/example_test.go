package wire_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/ringd/ringd/xmpp/wire"
)

func ExampleDecoder() {
	stream := `<?xml version='1.0'?>` +
		`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>` +
		`<message to='juliet@example.com' type='chat' id='m1'><body>Wherefore art thou?</body></message>` +
		"\n" + // whitespace keepalive
		`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>` +
		`</stream:stream>`
	d := wire.NewDecoder(strings.NewReader(stream), wire.Limits{})
	h, err := d.ReadHeader()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("stream to %s, version %s\n", h.To, h.Version)
	for {
		s, err := d.Next()
		if err == io.EOF {
			fmt.Println("stream closed")
			return
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		p, _ := s.Payload()
		fmt.Printf("%s to=%q id=%s payload {%s}%s\n", s.Kind, s.To, s.ID, p.NS, p.Name)
	}
	// Output:
	// stream to example.com, version 1.0
	// message to="juliet@example.com" id=m1 payload {jabber:client}body
	// iq to="" id=p1 payload {urn:xmpp:ping}ping
	// stream closed
}

func ExampleError() {
	d := wire.NewDecoder(strings.NewReader(
		`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`+
			`<message><body>&nbsp;</body></message>`), wire.Limits{})
	if _, err := d.ReadHeader(); err != nil {
		fmt.Println(err)
		return
	}
	_, err := d.Next()
	fmt.Println(err)
	// Output:
	// wire: restricted-xml at byte 100: reference to an undefined entity
}

func ExampleAppendRewritten() {
	d := wire.NewFramedDecoder(strings.NewReader(
		`<message from='mallory@evil.example' to='juliet@example.com'><body>hi</body></message>`), wire.Limits{})
	s, err := d.Next()
	if err != nil {
		fmt.Println(err)
		return
	}
	out := wire.AppendRewritten(nil, s, "romeo@example.net/orchard",
		[]byte(`<delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z'/>`))
	fmt.Println(string(out))
	// Output:
	// <message from="romeo@example.net/orchard" to='juliet@example.com'><body>hi</body><delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z'/></message>
}

func ExampleNewFramedDecoder() {
	frames := `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>` +
		`<presence/>` +
		`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`
	d := wire.NewFramedDecoder(strings.NewReader(frames), wire.Limits{})
	for {
		s, err := d.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("{%s}%s xmlns=%v\n", s.NS, s.Name, s.HasXMLNS)
	}
	// Output:
	// {urn:ietf:params:xml:ns:xmpp-framing}open xmlns=true
	// {jabber:client}presence xmlns=false
	// {urn:ietf:params:xml:ns:xmpp-framing}close xmlns=true
	// EOF
}

func ExampleUnescape() {
	fmt.Println(string(wire.Unescape([]byte("Romeo &amp; Juliet &#x2764;"))))
	fmt.Println(string(wire.AppendEscaped(nil, `"Romeo" & <Juliet>`)))
	// Output:
	// Romeo & Juliet ❤
	// &quot;Romeo&quot; &amp; &lt;Juliet&gt;
}
