package carbons

import (
	"bytes"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Namespaces of instant-messaging payloads that make a bodiless normal
// message worth copying (XEP-0280: "payload elements typically used in
// IM").
const (
	nsChatStates = "http://jabber.org/protocol/chatstates" // XEP-0085
	nsReceipts   = "urn:xmpp:receipts"                     // XEP-0184
	nsMarkers    = "urn:xmpp:chat-markers:0"               // XEP-0333
	nsJMI0       = "urn:xmpp:jingle-message:0"             // XEP-0353
	nsJMI1       = "urn:xmpp:jingle-message:1"
)

// eligible applies the copy rules of XEP-0280 and XEP-0334 (see the
// package documentation).
func eligible(st *wire.Stanza) bool {
	content := false
	for i := 0; i < st.NumChildren; i++ {
		ch := st.Children[i]
		switch string(ch.NS) {
		case NS:
			return false // <private/>, or a carbon: never re-wrapped
		case NSHints:
			if string(ch.Name) == "no-copy" {
				return false
			}
		case wire.NSClient:
			if string(ch.Name) == "body" {
				content = true
			}
		case nsChatStates, nsReceipts, nsMarkers, nsJMI0, nsJMI1:
			content = true
		}
	}
	if st.NumChildren == wire.MaxChildren {
		// Children past the indexed ones are not seen; err on the side
		// of privacy.
		rest := st.Raw[st.Children[wire.MaxChildren-1].End:]
		if bytes.Contains(rest, []byte(NS)) || bytes.Contains(rest, []byte("no-copy")) {
			return false
		}
	}
	switch string(st.Type) {
	case "chat", "error":
		return true
	case "groupchat", "headline":
		return false
	}
	return content // normal (RFC 6121 §5.2.2: unknown types are normal)
}

type direction uint8

const (
	dirSent direction = iota
	dirReceived
)

func (d direction) String() string {
	if d == dirSent {
		return "sent"
	}
	return "received"
}

// wrapperType is the type of the wrapping message: chat for chat, normal
// otherwise (an error-type wrapper would need an <error/> child of its
// own, RFC 6120 §8.3.1).
func wrapperType(st *wire.Stanza) string {
	if string(st.Type) == "chat" {
		return "chat"
	}
	return ""
}

// appendWrapper appends the carbon for the session full of the account
// bare: <message from=bare to=full><sent|received><forwarded>inner….
func appendWrapper(dst []byte, dir direction, bare, full, typ string, inner []byte) []byte {
	if dst == nil {
		dst = make([]byte, 0, 200+len(bare)+len(full)+len(inner))
	}
	dst = append(dst, `<message xmlns="`+wire.NSClient+`" from="`...)
	dst = wire.AppendEscaped(dst, bare)
	dst = append(dst, `" to="`...)
	dst = wire.AppendEscaped(dst, full)
	dst = append(dst, '"')
	if typ != "" {
		dst = append(dst, ` type="`...)
		dst = append(dst, typ...)
		dst = append(dst, '"')
	}
	dst = append(dst, "><"...)
	dst = append(dst, dir.String()...)
	dst = append(dst, ` xmlns="`+NS+`"><forwarded xmlns="`+NSForward+`">`...)
	dst = append(dst, inner...)
	dst = append(dst, "</forwarded></"...)
	dst = append(dst, dir.String()...)
	return append(dst, "></message>"...)
}

// appendSentCopy appends the message st as its sender sent it, with from
// stamped (the sender's full JID), xmlns='jabber:client' declared, and
// without any XEP-0359 stanza-id the client put in (only the server
// assigns those, and the router drops them from what it delivers).
func appendSentCopy(dst []byte, st *wire.Stanza, from string) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(st.Raw)+len(from)+40)
	}
	return router.AppendStamped(dst, st, from, nil, true)
}

// appendWithClientNS appends raw, a message as delivered, declaring
// xmlns='jabber:client' after its name unless its start tag declares a
// default namespace already (hasXMLNS). On a stream the namespace is
// inherited; inside <forwarded/> it would not be.
func appendWithClientNS(dst, raw []byte, hasXMLNS bool) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(raw)+24)
	}
	if hasXMLNS {
		return append(dst, raw...)
	}
	i := 1
	for i < len(raw) && !isNameEnd(raw[i]) {
		i++
	}
	dst = append(dst, raw[:i]...)
	dst = append(dst, ` xmlns="`+wire.NSClient+`"`...)
	return append(dst, raw[i:]...)
}

func isNameEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' || c == '>'
}
