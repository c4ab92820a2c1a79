package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
)

var errHeaderRead = errors.New("wire: stream header already read; Restart first")

// ReadHeader reads an optional XML declaration and the stream header.
func (d *Decoder) ReadHeader() (Header, error) {
	switch {
	case d.framed:
		return Header{}, errFramedHeader
	case d.err != nil:
		return Header{}, d.err
	case d.hdrDone:
		return Header{}, errHeaderRead
	}
	for {
		h, st := d.scanHeader()
		switch st {
		case stDone:
			return h, nil
		case stErr:
			return Header{}, d.err
		}
		if err := d.fill(); err != nil {
			if err == io.EOF {
				// A peer that hangs up before sending anything has not
				// sent a broken stream.
				err = io.ErrUnexpectedEOF
				if d.start == d.end && !d.sawDecl {
					err = io.EOF
				}
				d.err = err
			}
			return Header{}, err
		}
	}
}

// scanHeader scans the XML declaration, if any, and the stream header. Each
// is found with findTagEnd (resumable, like a pending tag in a stanza)
// before it is parsed.
func (d *Decoder) scanHeader() (Header, status) {
	for {
		b := d.buf[d.start:d.end]
		if !d.pending {
			i := 0
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			d.start += i
			b = b[i:]
			if len(b) < 2 {
				if len(b) == 1 && b[0] != '<' {
					return Header{}, d.fail(CondNotWellFormed, 0, "expected a stream header")
				}
				return Header{}, stMore
			}
			switch {
			case b[0] != '<', b[1] == '/':
				return Header{}, d.fail(CondNotWellFormed, 0, "expected a stream header")
			case b[1] == '!':
				return Header{}, d.fail(CondRestrictedXML, 0, "comment or document type declaration")
			case b[1] == '?':
				n := min(len(b), 5)
				if d.sawDecl || string(b[:n]) != "<?xml"[:n] ||
					len(b) > 5 && !isSpace(b[5]) && b[5] != '?' {
					return Header{}, d.fail(CondRestrictedXML, 0, "processing instruction")
				}
				if len(b) < 6 {
					return Header{}, stMore
				}
			}
			d.findPos, d.findQ = 1, 0
		}
		e, q, ok := findTagEnd(b, d.findPos, d.findQ)
		if !ok || e >= maxHeaderBytes {
			if len(b) > maxHeaderBytes {
				return Header{}, d.fail(CondPolicyViolation, 0, "stream header too large")
			}
			d.pending = true
			d.findPos, d.findQ = e, q
			return Header{}, stMore
		}
		d.pending = false
		if b[1] != '?' {
			return d.streamHeader(b)
		}
		if b[e] != '>' || b[e-1] != '?' {
			return Header{}, d.fail(CondNotWellFormed, 0, "malformed XML declaration")
		}
		if st := d.xmlDecl(b[5 : e-1]); st != stOK {
			return Header{}, st
		}
		d.start += e + 1
		d.sawDecl = true
	}
}

// xmlDecl checks the body of an XML declaration (XML 1.0 §2.8): version,
// then optionally encoding (UTF-8 only, RFC 6120 §11.6) and standalone.
func (d *Decoder) xmlDecl(body []byte) status {
	want := []string{"version", "encoding", "standalone"}
	seen := 0
	for i := 0; ; {
		j := i
		for j < len(body) && isSpace(body[j]) {
			j++
		}
		if j == len(body) {
			break
		}
		if j == i {
			return d.fail(CondNotWellFormed, 0, "malformed XML declaration")
		}
		name, val, next, ok := pseudoAttr(body, j)
		for ok && seen < len(want) && name != want[seen] {
			if seen == 0 {
				ok = false // version is required and first
			}
			seen++
		}
		if !ok || seen == len(want) {
			return d.fail(CondNotWellFormed, 0, "malformed XML declaration")
		}
		switch seen {
		case 0:
			ok = len(val) > 2 && strings.HasPrefix(val, "1.") && allDigits(val[2:])
		case 1:
			if !strings.EqualFold(val, "UTF-8") {
				return d.fail(CondNotWellFormed, 0, "unsupported encoding "+val)
			}
		case 2:
			ok = val == "yes" || val == "no"
		}
		if !ok {
			return d.fail(CondNotWellFormed, 0, "malformed XML declaration")
		}
		seen++
		i = next
	}
	if seen == 0 {
		return d.fail(CondNotWellFormed, 0, "XML declaration without version")
	}
	return stOK
}

