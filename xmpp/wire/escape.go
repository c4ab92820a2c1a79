package wire

import (
	"bytes"
	"unicode/utf8"
)

// refResult is what parseRef made of the bytes after an '&'.
type refResult uint8

const (
	refOK     refResult = iota
	refMore             // the input ends before the reference does
	refBad              // not a reference at all: not-well-formed
	refEntity           // a well-formed reference to an entity we do not define
)

// maxRefLen bounds a reference, '&' and ';' included. XML puts no bound on
// the leading zeros of a character reference, but an unbounded reference
// would have to be rescanned on every Read of a trickled stream; no real
// client writes one longer than "&#x0001F600;".
const maxRefLen = 32

// parseRef decodes the reference at the start of b (b[0] == '&'): one of the
// five predefined entities or a character reference to an XML Char.
func parseRef(b []byte) (r rune, n int, res refResult) {
	lim := min(len(b), maxRefLen)
	if lim >= 2 && b[1] == '#' {
		i, base := 2, rune(10)
		if i < lim && b[i] == 'x' {
			i, base = 3, 16
		}
		start := i
		for ; i < lim; i++ {
			c := rune(b[i])
			var digit rune
			switch {
			case c >= '0' && c <= '9':
				digit = c - '0'
			case base == 16 && c >= 'a' && c <= 'f':
				digit = c - 'a' + 10
			case base == 16 && c >= 'A' && c <= 'F':
				digit = c - 'A' + 10
			case c == ';' && i > start && isChar(r):
				return r, i + 1, refOK
			default:
				return 0, 0, refBad
			}
			// Saturate so that a long run of digits cannot wrap into a
			// valid code point.
			if r = r*base + digit; r > utf8.MaxRune {
				r = utf8.MaxRune + 1
			}
		}
	} else {
		for i := 1; i < lim; i++ {
			c := b[i]
			if c == ';' {
				switch string(b[1:i]) {
				case "amp":
					return '&', i + 1, refOK
				case "lt":
					return '<', i + 1, refOK
				case "gt":
					return '>', i + 1, refOK
				case "apos":
					return '\'', i + 1, refOK
				case "quot":
					return '"', i + 1, refOK
				}
				if isName(b[1:i]) {
					return 0, 0, refEntity
				}
				return 0, 0, refBad
			}
			if c < utf8.RuneSelf && class[c]&cName == 0 {
				return 0, 0, refBad
			}
		}
	}
	if len(b) >= maxRefLen {
		return 0, 0, refBad
	}
	return 0, 0, refMore
}

// Unescape returns v with the predefined entities and character references
// resolved; it returns v itself when v holds no '&'. A malformed reference
// (which the decoder never accepts) is copied through unchanged.
func Unescape(v []byte) []byte {
	if bytes.IndexByte(v, '&') < 0 {
		return v
	}
	return appendUnescaped(make([]byte, 0, len(v)), v)
}

func appendUnescaped(dst, v []byte) []byte {
	for {
		i := bytes.IndexByte(v, '&')
		if i < 0 {
			return append(dst, v...)
		}
		dst = append(dst, v[:i]...)
		v = v[i:]
		r, n, res := parseRef(v)
		if res != refOK {
			dst = append(dst, '&')
			v = v[1:]
			continue
		}
		dst = utf8.AppendRune(dst, r)
		v = v[n:]
	}
}

// AppendEscaped appends s escaped for use in an attribute value or
// character data (&, <, >, ', "). Tab, newline and carriage return become
// character references so that attribute-value normalisation cannot change
// them; invalid UTF-8 and characters XML cannot carry become U+FFFD, so the
// result is always well-formed.
func AppendEscaped(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		n := 1
		if c < utf8.RuneSelf {
			switch c {
			case '&':
				esc = "&amp;"
			case '<':
				esc = "&lt;"
			case '>':
				esc = "&gt;"
			case '\'':
				esc = "&apos;"
			case '"':
				esc = "&quot;"
			case '\t':
				esc = "&#9;"
			case '\n':
				esc = "&#10;"
			case '\r':
				esc = "&#13;"
			default:
				if c >= 0x20 {
					i++
					continue
				}
				esc = "\uFFFD"
			}
		} else {
			var r rune
			r, n = utf8.DecodeRuneInString(s[i:])
			if !(r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF) {
				i += n
				continue
			}
			esc = "\uFFFD"
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		i += n
		last = i
	}
	return append(dst, s[last:]...)
}
