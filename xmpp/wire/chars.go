package wire

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// Byte classes for the scanner's inner loops. A set bit means "this byte
// needs no further attention in that context", so each hot loop is a single
// table lookup per byte and leaves only the rare bytes to a switch.
const (
	cText      uint16 = 1 << iota // character data: not '<', '&', ']', control or non-ASCII
	cAttr                         // attribute value: not '<', '&', quotes, control or non-ASCII
	cCDATA                        // CDATA section: not ']', control or non-ASCII
	cNameStart                    // ASCII NameStartChar (':' included)
	cName                         // ASCII NameChar
	cSpace                        // XML S: space, tab, CR, LF
	cNCStart                      // ASCII NameStartChar other than ':'
	cNC                           // ASCII NameChar other than ':'
)

// class is read-only after package initialisation.
var class = buildClass()

func buildClass() (t [256]uint16) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = cText | cAttr | cCDATA
	}
	for _, c := range []byte("\t\n\r") {
		t[c] = cText | cAttr | cCDATA | cSpace
	}
	t[' '] |= cSpace
	t['<'] &^= cText | cAttr
	t['&'] &^= cText | cAttr
	t[']'] &^= cText | cCDATA
	t['\''] &^= cAttr
	t['"'] &^= cAttr
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= cNameStart | cName
		t[c-'a'+'A'] |= cNameStart | cName
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= cName
	}
	t['_'] |= cNameStart | cName
	t[':'] |= cNameStart | cName
	t['-'] |= cName
	t['.'] |= cName
	for c := range t {
		if t[c]&cName != 0 && c != ':' {
			t[c] |= cNC
			if t[c]&cNameStart != 0 {
				t[c] |= cNCStart
			}
		}
	}
	return t
}

func isSpace(c byte) bool { return class[c]&cSpace != 0 }

// isChar reports whether r is an XML 1.0 Char (§2.2).
func isChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= utf8.MaxRune
}

// isNameStartRune reports whether r may start a name. Only ASCII names are
// accepted (see doc.go): every XMPP extension uses them, and parsers
// disagree on which non-ASCII characters XML allows in names.
func isNameStartRune(r rune) bool {
	return r < utf8.RuneSelf && class[r]&cNameStart != 0
}

// isNameRune reports whether r may continue a name (ASCII only).
func isNameRune(r rune) bool {
	return r < utf8.RuneSelf && class[r]&cName != 0
}

// isName reports whether b is a Name (colons allowed, as in an entity name).
func isName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); {
		r, n := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(b[i:])
			if n == 1 {
				return false
			}
		}
		if i == 0 && !isNameStartRune(r) || !isNameRune(r) {
			return false
		}
		i += n
	}
	return true
}

// Eight bytes at a time ("SWAR"): for runs of plain ASCII the scanner tests
// a whole word per step. For a byte t, (t-1)&^t has its high bit set iff t
// is zero, and (t-0x20)|t iff t < 0x20 or t >= 0x80; the borrow of a
// subtraction can also flag bytes above a flagged byte, but never below,
// so the lowest flag of a word is always exact.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// textStops flags the bytes of x that character data cannot take without a
// closer look: '<', '&', ']', controls and non-ASCII.
func textStops(x uint64) uint64 {
	lt, amp, rb := x^(ones*'<'), x^(ones*'&'), x^(ones*']')
	return (x - ones*0x20 | x | (lt-ones)&^lt | (amp-ones)&^amp | (rb-ones)&^rb) & highs
}

// attrStops flags '<', '&', quotes, controls and non-ASCII. '&' (0x26) and
// '\” (0x27) differ in the lowest bit only, so one test finds both.
func attrStops(x uint64) uint64 {
	lt, ap, qu := x^(ones*'<'), (x|ones)^(ones*'\''), x^(ones*'"')
	return (x - ones*0x20 | x | (lt-ones)&^lt | (ap-ones)&^ap | (qu-ones)&^qu) & highs
}

// textRun returns the offset of the first byte at or after i that
// character data cannot take without a closer look, or len(b). Tab, newline
// and carriage return stop it too; the caller steps over them.
func textRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := textStops(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(b) && class[b[i]]&cText != 0 && b[i] >= ' ' {
		i++
	}
	return i
}

// attrRun is textRun for attribute values.
func attrRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := attrStops(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(b) && class[b[i]]&cAttr != 0 && b[i] >= ' ' {
		i++
	}
	return i
}
