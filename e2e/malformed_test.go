package e2e

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	nsStream       = "http://etherx.jabber.org/streams"
	nsStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
	streamHeader   = "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xml:lang='en'" +
		" xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
	rawTimeout = 10 * time.Second
)

// TestMalformedXML sends XML that is not well-formed on raw TCP
// connections and checks that each gets the not-well-formed stream error
// and is closed (RFC 6120 §4.9.3.13), while a client logged in all along
// keeps working and the server stays up.
func TestMalformedXML(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice}})

	const body = "still here ✓"
	good := startClient(t, "login.py", loginArgs(t, s.C2S, false, alice,
		"--wait-stdin", "--self-message", body, "--ping")...)
	good.WaitEvent(t, Event{Event: "ready"})

	tests := []struct {
		name    string
		garbage string
		want    []string // acceptable stream error conditions
	}{
		{"mismatched-end-tag", "<message><body>x</message>", []string{"not-well-formed"}},
		{"stray-end-tag", "</message>", []string{"not-well-formed"}},
		{"unquoted-attribute", "<message to=bob@localhost><body>x</body></message>", []string{"not-well-formed"}},
		{"invalid-element-name", "<1message><body>x</body></1message>", []string{"not-well-formed"}},
		{"invalid-utf8", "<message><body>\xff\xfe</body></message>", []string{"not-well-formed"}},
		// An undefined entity breaks well-formedness, but RFC 6120 §4.9.3.18
		// also names entity references as restricted XML: either is right.
		{"undefined-entity", "<message><body>&nope;</body></message>", []string{"not-well-formed", "restricted-xml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rawStreamError(t, s.C2S, tc.garbage)
			if !slices.Contains(tc.want, got) {
				t.Errorf("stream error condition: got %q, want %s", got, strings.Join(tc.want, " or "))
			}
		})
	}

	if !s.Running() {
		t.Fatal("ringd exited after the malformed streams")
	}
	good.Send(t, "go")
	good.Finish(t)
	if e := good.MustFind(t, Event{Event: "message", Body: body}); e.From != good.MustFind(t, Event{Event: "session_start"}).JID {
		t.Errorf("self-message from: got %q, want the client's full JID", e.From)
	}
	if _, ok := good.Find(Event{Event: "iq_result", What: "ping"}); !ok {
		// Any answer proves the server still serves; XEP-0199 wants a result.
		t.Errorf("ping: got %v, want a result", good.MustFind(t, Event{What: "ping"}))
	}
}

// rawStreamError opens a stream on addr without TLS, waits for the stream
// features, sends garbage and returns the condition of the stream error
// the server answers with. It fails the test unless the server then closes
// the connection.
func rawStreamError(t *testing.T, addr, garbage string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, rawTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(rawTimeout))
	var received bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("sent: %s%s\nreceived: %s", streamHeader, garbage, received.Bytes())
		}
	}()
	dec := xml.NewDecoder(io.TeeReader(conn, &received))

	if _, err := io.WriteString(conn, streamHeader); err != nil {
		t.Fatal(err)
	}
	if _, err := nextStart(dec, xml.Name{Space: nsStream, Local: "stream"}); err != nil {
		t.Fatalf("waiting for the stream header: %v", err)
	}
	if _, err := nextStart(dec, xml.Name{Space: nsStream, Local: "features"}); err != nil {
		t.Fatalf("waiting for stream features: %v", err)
	}
	if err := dec.Skip(); err != nil {
		t.Fatalf("reading stream features: %v", err)
	}
	if _, err := io.WriteString(conn, garbage); err != nil {
		t.Fatal(err)
	}

	start, err := nextStart(dec, xml.Name{Space: nsStream, Local: "error"})
	if err != nil {
		t.Fatalf("waiting for <stream:error>: %v", err)
	}
	var se struct {
		Children []struct {
			XMLName xml.Name
		} `xml:",any"`
	}
	if err := dec.DecodeElement(&se, &start); err != nil {
		t.Fatalf("reading <stream:error>: %v", err)
	}
	condition := ""
	for _, c := range se.Children {
		if c.XMLName.Space == nsStreamErrors && c.XMLName.Local != "text" {
			condition = c.XMLName.Local
		}
	}

	// The server must close the stream and the connection (RFC 6120 §4.9.1.1).
	_, err = io.Copy(io.Discard, io.TeeReader(conn, &received))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("connection still open %v after the stream error, want it closed", rawTimeout)
	}
	return condition
}

// nextStart reads tokens until the start element name, skipping anything
// else at any depth (the XML declaration, whitespace, other elements).
func nextStart(dec *xml.Decoder, name xml.Name) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name == name {
			return se, nil
		}
	}
}
