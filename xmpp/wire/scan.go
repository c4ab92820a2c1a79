package wire

import "unicode/utf8"

const cdataOpen = "<![CDATA["

// scanElem advances through the top-level element at the front of b,
// resuming where the previous call stopped. On stDone it returns the
// element's length.
//
// Every token is either scanned incrementally (character data, CDATA) or
// bounded (references, "]]>", "<![CDATA["), or is a tag: a tag that is cut
// off by the end of the buffer is parsed once, then only findTagEnd runs
// over newly read bytes until its '>' arrives, and it is parsed again. So
// each byte is looked at a bounded number of times however the input is
// chunked.
func (d *Decoder) scanElem(b []byte) (int, status) {
	if d.pending {
		i, q, ok := findTagEnd(b, d.findPos, d.findQ)
		if !ok {
			d.findPos, d.findQ = i, q
			return 0, stMore
		}
		d.pending = false
	}
	p := d.pos
	var st status
	if d.cdata {
		if p, st = d.scanCDATA(b, p); st != stOK {
			d.pos = p
			return 0, st
		}
	}
	for {
		if p = textRun(b, p); p == len(b) {
			d.pos = p
			return 0, stMore
		}
		n, st := 0, stOK
		switch c := b[p]; {
		case c == '\n' || c == '\t' || c == '\r':
			n = 1
		case c == '<':
			if p, st = d.markup(b, p); st == stOK {
				continue
			}
			if st == stDone {
				return p, st
			}
		case c == '&':
			n, st = d.ref(b, p)
		case c == ']':
			n, st = d.bracket(b, p)
		case c >= utf8.RuneSelf:
			n, st = d.char(b, p)
		default:
			st = d.fail(CondNotWellFormed, p, "illegal character")
		}
		if st != stOK {
			d.pos = p
			return 0, st
		}
		p += n
	}
}

// markup handles the '<' at b[p]. It returns where to continue, or on
// stMore where to resume.
func (d *Decoder) markup(b []byte, p int) (int, status) {
	if len(b)-p < 2 {
		return p, stMore
	}
	switch b[p+1] {
	case '/':
		return d.endTag(b, p)
	case '!':
		return d.bang(b, p)
	case '?':
		return p, d.fail(CondRestrictedXML, p, "processing instruction")
	}
	return d.startTag(b, p)
}

// bang handles "<!": only a CDATA section is allowed in a stream.
func (d *Decoder) bang(b []byte, p int) (int, status) {
	n := min(len(b)-p, len(cdataOpen))
	if string(b[p:p+n]) != cdataOpen[:n] {
		if c := b[p+2]; c == '-' || c == 'D' {
			return p, d.fail(CondRestrictedXML, p, "comment or document type declaration")
		}
		return p, d.fail(CondNotWellFormed, p, "invalid markup after '<!'")
	}
	if n < len(cdataOpen) {
		return p, stMore
	}
	d.cdata = true
	return d.scanCDATA(b, p+len(cdataOpen))
}

// scanCDATA scans CDATA content from b[p] through "]]>".
func (d *Decoder) scanCDATA(b []byte, p int) (int, status) {
	for {
		for p < len(b) && class[b[p]]&cCDATA != 0 {
			p++
		}
		if p == len(b) {
			return p, stMore
		}
		switch c := b[p]; {
		case c == ']':
			if len(b)-p < 3 {
				return p, stMore
			}
			if b[p+1] == ']' && b[p+2] == '>' {
				d.cdata = false
				return p + 3, stOK
			}
			p++
		case c >= utf8.RuneSelf:
			n, st := d.char(b, p)
			if st != stOK {
				return p, st
			}
			p += n
		default:
			return p, d.fail(CondNotWellFormed, p, "illegal character")
		}
	}
}

// bracket checks a ']' in character data, where "]]>" is not allowed.
func (d *Decoder) bracket(b []byte, p int) (int, status) {
	if len(b)-p < 3 {
		return 0, stMore
	}
	if b[p+1] == ']' && b[p+2] == '>' {
		return 0, d.fail(CondNotWellFormed, p, "']]>' in character data")
	}
	return 1, stOK
}

