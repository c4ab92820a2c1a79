package wire

import (
	"errors"
	"io"
)

const (
	initialBufSize = 4 << 10
	// minRead is the least free space worth handing to Read; below it the
	// buffer is compacted or grown first.
	minRead = 512
	// shrinkAbove: a buffer grown past this for one large stanza is
	// released once it drains, so an idle session does not keep it.
	shrinkAbove = 64 << 10
	// maxHeaderBytes bounds the XML declaration and the stream header, each.
	maxHeaderBytes = 4 << 10
	// maxCloseBytes bounds </stream:stream> with its optional whitespace.
	maxCloseBytes = 1 << 10
	maxEmptyReads = 100

	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

var (
	errFramedHeader = errors.New("wire: ReadHeader on a framed decoder")
	errNoHeader     = errors.New("wire: Next before ReadHeader")
)

// status is how far a scanning step got.
type status uint8

const (
	stOK   status = iota // progress; keep going
	stMore               // need more input
	stDone               // a top-level element is complete
	stErr                // d.err is set
)

// Where a namespace name lives. Views are kept as offsets while an element
// is being scanned, because the buffer may move when more input arrives.
const (
	srcNone    uint8 = iota // no namespace
	srcRaw                  // element bytes [lo:hi]
	srcScratch              // d.scratch[lo:hi] (an unescaped declaration)
	srcDefault              // the stream's default namespace
	srcStream               // NSStream, through the stream header's prefix
	srcXML                  // the predefined xml prefix
)

type nsRef struct {
	src    uint8
	lo, hi int
}

// nsDecl is one namespace declaration in scope; prefix is empty for xmlns=.
type nsDecl struct {
	pfx, pfxEnd int
	uri         nsRef
}

// frame is one open element of the current top-level element.
type frame struct {
	qn, qnEnd int // qualified name, to match the end tag
	nsMark    int // len(d.ns) before this element's declarations
	kid       int // index in d.kids, or -1
}

// attr is one attribute of the start tag being parsed.
type attr struct {
	ws          int // start of the whitespace before the name
	name        int
	colon       int // -1 when unprefixed
	nameEnd     int
	val, valEnd int  // value without its quotes
	amp         bool // value holds a reference
	space       bool // value holds a literal tab, newline or carriage return
	decl        bool // xmlns or xmlns:p
	ns          nsRef
}

type kidInfo struct {
	ns              nsRef
	local, localEnd int
	start, end      int
}

type span struct{ lo, hi int }

// topInfo is what becomes the Stanza, as offsets into the element.
type topInfo struct {
	ns                 nsRef
	local, nameEnd     int
	to, from, id, typ  span // lo < 0 when absent
	fromStart, fromEnd int
	innerEnd           int
	hasXMLNS           bool
}

// Decoder reads one XMPP stream (or, in framed mode, a sequence of RFC 7395
// WebSocket frames) and yields its top-level elements without building a
// DOM. It checks well-formedness as it goes.
//
// A Decoder belongs to the goroutine that reads the stream; it is not safe
// for concurrent use. After a stream error (*Error) or the end of the
// stream every call returns that error again, until Restart or Reset.
type Decoder struct {
	r      io.Reader
	lim    Limits
	framed bool

	// buf[start:end] holds bytes read but not consumed; off is the stream
	// offset of buf[0].
	buf        []byte
	start, end int
	off        int64
	eof        bool  // the reader reported io.EOF
	rerr       error // a read error to report once buffered bytes are used
	err        error // sticky: *Error, io.EOF after </stream:stream>, ...

	consts    []byte // NSClient + NSStream + nsXML, so views need no allocation
	hdrDone   bool
	sawDecl   bool
	streamQN  []byte // qualified name of the stream element
	streamPfx []byte // its prefix; nil when unprefixed
	defaultNS []byte // default namespace for top-level elements

	// Scan state of the current token or element; offsets are relative to
	// start. A tag whose end is not yet buffered is "pending": rather than
	// reparse it on every Read, findTagEnd resumes at findPos.
	inElem  bool
	pos     int
	cdata   bool
	pending bool
	findPos int
	findQ   byte

	stack   []frame
	ns      []nsDecl
	attrs   []attr
	hash    []int32
	scratch []byte
	top     topInfo
	kids    [MaxChildren]kidInfo
	nkids   int

	st Stanza
}

// NewDecoder returns a decoder reading a TCP/TLS stream: ReadHeader first,
// then Next for every top-level element until io.EOF (the peer's
// </stream:stream>).
func NewDecoder(r io.Reader, lim Limits) *Decoder { return newDecoder(r, lim, false) }

// NewFramedDecoder returns a decoder for RFC 7395 framing: no enclosing
// stream element; each top-level element (<open/>, stanzas, <close/>) is
// returned by Next; an element without xmlns is in jabber:client.
func NewFramedDecoder(r io.Reader, lim Limits) *Decoder { return newDecoder(r, lim, true) }

func newDecoder(r io.Reader, lim Limits, framed bool) *Decoder {
	d := &Decoder{
		r:      r,
		lim:    lim.WithDefaults(),
		framed: framed,
		buf:    make([]byte, initialBufSize),
		consts: []byte(NSClient + NSStream + nsXML),
	}
	d.resetStream()
	return d
}

// Restart prepares for a new stream header on the same reader, keeping
// bytes already buffered (stream restart after SASL success).
func (d *Decoder) Restart() { d.resetStream() }

// Reset discards all state and buffered bytes and reads from r (after
// STARTTLS).
func (d *Decoder) Reset(r io.Reader) {
	d.r = r
	d.start, d.end, d.off = 0, 0, 0
	d.eof, d.rerr = false, nil
	if len(d.buf) > shrinkAbove {
		d.buf = make([]byte, initialBufSize)
	}
	d.resetStream()
}

func (d *Decoder) resetStream() {
	d.err = nil
	d.hdrDone, d.sawDecl = false, false
	d.streamQN, d.streamPfx = nil, nil
	d.defaultNS = nil
	if d.framed {
		d.defaultNS = d.consts[:len(NSClient)]
	}
	d.inElem, d.pending, d.cdata = false, false, false
}

// Buffered returns how many bytes have been read from the reader but not
// yet consumed.
func (d *Decoder) Buffered() int { return d.end - d.start }

// InputOffset returns the number of bytes consumed so far.
func (d *Decoder) InputOffset() int64 { return d.off + int64(d.start) }

// Next returns the next top-level element. The returned value and its
// slices are valid until the next call to Next, ReadHeader, Restart or Reset.
func (d *Decoder) Next() (*Stanza, error) {
	if d.err != nil {
		return nil, d.err
	}
	if !d.framed && !d.hdrDone {
		return nil, errNoHeader
	}
	for {
		switch d.step() {
		case stDone:
			return &d.st, nil
		case stErr:
			return nil, d.err
		}
		if err := d.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
				if d.framed && !d.inElem && d.start == d.end {
					err = io.EOF
				}
				d.err = err
			}
			return nil, err
		}
	}
}

