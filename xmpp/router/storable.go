package router

import "github.com/ringd/ringd/xmpp/wire"

// Namespaces that decide whether a message is worth keeping for later.
const (
	NSHints = "urn:xmpp:hints"            // XEP-0334 message processing hints
	NSJMI0  = "urn:xmpp:jingle-message:0" // XEP-0353 call messages
	NSJMI1  = "urn:xmpp:jingle-message:1" // XEP-0353 0.4–0.5, the same protocol
)

// Storable reports whether a message is one an account with nobody
// available should get later (XEP-0160, with XEP-0334 hints): it has a
// body, a store hint or a XEP-0353 call message, and no no-store hint.
// Offline storage keeps exactly these, and push notifies exactly for
// these, so the rule lives here, below both.
func Storable(st *wire.Stanza) bool {
	keep := false
	for i := 0; i < st.NumChildren; i++ {
		ch := st.Children[i]
		switch string(ch.NS) {
		case NSHints:
			switch string(ch.Name) {
			case "no-store", "no-permanent-store":
				return false
			case "store":
				keep = true
			}
		case wire.NSClient:
			if string(ch.Name) == "body" {
				keep = true
			}
		case NSJMI0, NSJMI1:
			keep = true
		}
	}
	return keep
}
