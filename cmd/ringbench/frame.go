package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// frameKind says what frameReader.Next found.
type frameKind int

const (
	frameElement     frameKind = iota // a complete top-level element: a stanza or a nonza
	frameStreamOpen                   // the <stream:stream …> open tag, on its own
	frameStreamClose                  // </stream:stream>
)

// Defaults of the frame reader: a read buffer that fits a few hundred chat
// messages, and the largest element it accepts (servers limit stanzas to
// 256 KiB or less, so a bigger one means a broken stream).
const (
	defaultReadBuffer = 64 << 10
	maxElementBytes   = 1 << 20
)

var (
	errElementTooLarge = errors.New("ringbench: element larger than 1 MiB")
	errDoctype         = errors.New("ringbench: <!DOCTYPE> or unknown markup declaration in the stream")
)

// frameReader cuts an XMPP stream into its top-level elements without
// building anything: it only tracks tag depth, so the cost is a memchr per
// run of character data plus a short loop per tag. That keeps the hot path
// of the benchmark (thousands of stanzas a second per connection) cheap;
// the elements that matter are parsed further by whoever gets them.
//
// It understands what an XMPP peer may send: an XML declaration, the
// stream open tag, elements with quoted attribute values (which may
// contain '>'), comments, CDATA sections and processing instructions
// (skipped), whitespace keepalives between elements, and the stream close.
type frameReader struct {
	r   io.Reader
	buf []byte
	// buf[head:tail] is data not yet handed out. scanning resumes at pos;
	// start is where the element being assembled begins (-1 between
	// elements) and depth its nesting so far.
	head, tail, pos int
	start, depth    int
	max             int
}

func newFrameReader(r io.Reader, size int) *frameReader {
	if size <= 0 {
		size = defaultReadBuffer
	}
	return &frameReader{r: r, buf: make([]byte, size), start: -1, max: maxElementBytes}
}

// Reset points the reader at a new transport (after STARTTLS). Bytes
// still buffered from the old one are an error the caller checks with
// Buffered first.
func (f *frameReader) Reset(r io.Reader) {
	f.r = r
	f.head, f.tail, f.pos, f.start, f.depth = 0, 0, 0, -1, 0
}

// Buffered is how many bytes were read but not yet returned.
func (f *frameReader) Buffered() int { return f.tail - f.head }

