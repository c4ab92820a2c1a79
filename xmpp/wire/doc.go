// Package wire is ringd's only XML parser on the routing path: it turns the
// bytes of an XMPP stream into top-level elements (stanzas and stream-level
// elements) and back.
//
// # What it owns
//
// A streaming, validating tokenizer over the raw bytes of one stream
// (RFC 6120 §4: the stream header of §4.7, the restart of §4.3.3, the stream
// close of §4.4, and the stream error conditions of §4.9.3 it reports as
// *Error), or of RFC 7395 WebSocket framing (NewFramedDecoder: no stream
// element, every top-level element including <open/> and <close/> is
// returned). For each top-level element it reports the kind, namespace and
// name, the raw to, from, id and type attributes, up to MaxChildren direct
// children and the exact bytes, so a router can forward the bytes unchanged
// and rewrite only from (AppendRewritten). Everything returned by Next is a
// view into a buffer that is reused: after warm-up, decoding allocates
// nothing.
//
// # What it must not do
//
// It builds no DOM and does not interpret payloads; it knows no feature.
// It never uses encoding/xml (only its tests do, as an oracle). It never
// accepts a top-level element that another conformant parser would reject:
// a stanza's bytes are copied into other users' streams, so anything that
// passes here must be well-formed on its own, or one user could break
// another user's stream.
//
// # What it checks
//
// Well-formedness (RFC 6120 §11.3, XML 1.0 §2): UTF-8 only (§11.6), the
// Char production, names (see below), quoted attribute values without '<',
// unique attribute names, matching end tags, references to the five
// predefined entities and to valid characters only, no "]]>" in character
// data. Restricted XML (§11.1): comments, processing instructions (other
// than the XML declaration of §11.5 before the stream header, version 1.x,
// encoding UTF-8), document type declarations and other entity references
// end the stream with restricted-xml. Namespace well-formedness (§11.2,
// Namespaces in XML 1.0): every prefix bound, the xml and xmlns prefixes
// and namespace names used only as reserved, no prefix bound to the empty
// name, no two attributes with the same expanded name. Limits (Limits):
// bytes per top-level element, nesting depth and attributes per element,
// each a policy-violation; the XML declaration and the stream header are
// each limited to 4 KiB. Between top-level elements only whitespace
// (keepalives) is allowed; other text is bad-format.
//
// # Choices beyond the RFCs
//
// A top-level element may use only the namespace prefixes it declares
// itself. A prefix declared on the stream header would be unbound once the
// element is forwarded into another stream, so its use is reported as
// bad-namespace-prefix, like an undeclared prefix. The single exception is
// the stream prefix itself on the name of a top-level element
// (<stream:error/>), which is never forwarded; it is not accepted anywhere
// else inside an element. The stream's default namespace (jabber:client)
// is inherited as usual: unprefixed stanzas forward between c2s streams
// unchanged.
//
// A reference longer than 32 bytes (a character reference with many leading
// zeros) is rejected as not-well-formed, so that a reference split across
// reads is only ever rescanned a bounded number of times.
//
// Element and attribute names must be ASCII. XML allows many non-ASCII
// name characters, but editions and parsers disagree on which (Go's
// encoding/xml and expat still use the fourth edition's tables): a stanza
// with such a name could end the stream of every receiver whose parser
// refuses it. No XMPP extension uses non-ASCII names; text and attribute
// values may of course hold any character.
//
// Tab, newline and carriage return written literally in a namespace
// declaration are rejected as not-well-formed: parsers disagree on how to
// normalise them, and the namespace the router sees must be the one the
// receiver sees.
//
// A namespace declaration whose value contains a reference is unescaped
// into a per-decoder scratch buffer, so Stanza.NS and Child.NS always hold
// the namespace name itself; attribute values (To, From, ID, Type) are as
// written.
package wire
