package wire

import (
	"math/rand/v2"
	"testing"
)

// The SWAR scanners decide what the decoder looks at; a byte they skip by
// mistake would be accepted unchecked. Compare them with the byte loop they
// replace, for every byte value at every offset of a word and across word
// boundaries, and on random input.
func TestRuns(t *testing.T) {
	ref := func(b []byte, i int, cls uint16) int {
		for i < len(b) && class[b[i]]&cls != 0 && b[i] >= ' ' {
			i++
		}
		return i
	}
	check := func(b []byte, i int) {
		t.Helper()
		if got, want := textRun(b, i), ref(b, i, cText); got != want {
			t.Fatalf("textRun(%q, %d) = %d, want %d", b, i, got, want)
		}
		if got, want := attrRun(b, i), ref(b, i, cAttr); got != want {
			t.Fatalf("attrRun(%q, %d) = %d, want %d", b, i, got, want)
		}
	}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := make([]byte, n)
				for i := range b {
					b[i] = 'a'
				}
				b[pos] = byte(c)
				for start := 0; start <= pos; start++ {
					check(b, start)
				}
				// A second stop after the first must not hide it.
				if pos+1 < n {
					b[pos+1] = '<'
					check(b, 0)
				}
			}
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab<&]'\"\t\n\r\x00\x1f\x7f\x80\xff ")
	for range 100000 {
		b := make([]byte, rnd.IntN(40))
		for i := range b {
			if rnd.IntN(4) == 0 {
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			} else {
				b[i] = byte(' ' + rnd.IntN(95))
			}
		}
		check(b, rnd.IntN(len(b)+1))
	}
}

func TestNameRunes(t *testing.T) {
	tests := []struct {
		r           rune
		start, name bool
	}{
		{'a', true, true},
		{':', true, true},
		{'_', true, true},
		{'-', false, true},
		{'.', false, true},
		{'7', false, true},
		{0xB7, false, false},   // extender: XML allows it, ringd does not
		{0xC0, false, false},   // Latin letter
		{0x4E00, false, false}, // CJK ideograph
		{0x10000, false, false},
		{0xFFFE, false, false},
		{0xF0000, false, false},
	}
	for _, tc := range tests {
		if got := isNameStartRune(tc.r); got != tc.start {
			t.Errorf("isNameStartRune(%U) = %v, want %v", tc.r, got, tc.start)
		}
		if got := isNameRune(tc.r); got != tc.name {
			t.Errorf("isNameRune(%U) = %v, want %v", tc.r, got, tc.name)
		}
	}
}
