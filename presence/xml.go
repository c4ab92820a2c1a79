package presence

import (
	"bytes"
	"time"

	"github.com/ringd/ringd/xmpp/wire"
)

// NSDelay is the XEP-0203 delayed delivery namespace.
const NSDelay = "urn:xmpp:delay"

// stampLayout is a XEP-0082 DateTime in UTC with milliseconds.
const stampLayout = "2006-01-02T15:04:05.000Z"

// unavailableStanza is the unavailable presence the server sends for a
// session that ended without one (RFC 6121 §4.5.2).
func unavailableStanza(full string) []byte {
	b := make([]byte, 0, 48+len(full))
	b = append(b, `<presence type="unavailable" from="`...)
	b = wire.AppendEscaped(b, full)
	return append(b, `"/>`...)
}

// withDelay returns raw, a stanza without a 'to' attribute, addressed to
// to and with a XEP-0203 <delay/> from the server domain, stamped at
// since, as its last child.
func withDelay(raw []byte, to, domain string, since time.Time) []byte {
	var buf [160]byte
	delay := append(buf[:0], `<delay xmlns="`+NSDelay+`" from="`...)
	delay = wire.AppendEscaped(delay, domain)
	delay = append(delay, `" stamp="`...)
	delay = since.UTC().AppendFormat(delay, stampLayout)
	delay = append(delay, `"/>`...)
	return withToAndChild(raw, to, delay)
}

// withToAndChild returns raw, one complete element without a 'to'
// attribute, with to="to" added after the element name and child appended
// as its last child (a self-closing element is expanded).
func withToAndChild(raw []byte, to string, child []byte) []byte {
	nameEnd := 1
	for nameEnd < len(raw) && !isNameEnd(raw[nameEnd]) {
		nameEnd++
	}
	b := make([]byte, 0, len(raw)+len(to)+len(child)+nameEnd+16)
	b = append(b, raw[:nameEnd]...)
	b = append(b, ` to="`...)
	b = wire.AppendEscaped(b, to)
	b = append(b, '"')
	rest := raw[nameEnd:]
	if bytes.HasSuffix(rest, []byte("/>")) {
		b = append(b, rest[:len(rest)-2]...)
		b = append(b, '>')
		b = append(b, child...)
		b = append(b, "</"...)
		b = append(b, raw[1:nameEnd]...)
		return append(b, '>')
	}
	i := bytes.LastIndex(rest, []byte("</"))
	if i < 0 {
		return nil // not a complete element; never produced by wire
	}
	b = append(b, rest[:i]...)
	b = append(b, child...)
	return append(b, rest[i:]...)
}

func isNameEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' || c == '>'
}