// char validates the non-ASCII character at b[i] and returns its length.
func (d *Decoder) char(b []byte, i int) (int, status) {
	if !utf8.FullRune(b[i:]) {
		return 0, stMore
	}
	r, n := utf8.DecodeRune(b[i:])
	if n == 1 {
		return 0, d.fail(CondNotWellFormed, i, "invalid UTF-8")
	}
	if r == 0xFFFE || r == 0xFFFF {
		return 0, d.fail(CondNotWellFormed, i, "illegal character")
	}
	return n, stOK
}

// ref validates the reference at b[i] and returns its length.
func (d *Decoder) ref(b []byte, i int) (int, status) {
	_, n, res := parseRef(b[i:])
	switch res {
	case refOK:
		return n, stOK
	case refMore:
		return 0, stMore
	case refEntity:
		return 0, d.fail(CondRestrictedXML, i, "reference to an undefined entity")
	}
	return 0, d.fail(CondNotWellFormed, i, "malformed reference")
}

// qname scans a qualified name (Namespaces in XML §4) starting at b[i] and
// returns its end and the offset of its colon (-1 if none).
func (d *Decoder) qname(b []byte, i int) (end, colon int, st status) {
	start := i
	colon = -1
	// Fast path: ASCII NCName, optionally prefixed, then an ASCII byte
	// that ends it.
	if i < len(b) && class[b[i]]&cNCStart != 0 {
		i++
		for i < len(b) && class[b[i]]&cNC != 0 {
			i++
		}
		if i+1 < len(b) && b[i] == ':' && class[b[i+1]]&cNCStart != 0 {
			colon = i
			i += 2
			for i < len(b) && class[b[i]]&cNC != 0 {
				i++
			}
		}
		if i < len(b) && b[i] < utf8.RuneSelf && b[i] != ':' {
			return i, colon, stOK
		}
		i, colon = start, -1
	}
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if class[c]&cName == 0 {
				break
			}
			if c == ':' {
				if colon >= 0 || i == start {
					return i, colon, d.fail(CondNotWellFormed, i, "malformed qualified name")
				}
				colon = i
			} else if (i == start || i == colon+1) && class[c]&cNameStart == 0 {
				return i, colon, d.fail(CondNotWellFormed, i, "invalid name")
			}
			i++
			continue
		}
		if !utf8.FullRune(b[i:]) {
			return i, colon, stMore
		}
		r, n := utf8.DecodeRune(b[i:])
		if n == 1 || (i == start || i == colon+1) && !isNameStartRune(r) || !isNameRune(r) {
			return i, colon, d.fail(CondNotWellFormed, i, "invalid name")
		}
		i += n
	}
	if i == len(b) {
		return i, colon, stMore
	}
	if i == start || colon == i-1 {
		return i, colon, d.fail(CondNotWellFormed, i, "missing or malformed name")
	}
	return i, colon, stOK
}

// findTagEnd looks for the '>' that ends a tag, from b[i] with quote state
// q (the quote of the attribute value being scanned, or 0). It also stops
// at any '<', which cannot occur in a well-formed tag, so that the parser
// reports the error without waiting for more input.
func findTagEnd(b []byte, i int, q byte) (int, byte, bool) {
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '<':
			return i, q, true
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '>':
			return i, 0, true
		case c == '\'' || c == '"':
			q = c
		}
	}
	return i, q, false
}

// tagMore marks the tag at b[p] as pending: its end is not buffered yet.
func (d *Decoder) tagMore(b []byte, p int, q byte) (int, status) {
	d.pending = true
	d.findPos, d.findQ = len(b), q
	return p, stMore
}

// endTag matches the end tag at b[p] against the innermost open element.
func (d *Decoder) endTag(b []byte, p int) (int, status) {
	f := &d.stack[len(d.stack)-1]
	qn := b[f.qn:f.qnEnd]
	i := p + 2
	n := min(len(b)-i, len(qn))
	if string(b[i:i+n]) != string(qn[:n]) {
		return p, d.fail(CondNotWellFormed, p, "end tag does not match start tag")
	}
	i += len(qn)
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) {
		return d.tagMore(b, p, 0)
	}
	if b[i] != '>' {
		return p, d.fail(CondNotWellFormed, i, "end tag does not match start tag")
	}
	i++
	d.ns = d.ns[:f.nsMark]
	if f.kid >= 0 {
		d.kids[f.kid].end = i
	}
	d.stack = d.stack[:len(d.stack)-1]
	if len(d.stack) == 0 {
		d.top.innerEnd = p
		return i, stDone
	}
	return i, stOK
}

