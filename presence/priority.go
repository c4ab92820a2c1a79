package presence

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"

	"github.com/ringd/ringd/xmpp/wire"
)

var (
	errPriorityValue = errors.New("presence: priority is not an integer from -128 to 127")
	errPriorityTwice = errors.New("presence: more than one priority element")
)

// parsePriority returns the value of the <priority/> child of a presence
// (RFC 6121 §4.7.2.3): 0 when there is none, and an error when its value
// is not an integer from -128 to 127 or when there is more than one. RFC
// 6121 does not say what a server does with an invalid one; it does not
// conform to the schema, which RFC 6120 §8.3.3.1 answers with bad-request.
func parsePriority(st *wire.Stanza) (int, error) {
	var elem []byte
	for i := 0; i < st.NumChildren; i++ {
		ch := st.Children[i]
		if string(ch.Name) != "priority" || string(ch.NS) != string(st.NS) {
			continue
		}
		if elem != nil {
			return 0, errPriorityTwice
		}
		elem = st.Raw[ch.Start:ch.End]
	}
	if unindexedChildren(st) {
		return slowPriority(st)
	}
	if elem == nil {
		return 0, nil
	}
	text, ok := elementText(elem)
	if !ok {
		return slowPriority(st)
	}
	v, ok := parseByte(text)
	if !ok {
		return 0, errPriorityValue
	}
	return v, nil
}

// unindexedChildren reports whether st may have children beyond the
// wire.MaxChildren the decoder indexes.
func unindexedChildren(st *wire.Stanza) bool {
	if st.NumChildren < wire.MaxChildren || st.InnerEnd < 0 {
		return false
	}
	last := st.Children[st.NumChildren-1].End
	return last < st.InnerEnd && bytes.IndexByte(st.Raw[last:st.InnerEnd], '<') >= 0
}

// elementText returns the character data of elem, one complete element,
// with entities resolved; ok is false when it holds markup (a child
// element or CDATA) that needs a real parser.
func elementText(elem []byte) (text []byte, ok bool) {
	var quote byte
	gt := -1
	for i := 1; i < len(elem); i++ {
		c := elem[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			gt = i
		}
		if gt >= 0 {
			break
		}
	}
	if gt < 0 {
		return nil, false
	}
	if elem[gt-1] == '/' {
		return nil, true // <priority/>
	}
	end := bytes.LastIndex(elem, []byte("</"))
	if end < gt {
		return nil, false
	}
	inner := elem[gt+1 : end]
	if bytes.IndexByte(inner, '<') >= 0 {
		return nil, false
	}
	return wire.Unescape(inner), true
}

// slowPriority finds the priority with encoding/xml: for presence with
// more children than the decoder indexes, or a priority holding markup.
// Rare, so it may allocate.
func slowPriority(st *wire.Stanza) (int, error) {
	d := xml.NewDecoder(bytes.NewReader(st.Raw))
	depth := 0
	found := false
	inPriority := false
	bad := false
	var text []byte
	v := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, errPriorityValue // wire accepted it; cannot happen
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if inPriority {
				bad = true // markup inside the priority
			}
			if depth == 2 && t.Name.Local == "priority" && (t.Name.Space == "" || t.Name.Space == string(st.NS)) {
				if found {
					return 0, errPriorityTwice
				}
				found, inPriority, text = true, true, text[:0]
			}
		case xml.CharData:
			if inPriority {
				text = append(text, t...)
			}
		case xml.EndElement:
			if depth == 2 && inPriority {
				inPriority = false
				var ok bool
				if v, ok = parseByte(text); !ok || bad {
					return 0, errPriorityValue
				}
			}
			depth--
		}
	}
	return v, nil
}

// parseByte parses an xs:byte: optional XML whitespace around an optional
// sign and decimal digits, from -128 to 127.
func parseByte(b []byte) (int, bool) {
	b = bytes.Trim(b, " \t\r\n")
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > 128 {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if n > 127 {
		return 0, false
	}
	return n, true
}
