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
	cText      uint8 = 1 << iota // character data: not '<', '&', ']', control or non-ASCII
	cAttr                        // attribute value: not '<', '&', quotes, control or non-ASCII
	cCDATA                       // CDATA section: not ']', control or non-ASCII
	cNameStart                   // ASCII NameStartChar (':' included)
	cName                        // ASCII NameChar
	cSpace                       // XML S: space, tab, CR, LF
)

// class is read-only after package initialisation.
var class = buildClass()

func buildClass() (t [256]uint8) {
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

// isNameStartRune implements NameStartChar of XML 1.0 fifth edition (§2.3).
func isNameStartRune(r rune) bool {
	if r < utf8.RuneSelf {
		return class[r]&cNameStart != 0
	}
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

// isNameRune implements NameChar of XML 1.0 fifth edition (§2.3).
func isNameRune(r rune) bool {
	if r < utf8.RuneSelf {
		return class[r]&cName != 0
	}
	return isNameStartRune(r) || r == 0xB7 || r >= 0x300 && r <= 0x36F || r >= 0x203F && r <= 0x2040
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
// a whole word per step. lowBytes(x, n) flags each byte of x below n, and
// may also flag bytes above a flagged byte (the borrow carries upwards), so
// the lowest flag is always exact.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func lowBytes(x uint64, n byte) uint64 { return (x - ones*uint64(n)) &^ x & highs }

func zeroBytes(x uint64) uint64 { return (x - ones) &^ x & highs }

// stops flags the bytes of x that are controls, non-ASCII, or equal to one
// of a, b, c.
func stops(x uint64, a, b, c byte) uint64 {
	return lowBytes(x, 0x20) | x&highs |
		zeroBytes(x^(ones*uint64(a))) | zeroBytes(x^(ones*uint64(b))) | zeroBytes(x^(ones*uint64(c)))
}

// textRun returns the offset of the first byte at or after i that
// character data cannot take without a closer look ('<', '&', ']',
// controls, non-ASCII), or len(b).
func textRun(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := stops(binary.LittleEndian.Uint64(b[i:]), '<', '&', ']'); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			if class[b[i]]&cText == 0 {
				return i
			}
			i++ // tab, newline, carriage return
			continue
		}
		i += 8
	}
	for i < len(b) && class[b[i]]&cText != 0 {
		i++
	}
	return i
}

// attrRun is textRun for attribute values: it stops at '<', '&', quotes,
// controls and non-ASCII.
func attrRun(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := stops(x, '<', '&', '\'') | zeroBytes(x^(ones*'"')); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			if class[b[i]]&cAttr == 0 {
				return i
			}
			i++
			continue
		}
		i += 8
	}
	for i < len(b) && class[b[i]]&cAttr != 0 {
		i++
	}
	return i
}