// Next returns the next top-level element, stream open tag or stream
// close. The slice is valid until the following call.
func (f *frameReader) Next() (frameKind, []byte, error) {
	for {
		kind, b, ok, err := f.scan()
		if err != nil || ok {
			return kind, b, err
		}
		if err := f.fill(); err != nil {
			if err == io.EOF && (f.start >= 0 || f.pos < f.tail) {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
}

// fill reads more data, making room first by moving what is kept to the
// front of the buffer or, for an element larger than the buffer, by
// growing it.
func (f *frameReader) fill() error {
	if f.head > 0 && (f.tail == len(f.buf) || f.head > len(f.buf)/2) {
		n := copy(f.buf, f.buf[f.head:f.tail])
		shift := f.head
		f.head, f.tail, f.pos = 0, n, f.pos-shift
		if f.start >= 0 {
			f.start -= shift
		}
	}
	if f.tail == len(f.buf) {
		if len(f.buf) >= f.max {
			return errElementTooLarge
		}
		nb := make([]byte, min(2*len(f.buf), f.max))
		copy(nb, f.buf[:f.tail])
		f.buf = nb
	}
	n, err := f.r.Read(f.buf[f.tail:])
	f.tail += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// scan continues from pos. ok reports a complete frame; otherwise more
// data is needed.
func (f *frameReader) scan() (frameKind, []byte, bool, error) {
	b := f.buf[:f.tail]
	for f.pos < f.tail {
		if b[f.pos] != '<' {
			i := bytes.IndexByte(b[f.pos:], '<')
			if i < 0 {
				f.pos = f.tail
				break
			}
			f.pos += i
		}
		if f.start < 0 {
			f.head = f.pos // whitespace between elements is dropped
		}
		tag := b[f.pos:]
		n, kind, err := scanTag(tag)
		if err != nil {
			return 0, nil, false, err
		}
		if n == 0 {
			break // the tag is not complete yet
		}
		tagStart := f.pos
		f.pos += n
		switch kind {
		case tagSkip:
			if f.depth == 0 {
				f.head = f.pos
			}
			continue
		case tagOpen:
			if f.depth == 0 && isStreamName(tagName(tag[:n])) {
				f.head = f.pos
				return frameStreamOpen, b[tagStart:f.pos], true, nil
			}
			if f.depth == 0 {
				f.start = tagStart
			}
			f.depth++
			continue
		case tagClose:
			if f.depth == 0 {
				if isStreamName(tagName(tag[:n])) {
					f.head = f.pos
					return frameStreamClose, b[tagStart:f.pos], true, nil
				}
				return 0, nil, false, fmt.Errorf("ringbench: unexpected close tag %q at top level", tag[:n])
			}
			f.depth--
			if f.depth > 0 {
				continue
			}
		case tagEmpty:
			if f.depth > 0 {
				continue
			}
			f.start = tagStart
		}
		el := b[f.start:f.pos]
		f.start, f.head = -1, f.pos
		return frameElement, el, true, nil
	}
	if f.start < 0 && f.pos == f.tail {
		f.head = f.tail
	}
	return 0, nil, false, nil
}

// tagKind classifies markup.
type tagKind int

const (
	tagOpen  tagKind = iota // <a …>
	tagClose                // </a>
	tagEmpty                // <a …/>
	tagSkip                 // <?…?>, <!--…-->, <![CDATA[…]]>
)

// scanTag measures the markup that b starts with (b[0] == '<'). It returns
// 0 when b ends before the markup does.
func scanTag(b []byte) (int, tagKind, error) {
	if len(b) < 2 {
		return 0, 0, nil
	}
	switch b[1] {
	case '?':
		return endAfter(b, "?>"), tagSkip, nil
	case '!':
		switch {
		case bytes.HasPrefix(b, []byte("<!--")):
			return endAfter(b, "-->"), tagSkip, nil
		case bytes.HasPrefix(b, []byte("<![CDATA[")):
			return endAfter(b, "]]>"), tagSkip, nil
		case len(b) < len("<![CDATA[") && (bytes.HasPrefix([]byte("<![CDATA["), b) || bytes.HasPrefix([]byte("<!--"), b)):
			return 0, 0, nil
		}
		return 0, 0, errDoctype
	case '/':
		i := bytes.IndexByte(b, '>')
		if i < 0 {
			return 0, 0, nil
		}
		return i + 1, tagClose, nil
	}
	var quote byte
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			if b[i-1] == '/' {
				return i + 1, tagEmpty, nil
			}
			return i + 1, tagOpen, nil
		}
	}
	return 0, 0, nil
}

// endAfter is the length up to and including the first end in b, or 0.
func endAfter(b []byte, end string) int {
	i := bytes.Index(b[2:], []byte(end))
	if i < 0 {
		return 0
	}
	return 2 + i + len(end)
}

// tagName is the qualified name of an open, empty or close tag.
func tagName(tag []byte) []byte {
	i := 1
	if len(tag) > 1 && tag[1] == '/' {
		i = 2
	}
	j := i
	for j < len(tag) && !isSpace(tag[j]) && tag[j] != '>' && tag[j] != '/' {
		j++
	}
	return tag[i:j]
}

// isStreamName reports whether a qualified name is the stream element
// (<stream:stream/>, under whatever prefix the peer declared).
func isStreamName(name []byte) bool {
	return bytes.Equal(name, []byte("stream")) || bytes.HasSuffix(name, []byte(":stream"))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
