package wire

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestContexts puts every byte value and a set of tricky sequences into
// every syntactic context of a stanza. Whatever the decoder accepts,
// encoding/xml must accept with the same names, and reading one byte at a
// time must give the same result. The fuzzers find such holes only by
// luck; this finds them by construction.
func TestContexts(t *testing.T) {
	contexts := []string{
		`<message><body>a%sb</body></message>`,
		`<message><body>%s</body></message>`,
		`<message to='a%sb'/>`,
		`<message to="a%sb"/>`,
		`<message><![CDATA[a%sb]]></message>`,
		`<message><a%sb/></message>`,
		`<message><%sa/></message>`,
		`<message a%sb='1'/>`,
		`<message to='1'%sid='2'/>`,
		`<message to='1' %s/>`,
		`<message to%s='1'/>`,
		`<message><a></a%s></message>`,
		`<message><p%s:a xmlns:p='u'/></message>`,
		`<message xmlns%s='u'/>`,
		`<message xmlns='u%s'/>`,
		`<message>&%s;</message>`,
		`<message>&#%s;</message>`,
		`<message>%s</message>`,
	}
	var fills []string
	for c := range 256 {
		fills = append(fills, string([]byte{byte(c)}))
	}
	fills = append(fills, "é", "\u00b7", "\u0300", "\u037e", "\u2070", "\uFFFD", "\uFFFE", "\uFFFF", "\U0001F600", "\U000F0000",
		"\xed\xa0\x80", "\xc0\xaf", "\xe2\x82", "\xf4\x90\x80\x80", "&amp;", "&#0;", "&#x10FFFF;", "&#xD800;", "&lt", "]]>", "]]",
		"<!--x-->", "<?x?>", "<![CDATA[x]]>", "</message>", "<x/>", "</x>", "'", `"`, "x:y", ":", "xmlns:x='v'", "stream:x", "xml:lang",
		"amp", "nbsp", "x41", "65", "0", "xD7FF", "x110000")
	for _, ctx := range contexts {
		for _, fill := range fills {
			in := strings.Replace(ctx, "%s", fill, 1)
			whole := decodeAll(strings.NewReader(streamHeader+in+streamClose), Limits{}, false)
			trickle := decodeAll(iotest.OneByteReader(strings.NewReader(streamHeader+in+streamClose)), Limits{}, false)
			if !equalResults(whole, trickle) {
				t.Errorf("Next(%q) one byte at a time =\n%v\nwant\n%v", in, trickle, whole)
			}
			for _, g := range whole.Stanzas {
				el, err := parseOracle([]byte(g.Raw))
				if err != nil {
					t.Errorf("Next(%q) accepted %q, encoding/xml: %v", in, g.Raw, err)
					continue
				}
				if el.name.Local != g.Name || el.name.Space != g.NS {
					t.Errorf("Next(%q) = {%s}%s, encoding/xml reads %v", in, g.NS, g.Name, el.name)
				}
				if err := checkPrefixes([]byte(g.Raw)); err != nil {
					t.Errorf("Next(%q) accepted %q: %v", in, g.Raw, err)
				}
			}
			if whole.Err == io.EOF {
				if err := parseDocument(streamHeader + in + streamClose); err != nil {
					t.Errorf("Next(%q) accepted the stream, encoding/xml: %v", in, err)
				}
			}
		}
	}
}