// pseudoAttr parses name S? = S? quoted-value at b[i].
func pseudoAttr(b []byte, i int) (name, val string, next int, ok bool) {
	j := i
	for j < len(b) && b[j] >= 'a' && b[j] <= 'z' {
		j++
	}
	name = string(b[i:j])
	for j < len(b) && isSpace(b[j]) {
		j++
	}
	if j == len(b) || b[j] != '=' {
		return "", "", 0, false
	}
	j++
	for j < len(b) && isSpace(b[j]) {
		j++
	}
	if j == len(b) || b[j] != '\'' && b[j] != '"' {
		return "", "", 0, false
	}
	end := bytes.IndexByte(b[j+1:], b[j])
	if end < 0 {
		return "", "", 0, false
	}
	val = string(b[j+1 : j+1+end])
	return name, val, j + end + 2, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// streamHeader parses the stream header at the start of b (RFC 6120 §4.7).
func (d *Decoder) streamHeader(b []byte) (Header, status) {
	// MaxAttrs is a stanza limit; the header is bounded by its size.
	t, _, st := d.parseTag(b, 0, maxHeaderBytes)
	switch {
	case st == stMore:
		return Header{}, d.fail(CondNotWellFormed, 0, "malformed stream header")
	case st != stOK:
		return Header{}, st
	case t.selfClosed:
		return Header{}, d.fail(CondNotWellFormed, 0, "empty stream element")
	}
	d.ns = d.ns[:0]
	d.scratch = d.scratch[:0]
	var defaultNS []byte
	for k := range d.attrs {
		a := &d.attrs[k]
		st := stOK
		switch {
		case !a.decl:
			continue
		case a.colon >= 0:
			st = d.declare(b, a, a.colon+1, a.nameEnd)
		default:
			if st = d.declare(b, a, a.name, a.name); st == stOK {
				defaultNS = append([]byte{}, d.nsBytes(b, d.ns[len(d.ns)-1].uri)...)
			}
		}
		if st != stOK {
			return Header{}, st
		}
	}
	if len(d.attrs) > 1 && d.dupAttr(b) {
		return Header{}, d.fail(CondNotWellFormed, 0, "duplicate attribute")
	}
	ns, st := d.resolve(b, 1, t.colon, false)
	if st != stOK {
		return Header{}, st
	}
	if t.prefixed > 0 {
		if st := d.resolveAttrs(b, 0, t.prefixed); st != stOK {
			return Header{}, st
		}
	}
	local := b[1:t.qnEnd]
	if t.colon >= 0 {
		local = b[t.colon+1 : t.qnEnd]
	}
	if ns.src == srcDefault || string(local) != "stream" || string(d.nsBytes(b, ns)) != NSStream {
		return Header{}, d.fail(CondInvalidNamespace, 0, "not a stream element in "+NSStream)
	}

	h := Header{NS: string(defaultNS)}
	for k := range d.attrs {
		a := &d.attrs[k]
		v := b[a.val:a.valEnd]
		if a.colon >= 0 {
			if a.ns.src == srcXML && string(b[a.colon+1:a.nameEnd]) == "lang" {
				h.Lang = string(Unescape(v))
			}
			continue
		}
		switch string(b[a.name:a.nameEnd]) {
		case "to":
			h.To = string(Unescape(v))
		case "from":
			h.From = string(Unescape(v))
		case "id":
			h.ID = string(Unescape(v))
		case "version":
			h.Version = string(Unescape(v))
		}
	}
	if h.Version != "" {
		major, minor, ok := strings.Cut(h.Version, ".")
		if !ok || !allDigits(major) || !allDigits(minor) || strings.TrimLeft(major, "0") != "1" {
			return Header{}, d.fail(CondUnsupportedVersion, 0, "unsupported stream version "+h.Version)
		}
	}

	d.streamQN = bytes.Clone(b[1:t.qnEnd])
	if t.colon >= 0 {
		d.streamPfx = d.streamQN[:t.colon-1]
	}
	d.defaultNS = defaultNS
	d.ns = d.ns[:0]
	d.start += t.end
	d.hdrDone = true
	return h, stDone
}