// step scans what is buffered.
func (d *Decoder) step() status {
	if !d.inElem {
		if st := d.scanBetween(); st != stOK {
			return st
		}
	}
	max := d.lim.MaxStanzaBytes
	b := d.buf[d.start:d.end]
	if len(b) > max {
		// Looking one byte past the limit is enough to know it is exceeded.
		b = b[:max+1]
	}
	n, st := d.scanElem(b)
	switch {
	case st == stDone && n > max, st == stMore && len(b) > max:
		return d.fail(CondPolicyViolation, 0, "stanza larger than the limit")
	case st == stDone:
		d.materialize(b[:n:n])
		d.start += n
		d.inElem = false
	}
	return st
}

// scanBetween skips whitespace between top-level elements and dispatches
// what follows.
func (d *Decoder) scanBetween() status {
	b := d.buf[d.start:d.end]
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	d.start += i
	b = b[i:]
	switch {
	case len(b) == 0:
		return stMore
	case b[0] != '<':
		return d.fail(CondBadFormat, 0, "text between top-level elements")
	case len(b) < 3:
		return stMore
	}
	switch b[1] {
	case '/':
		return d.streamEnd(b)
	case '?':
		return d.fail(CondRestrictedXML, 0, "processing instruction")
	case '!':
		if b[2] == '-' || b[2] == 'D' {
			return d.fail(CondRestrictedXML, 0, "comment or document type declaration")
		}
		if d.framed {
			return d.fail(CondNotWellFormed, 0, "markup outside an element")
		}
		return d.fail(CondBadFormat, 0, "character data between top-level elements")
	}
	d.inElem = true
	d.pos = 0
	d.cdata, d.pending = false, false
	d.stack = d.stack[:0]
	d.ns = d.ns[:0]
	d.scratch = d.scratch[:0]
	d.nkids = 0
	return stOK
}

// streamEnd matches </stream:stream> (with the prefix of the header).
func (d *Decoder) streamEnd(b []byte) status {
	if d.framed {
		return d.fail(CondNotWellFormed, 0, "end tag without a start tag")
	}
	qn := d.streamQN
	i := 2
	if n := min(len(b)-i, len(qn)); string(b[i:i+n]) != string(qn[:n]) {
		return d.fail(CondNotWellFormed, 0, "end tag does not match the stream element")
	}
	i += len(qn)
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) {
		if len(b) > maxCloseBytes {
			return d.fail(CondNotWellFormed, 0, "unterminated stream end tag")
		}
		return stMore
	}
	if b[i] != '>' {
		return d.fail(CondNotWellFormed, i, "end tag does not match the stream element")
	}
	d.start += i + 1
	d.err = io.EOF
	return stErr
}

