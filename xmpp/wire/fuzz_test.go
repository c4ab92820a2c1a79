package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// The fuzz tests use encoding/xml as the oracle. The decoder is stricter
// than encoding/xml on purpose (encoding/xml does not check namespace
// prefixes, duplicate attributes, the whitespace between attributes, name
// characters beyond ASCII, or references to surrogates), so only one
// direction is checked: whatever the decoder accepts, encoding/xml must
// accept too, with the same names. There is no exception to that rule.

// fuzzLimits keep the fuzzers fast while still exercising the limits.
var fuzzLimits = Limits{MaxStanzaBytes: 16 << 10, MaxDepth: 16, MaxAttrs: 16}

// oracleWrap opens a root element declaring what the fuzz stream header
// declares, so that a stanza's bytes can be parsed on their own.
const oracleWrap = `<wrap xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// xmlElement is what encoding/xml makes of a top-level element.
type xmlElement struct {
	name     xml.Name
	attrs    []xml.Attr
	children []xml.Name
}

// parseOracle parses one element with encoding/xml in strict mode.
func parseOracle(raw []byte) (xmlElement, error) {
	var el xmlElement
	dec := xml.NewDecoder(io.MultiReader(strings.NewReader(oracleWrap), bytes.NewReader(raw), strings.NewReader("</wrap>")))
	depth, tops := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if tops != 1 {
				return el, errors.New("not exactly one element")
			}
			return el, nil
		}
		if err != nil {
			return el, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case 2:
				tops++
				el.name = tok.Name
				el.attrs = tok.Copy().Attr
			case 3:
				el.children = append(el.children, tok.Name)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 1 {
				return el, errors.New("text next to the element")
			}
		default:
			return el, errors.New("restricted token accepted")
		}
	}
}

// checkPrefixes is a second, independent implementation of the namespace
// rules the decoder enforces (see the package doc): every prefix bound
// inside the element itself, except the stream prefix on the top-level
// name; no attribute twice by qualified or expanded name. encoding/xml
// does not check these, so without it the fuzzer could not see a scoping
// bug.
func checkPrefixes(raw []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	var scopes []map[string]string
	lookup := func(p string) (string, bool) {
		for i := len(scopes) - 1; i >= 0; i-- {
			if u, ok := scopes[i][p]; ok {
				return u, true
			}
		}
		return "", false
	}
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			scope := map[string]string{}
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" {
					scope[a.Name.Local] = a.Value
				}
			}
			scopes = append(scopes, scope)
			if p := tok.Name.Space; p != "" && p != "xml" {
				if _, ok := lookup(p); !ok && !(p == "stream" && len(scopes) == 1) {
					return fmt.Errorf("element prefix %q unbound", p)
				}
			}
			seen := map[xml.Name]bool{}
			for _, a := range tok.Attr {
				if seen[a.Name] {
					return fmt.Errorf("attribute %v twice", a.Name)
				}
				seen[a.Name] = true
				if p := a.Name.Space; p != "" && p != "xml" && p != "xmlns" {
					u, ok := lookup(p)
					if !ok {
						return fmt.Errorf("attribute prefix %q unbound", p)
					}
					expanded := xml.Name{Space: "{" + u + "}", Local: a.Name.Local}
					if seen[expanded] {
						return fmt.Errorf("attribute {%s}%s twice", u, a.Name.Local)
					}
					seen[expanded] = true
				}
			}
		case xml.EndElement:
			scopes = scopes[:len(scopes)-1]
		}
	}
}

// checkOracle fails t if encoding/xml disagrees about an accepted element.
func checkOracle(t *testing.T, s *Stanza) {
	t.Helper()
	el, err := parseOracle(s.Raw)
	if err != nil {
		t.Fatalf("decoder accepted %q, encoding/xml: %v", s.Raw, err)
	}
	if err := checkPrefixes(s.Raw); err != nil {
		t.Fatalf("decoder accepted %q: %v", s.Raw, err)
	}
	if el.name.Local != string(s.Name) || el.name.Space != string(s.NS) {
		t.Fatalf("decoder accepted %q as {%s}%s, encoding/xml reads {%s}%s", s.Raw, s.NS, s.Name, el.name.Space, el.name.Local)
	}
	if n := min(len(el.children), MaxChildren); n != s.NumChildren {
		t.Fatalf("decoder found %d children in %q, encoding/xml %d", s.NumChildren, s.Raw, len(el.children))
	}
	for i := 0; i < s.NumChildren; i++ {
		c := s.Children[i]
		if el.children[i].Local != string(c.Name) || el.children[i].Space != string(c.NS) {
			t.Fatalf("child %d of %q is {%s}%s, encoding/xml reads %v", i, s.Raw, c.NS, c.Name, el.children[i])
		}
		if r := s.Raw[c.Start:c.End]; r[0] != '<' || r[len(r)-1] != '>' {
			t.Fatalf("child %d of %q spans %q", i, s.Raw, r)
		}
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(chat575))
	f.Fuzz(func(t *testing.T, in []byte) {
		doc := []byte(streamHeader + string(in) + streamClose)
		d := NewDecoder(bytes.NewReader(doc), fuzzLimits)
		if _, err := d.ReadHeader(); err != nil {
			t.Fatalf("ReadHeader() = %v", err)
		}
		var stanzas []got
		var err error
		for {
			var s *Stanza
			if s, err = d.Next(); err != nil {
				break
			}
			stanzas = append(stanzas, snapshot(s))
			checkOracle(t, s)
			if s.InnerEnd >= 0 && string(s.Raw[s.InnerEnd:s.InnerEnd+2]) != "</" ||
				s.FromStart >= 0 && !bytes.HasPrefix(bytes.TrimLeft(s.Raw[s.FromStart:s.FromEnd], " \t\r\n"), []byte("from")) {
				t.Fatalf("Next(%q): offsets InnerEnd=%d FromStart=%d FromEnd=%d are off", s.Raw, s.InnerEnd, s.FromStart, s.FromEnd)
			}
			// The bytes must stand alone: forwarded into another stream they
			// may rely on nothing from this stream's header but the default
			// namespace (the framed decoder's default is the same).
			if !bytes.HasPrefix(s.Raw, []byte("<stream:")) {
				alone, err := NewFramedDecoder(bytes.NewReader(s.Raw), fuzzLimits).Next()
				if err != nil || snapshot(alone) != stanzas[len(stanzas)-1] {
					t.Fatalf("Next(%q) alone = %v, want the same stanza as in the stream", s.Raw, err)
				}
			}
		}
		whole := result{Stanzas: stanzas, Err: err, Consumed: d.InputOffset()}
		var e *Error
		if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &e) {
			t.Fatalf("Next(%q) = %v, want *Error, io.EOF or io.ErrUnexpectedEOF", in, err)
		}
		if err == io.EOF {
			// The decoder accepted the whole stream: so must encoding/xml.
			if xerr := parseDocument(string(doc[:whole.Consumed])); xerr != nil {
				t.Fatalf("decoder accepted %q, encoding/xml: %v", doc[:whole.Consumed], xerr)
			}
		}

		// Resumability: any chunking gives the same result.
		for _, chunk := range []int{1, 3, 64} {
			_, split := decodeFuzz(newChunkReader(doc, uint64(len(in)), chunk))
			split.Header = Header{}
			if !equalResults(split, whole) {
				t.Fatalf("Next(%q) read in chunks of up to %d =\n%v\nwant\n%v", in, chunk, split, whole)
			}
		}
	})
}

func decodeFuzz(r io.Reader) (Header, result) {
	res := decodeAll(r, fuzzLimits, false)
	return res.Header, res
}

func FuzzRewrite(f *testing.F) {
	f.Add([]byte(chat575), "romeo@montague.example/orchard", []byte(`<delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z'/>`))
	f.Fuzz(func(t *testing.T, stanza []byte, from string, insert []byte) {
		s, err := NewFramedDecoder(bytes.NewReader(stanza), fuzzLimits).Next()
		if err != nil {
			return
		}
		if !validInsert(insert) {
			insert = nil
		}
		before := snapshot(s)
		out := AppendRewritten(nil, s, from, insert)

		lim := Limits{MaxStanzaBytes: 2 * len(out), MaxDepth: fuzzLimits.MaxDepth, MaxAttrs: fuzzLimits.MaxAttrs + 1}
		s2, err := NewFramedDecoder(bytes.NewReader(out), lim).Next()
		if err != nil {
			t.Fatalf("AppendRewritten(%q, %q, %q) = %q, not accepted: %v", stanza, from, insert, out, err)
		}
		if len(s2.Raw) != len(out) {
			t.Fatalf("AppendRewritten(%q, %q, %q) = %q: decoder reads only %q", stanza, from, insert, out, s2.Raw)
		}
		wantFrom := string(Unescape(AppendEscaped(nil, from)))
		after := snapshot(s2)
		if after.Name != before.Name || after.NS != before.NS || after.To != before.To || after.ID != before.ID || after.Type != before.Type {
			t.Fatalf("AppendRewritten(%q, %q, %q) = %q changed the stanza:\n%+v\nwas\n%+v", stanza, from, insert, out, after, before)
		}
		if from == "" && s2.From != nil || from != "" && string(Unescape(s2.From)) != wantFrom {
			t.Fatalf("AppendRewritten(%q, %q, %q) = %q: From = %q, want %q", stanza, from, insert, out, s2.From, wantFrom)
		}

		el, err := parseOracle(out)
		if err != nil {
			t.Fatalf("AppendRewritten(%q, %q, %q) = %q, encoding/xml: %v", stanza, from, insert, out, err)
		}
		froms := 0
		for _, a := range el.attrs {
			if a.Name.Space == "" && a.Name.Local == "from" {
				froms++
				if a.Value != wantFrom {
					t.Fatalf("AppendRewritten(%q, %q, %q) = %q: encoding/xml reads from=%q, want %q", stanza, from, insert, out, a.Value, wantFrom)
				}
			}
		}
		if want := min(len(from), 1); froms != want {
			t.Fatalf("AppendRewritten(%q, %q, %q) = %q has %d from attributes, want %d", stanza, from, insert, out, froms, want)
		}
	})
}

// validInsert reports whether insert is whole elements (and whitespace)
// that the decoder accepts on their own, as AppendRewritten requires.
func validInsert(insert []byte) bool {
	if len(insert) == 0 {
		return false
	}
	lim := fuzzLimits
	lim.MaxDepth--
	d := NewFramedDecoder(bytes.NewReader(insert), lim)
	for {
		if _, err := d.Next(); err != nil {
			return err == io.EOF
		}
	}
}

// parseDocument parses a whole document with encoding/xml in strict mode.
func parseDocument(doc string) error {
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		if _, err := dec.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}
