package wire

import "fmt"

// Kind classifies a top-level element read from a stream.
type Kind uint8

const (
	// KindOther is any top-level element that is not a stanza: stream
	// negotiation (starttls, auth, response), stream management (r, a,
	// enable, resume), stream errors, WebSocket framing (open, close).
	KindOther Kind = iota
	KindMessage
	KindPresence
	KindIQ
)

func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindPresence:
		return "presence"
	case KindIQ:
		return "iq"
	}
	return "other"
}

// NSClient is the content namespace of client-to-server streams.
const NSClient = "jabber:client"

// NSStream is the namespace of the stream element and stream errors.
const NSStream = "http://etherx.jabber.org/streams"

// NSFraming is the RFC 7395 WebSocket framing namespace.
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// MaxChildren is how many direct children of a top-level element the
// decoder records. Later children are still validated and kept in Raw, only
// not indexed.
const MaxChildren = 8

// Child is one direct child element of a top-level element, as byte
// views into the element's Raw bytes.
type Child struct {
	NS    []byte // resolved namespace
	Name  []byte // local name
	Start int    // offset in Raw of '<' of the child's start tag
	End   int    // offset in Raw just past the child's end tag (or "/>")
}

// Stanza is one top-level element read from a stream. Every []byte field is
// a view into the decoder's buffer and is valid only until the next call to
// Decoder.Next (copy what must outlive it). Attribute values are exactly as
// written on the wire: still XML-escaped (use Unescape).
type Stanza struct {
	Kind Kind
	NS   []byte // resolved namespace of the element (e.g. "jabber:client")
	Name []byte // local name ("message", "iq", "starttls", ...)

	// Attributes of the top-level element; nil when absent (a present but
	// empty attribute is a non-nil empty slice).
	To, From, ID, Type []byte

	Children    [MaxChildren]Child
	NumChildren int // number of recorded children (≤ MaxChildren)

	// Raw is the whole element, from '<' of the start tag through the end of
	// the end tag (or "/>" when self-closing).
	Raw []byte

	// NameEnd is the offset in Raw just past the element's qualified name,
	// where an attribute can be inserted.
	NameEnd int
	// FromStart and FromEnd delimit the whole from attribute in Raw,
	// including its leading whitespace; both -1 when absent.
	FromStart, FromEnd int
	// InnerEnd is the offset in Raw of the end tag ("</"); -1 when the
	// element is self-closing.
	InnerEnd int
	// HasXMLNS reports whether the element declares its default namespace
	// itself (xmlns="..."), as RFC 7395 framing requires on WebSocket.
	HasXMLNS bool
}

// Payload returns the first child, the payload of an IQ; ok is false when
// the element has no child.
func (s *Stanza) Payload() (c Child, ok bool) {
	if s.NumChildren == 0 {
		return Child{}, false
	}
	return s.Children[0], true
}

// Child returns the first recorded child with the given namespace and local
// name.
func (s *Stanza) Child(ns, name string) (c Child, ok bool) {
	for i := 0; i < s.NumChildren; i++ {
		ch := s.Children[i]
		if string(ch.NS) == ns && string(ch.Name) == name {
			return ch, true
		}
	}
	return Child{}, false
}

// HasChildNS reports whether any recorded child is in namespace ns.
func (s *Stanza) HasChildNS(ns string) bool {
	for i := 0; i < s.NumChildren; i++ {
		if string(s.Children[i].NS) == ns {
			return true
		}
	}
	return false
}

// Limits bound what a decoder accepts; a zero field takes the default.
type Limits struct {
	MaxStanzaBytes int // default 256 KiB; larger: policy-violation
	MaxDepth       int // default 64 nested elements inside a stanza
	MaxAttrs       int // default 64 attributes per element
}

// Defaults for Limits.
const (
	DefaultMaxStanzaBytes = 256 << 10
	DefaultMaxDepth       = 64
	DefaultMaxAttrs       = 64
)

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxStanzaBytes <= 0 {
		l.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = DefaultMaxAttrs
	}
	return l
}

// Header is a stream header (<stream:stream ...>) as the peer sent it, with
// attribute values unescaped.
type Header struct {
	NS      string // default namespace (xmlns), e.g. "jabber:client"
	To      string
	From    string
	ID      string
	Version string
	Lang    string // xml:lang
}

// Error is why a stream could not be read. Condition is the RFC 6120 §4.9.3
// stream error condition the peer must be sent before the stream is closed.
type Error struct {
	Condition string // e.g. "not-well-formed", "policy-violation"
	Offset    int64  // byte offset in the stream where it was detected
	Msg       string
}

func (e *Error) Error() string {
	return fmt.Sprintf("wire: %s at byte %d: %s", e.Condition, e.Offset, e.Msg)
}

// Stream error conditions the decoder reports.
const (
	CondNotWellFormed      = "not-well-formed"      // any XML well-formedness violation, bad UTF-8
	CondPolicyViolation    = "policy-violation"     // stanza larger than MaxStanzaBytes, too deep, too many attributes
	CondRestrictedXML      = "restricted-xml"       // comments, processing instructions, DTDs, entity references other than the predefined five
	CondInvalidNamespace   = "invalid-namespace"    // stream header not in the streams namespace, or wrong content namespace
	CondBadNamespacePrefix = "bad-namespace-prefix" // an undeclared prefix
	CondBadFormat          = "bad-format"           // non-whitespace text between top-level elements
	CondUnsupportedVersion = "unsupported-version"  // stream header version major other than 1
)
