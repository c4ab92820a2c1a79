package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// streamHeader is the header most tests put before their stanzas.
const streamHeader = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`

const streamClose = `</stream:stream>`

// got is a deep copy of a Stanza, so results outlive the decoder buffer and
// compare with ==.
type got struct {
	Kind                                  Kind
	NS, Name                              string
	To, From, ID, Type                    string // "<nil>" when absent
	Children                              string // "ns name [start:end]; ..."
	Raw                                   string
	NameEnd, FromStart, FromEnd, InnerEnd int
	HasXMLNS                              bool
}

func opt(b []byte) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

func snapshot(s *Stanza) got {
	var kids strings.Builder
	for i := 0; i < s.NumChildren; i++ {
		c := s.Children[i]
		fmt.Fprintf(&kids, "%s %s [%d:%d]; ", c.NS, c.Name, c.Start, c.End)
	}
	return got{
		Kind: s.Kind, NS: string(s.NS), Name: string(s.Name),
		To: opt(s.To), From: opt(s.From), ID: opt(s.ID), Type: opt(s.Type),
		Children: kids.String(), Raw: string(s.Raw),
		NameEnd: s.NameEnd, FromStart: s.FromStart, FromEnd: s.FromEnd, InnerEnd: s.InnerEnd,
		HasXMLNS: s.HasXMLNS,
	}
}

// result is everything a decoder made of one input.
type result struct {
	Header   Header
	Stanzas  []got
	Err      error
	Consumed int64
}

func (r result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "header %+v\n", r.Header)
	for _, s := range r.Stanzas {
		fmt.Fprintf(&b, "  %+v\n", s)
	}
	fmt.Fprintf(&b, "err %v consumed %d", r.Err, r.Consumed)
	return b.String()
}

// decodeAll runs a decoder over r to its first error.
func decodeAll(r io.Reader, lim Limits, framed bool) result {
	var res result
	var d *Decoder
	if framed {
		d = NewFramedDecoder(r, lim)
	} else {
		d = NewDecoder(r, lim)
		h, err := d.ReadHeader()
		res.Header = h
		if err != nil {
			res.Err = err
			res.Consumed = d.InputOffset()
			return res
		}
	}
	for {
		s, err := d.Next()
		if err != nil {
			res.Err = err
			res.Consumed = d.InputOffset()
			return res
		}
		res.Stanzas = append(res.Stanzas, snapshot(s))
	}
}

// condition returns the stream error condition of err, or err's text.
func condition(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Condition
	}
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// sameErr compares errors by condition and offset for *Error, by identity
// otherwise.
func sameErr(a, b error) bool {
	var ea, eb *Error
	if errors.As(a, &ea) && errors.As(b, &eb) {
		return *ea == *eb
	}
	return a == b
}

// chunkReader returns its data in pseudo-random chunks of 1..max bytes.
type chunkReader struct {
	data []byte
	rnd  *rand.Rand
	max  int
}

func newChunkReader(data []byte, seed uint64, max int) *chunkReader {
	return &chunkReader{data: data, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), max: max}
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(1+c.rnd.IntN(c.max), len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// loopReader repeats data forever; data holds whole stanzas, so every
// wrap-around starts at a stanza boundary.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], l.data[l.off:])
		n += m
		l.off = (l.off + m) % len(l.data)
	}
	return n, nil
}

// repeatStream is a stream header followed by enough copies of stanza to
// loop over: the reader returns the header once, then stanzas forever.
func repeatStream(stanza string, framed bool) io.Reader {
	body := bytes.Repeat([]byte(stanza), max(16, 64<<10/len(stanza)))
	loop := &loopReader{data: body}
	if framed {
		return loop
	}
	return io.MultiReader(strings.NewReader(streamHeader), loop)
}