// materialize turns the offsets gathered while scanning into the Stanza
// views; raw is the complete element.
func (d *Decoder) materialize(raw []byte) {
	t := &d.top
	s := &d.st
	// Field by field: zeroing the whole Stanza, Children included, costs
	// more than the rest of this function. Only children left over from
	// the previous stanza are cleared.
	if old := min(max(s.NumChildren, 0), MaxChildren); d.nkids < old {
		clear(s.Children[d.nkids:old])
	}
	s.Kind = KindOther
	s.NS = d.nsBytes(raw, t.ns)
	s.Name = raw[t.local:t.nameEnd]
	s.To, s.From, s.ID, s.Type = nil, nil, nil, nil
	s.NumChildren = d.nkids
	s.Raw = raw
	s.NameEnd = t.nameEnd
	s.FromStart, s.FromEnd = t.fromStart, t.fromEnd
	s.InnerEnd = t.innerEnd
	s.HasXMLNS = t.hasXMLNS
	if t.to.lo >= 0 {
		s.To = raw[t.to.lo:t.to.hi]
	}
	if t.from.lo >= 0 {
		s.From = raw[t.from.lo:t.from.hi]
	}
	if t.id.lo >= 0 {
		s.ID = raw[t.id.lo:t.id.hi]
	}
	if t.typ.lo >= 0 {
		s.Type = raw[t.typ.lo:t.typ.hi]
	}
	if string(s.NS) == NSClient {
		switch string(s.Name) {
		case "message":
			s.Kind = KindMessage
		case "presence":
			s.Kind = KindPresence
		case "iq":
			s.Kind = KindIQ
		}
	}
	for i := 0; i < d.nkids; i++ {
		k := &d.kids[i]
		s.Children[i] = Child{
			NS:    d.nsBytes(raw, k.ns),
			Name:  raw[k.local:k.localEnd],
			Start: k.start,
			End:   k.end,
		}
	}
}

// nsBytes returns the namespace name r refers to; b is the element.
func (d *Decoder) nsBytes(b []byte, r nsRef) []byte {
	switch r.src {
	case srcRaw:
		return b[r.lo:r.hi]
	case srcScratch:
		return d.scratch[r.lo:r.hi]
	case srcDefault:
		return d.defaultNS
	case srcStream:
		return d.consts[len(NSClient) : len(NSClient)+len(NSStream)]
	case srcXML:
		return d.consts[len(NSClient)+len(NSStream):]
	}
	return nil
}

// fill reads once into the free end of the buffer.
func (d *Decoder) fill() error {
	if err := d.rerr; err != nil {
		d.rerr = nil
		return err
	}
	if d.eof {
		return io.EOF
	}
	d.makeRoom()
	for range maxEmptyReads {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		switch {
		case err == io.EOF:
			d.eof = true
			if n > 0 {
				return nil
			}
			return io.EOF
		case err != nil:
			if n > 0 {
				d.rerr = err
				return nil
			}
			return err
		case n > 0:
			return nil
		}
	}
	return io.ErrNoProgress
}

// makeRoom ensures at least minRead free bytes at the end of the buffer.
// It compacts only when the unconsumed bytes fill at most half the buffer
// and grows otherwise, so each byte is copied a bounded number of times
// however the input is chunked.
func (d *Decoder) makeRoom() {
	if len(d.buf)-d.end >= minRead {
		return
	}
	u := d.end - d.start
	switch {
	case u == 0 && len(d.buf) > shrinkAbove:
		d.buf = make([]byte, initialBufSize)
	case u <= len(d.buf)/2:
		copy(d.buf, d.buf[d.start:d.end])
	default:
		n := max(2*len(d.buf), u+minRead)
		if lim := d.lim.MaxStanzaBytes + 1 + minRead; n > lim {
			n = max(lim, u+minRead)
		}
		if n <= len(d.buf) {
			copy(d.buf, d.buf[d.start:d.end])
			break
		}
		nb := make([]byte, n)
		copy(nb, d.buf[d.start:d.end])
		d.buf = nb
	}
	d.off += int64(d.start)
	d.start, d.end = 0, u
}

// fail records a stream error at offset rel from d.start.
func (d *Decoder) fail(cond string, rel int, msg string) status {
	d.err = &Error{Condition: cond, Offset: d.off + int64(d.start+rel), Msg: msg}
	return stErr
}
