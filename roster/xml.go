package roster

import (
	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/wire"
)

// appendEscaped appends s escaped for an attribute value or character data.
func appendEscaped(dst []byte, s string) []byte { return wire.AppendEscaped(dst, s) }

// appendItem appends the <item/> of it as roster results and pushes carry
// it (RFC 6121 §2.1.2): jid, name when set, subscription, ask='subscribe'
// while Pending Out, approved='true' while pre-approved, and the groups.
// A later child (e.g. a roster note) goes after the groups.
func appendItem(dst []byte, it storage.RosterItem) []byte {
	dst = append(dst, `<item jid="`...)
	dst = appendEscaped(dst, it.Contact)
	dst = append(dst, '"')
	if it.Name != "" {
		dst = append(dst, ` name="`...)
		dst = appendEscaped(dst, it.Name)
		dst = append(dst, '"')
	}
	sub := it.Subscription
	if sub == "" {
		sub = storage.SubNone
	}
	dst = append(dst, ` subscription="`...)
	dst = append(dst, sub...)
	dst = append(dst, '"')
	if it.Ask {
		dst = append(dst, ` ask="subscribe"`...)
	}
	if it.Approved {
		dst = append(dst, ` approved="true"`...)
	}
	if len(it.Groups) == 0 {
		return append(dst, `/>`...)
	}
	dst = append(dst, '>')
	for _, g := range it.Groups {
		dst = append(dst, `<group>`...)
		dst = appendEscaped(dst, g)
		dst = append(dst, `</group>`...)
	}
	return append(dst, `</item>`...)
}

// appendRemovedItem appends the item of a roster push announcing that
// contact was removed (RFC 6121 §2.5.2).
func appendRemovedItem(dst []byte, contact string) []byte {
	dst = append(dst, `<item jid="`...)
	dst = appendEscaped(dst, contact)
	return append(dst, `" subscription="remove"/>`...)
}

// buildPresence builds a server-generated presence stanza; typ and id may
// be empty.
func buildPresence(from, to, typ, id string) []byte {
	b := make([]byte, 0, 48+len(from)+len(to)+len(typ)+len(id))
	b = append(b, `<presence from="`...)
	b = appendEscaped(b, from)
	b = append(b, `" to="`...)
	b = appendEscaped(b, to)
	b = append(b, '"')
	if typ != "" {
		b = append(b, ` type="`...)
		b = appendEscaped(b, typ)
		b = append(b, '"')
	}
	if id != "" {
		b = append(b, ` id="`...)
		b = appendEscaped(b, id)
		b = append(b, '"')
	}
	return append(b, `/>`...)
}

// setAttr returns raw, one well-formed element as the wire decoder accepts
// it, with the value of its attribute name (unprefixed) in the start tag
// replaced by value; raw unchanged when it has no such attribute.
func setAttr(raw []byte, name, value string) []byte {
	i := 1
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	for i < len(raw) {
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] == '/' || raw[i] == '>' {
			return raw
		}
		ns := i
		for i < len(raw) && raw[i] != '=' && !isSpace(raw[i]) {
			i++
		}
		attr := string(raw[ns:i])
		for i < len(raw) && (isSpace(raw[i]) || raw[i] == '=') {
			i++
		}
		if i >= len(raw) {
			return raw
		}
		quote := raw[i]
		i++
		vs := i
		for i < len(raw) && raw[i] != quote {
			i++
		}
		if i >= len(raw) {
			return raw
		}
		ve := i
		i++
		if attr == name {
			b := make([]byte, 0, len(raw)+len(value))
			b = append(b, raw[:vs]...)
			b = appendEscaped(b, value)
			b = append(b, raw[ve:]...)
			return b
		}
	}
	return raw
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