// tag is a parsed start tag; its attributes are in d.attrs.
type tag struct {
	end        int // just past '>'
	qnEnd      int
	colon      int
	selfClosed bool
	decls      int // xmlns and xmlns:p attributes
	prefixed   int // other prefixed attributes
}

// startTag parses and opens the element whose start tag is at b[p].
func (d *Decoder) startTag(b []byte, p int) (int, status) {
	t, q, st := d.parseTag(b, p, d.lim.MaxAttrs)
	switch st {
	case stMore:
		return d.tagMore(b, p, q)
	case stOK:
		return d.openElem(b, p, t)
	}
	return p, st
}

// parseTag parses the start tag at b[p] into t and d.attrs. On stMore, q is
// the quote of the attribute value it was inside, if any.
func (d *Decoder) parseTag(b []byte, p, maxAttrs int) (t tag, q byte, st status) {
	i, colon, st := d.qname(b, p+1)
	if st != stOK {
		return t, 0, st
	}
	t.qnEnd, t.colon = i, colon
	d.attrs = d.attrs[:0]
	for {
		ws := i
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			return t, 0, stMore
		}
		switch b[i] {
		case '>':
			t.end = i + 1
			return t, 0, stOK
		case '/':
			if i+1 == len(b) {
				return t, 0, stMore
			}
			if b[i+1] != '>' {
				return t, 0, d.fail(CondNotWellFormed, i, "expected '>' after '/'")
			}
			t.end, t.selfClosed = i+2, true
			return t, 0, stOK
		}
		if i == ws {
			return t, 0, d.fail(CondNotWellFormed, i, "missing whitespace before attribute")
		}
		n := len(d.attrs)
		if n >= maxAttrs {
			return t, 0, d.fail(CondPolicyViolation, i, "too many attributes")
		}
		// Filled in place: copying a finished attr into the slice costs
		// more than all the scanning of a short attribute.
		if n == cap(d.attrs) {
			d.attrs = append(d.attrs, attr{})
		}
		d.attrs = d.attrs[:n+1]
		a := &d.attrs[n]
		*a = attr{ws: ws, name: i}
		if i, a.colon, st = d.qname(b, i); st != stOK {
			return t, 0, st
		}
		a.nameEnd = i
		switch {
		case a.colon < 0:
			a.decl = i-a.name == 5 && string(b[a.name:i]) == "xmlns"
		case a.colon-a.name == 5 && string(b[a.name:a.colon]) == "xmlns":
			a.decl = true
		default:
			t.prefixed++
		}
		if a.decl {
			t.decls++
		}
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			return t, 0, stMore
		}
		if b[i] != '=' {
			return t, 0, d.fail(CondNotWellFormed, i, "attribute without a value")
		}
		i++
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			return t, 0, stMore
		}
		q = b[i]
		if q != '\'' && q != '"' {
			return t, 0, d.fail(CondNotWellFormed, i, "unquoted attribute value")
		}
		i++
		a.val = i
		for {
			if i = attrRun(b, i); i == len(b) {
				return t, q, stMore
			}
			c := b[i]
			if c == q {
				break
			}
			n := 1
			switch {
			case c == '\'' || c == '"':
			case c == '\n' || c == '\t' || c == '\r':
				a.space = true
			case c == '&':
				n, st = d.ref(b, i)
				a.amp = true
			case c == '<':
				st = d.fail(CondNotWellFormed, i, "'<' in attribute value")
			case c >= utf8.RuneSelf:
				n, st = d.char(b, i)
			default:
				st = d.fail(CondNotWellFormed, i, "illegal character")
			}
			if st != stOK {
				return t, q, st
			}
			i += n
		}
		a.valEnd = i
		i++
	}
}
