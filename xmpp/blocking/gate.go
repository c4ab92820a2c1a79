package blocking

import (
	"bytes"
	"context"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

var (
	serviceUnavailable  = stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	internalServerError = stanza.Error{Type: stanza.Cancel, Condition: stanza.InternalServerError}
)

// GateStanza implements router.StanzaGate: it refuses a stanza from s to
// a JID s's user blocked (outbound), and a stanza from s to a local
// account whose user blocked s (inbound). See the package documentation
// for the answers. A stanza with no 'to' (for the user's own account or
// the server), and any stanza between resources of one account, passes.
//
// Its cost when neither party blocked anybody: two lookups in the block
// list cache, no parsing of 'to' when it is written canonically, no
// allocation.
func (h *Handler) GateStanza(ctx context.Context, s *router.Session, st *wire.Stanza) (refused bool) {
	if st.To == nil {
		return false
	}
	own, err := h.lists.get(ctx, s.Username())
	if err != nil {
		return h.failed(ctx, s, st, err)
	}
	if own.len() > 0 && h.outbound(s, st, own) {
		return true
	}
	peer, err := h.peer(ctx, s, st.To)
	if err != nil {
		return h.failed(ctx, s, st, err)
	}
	if peer == nil || !peer.blocks(addrOf(s.FullString())) {
		return false
	}
	h.metrics.refused(dirIn, st.Kind).Inc()
	switch st.Kind {
	case wire.KindMessage:
		h.router.Bounce(s, st, serviceUnavailable) // not for type error
	case wire.KindIQ:
		if t := string(st.Type); t == "get" || t == "set" {
			h.router.Bounce(s, st, serviceUnavailable)
		}
	}
	// Presence from a blocked JID is dropped without an answer.
	return true
}

// outbound refuses st if its addressee is on own, the sender's list. A
// malformed 'to' is left to the router (jid-malformed).
func (h *Handler) outbound(s *router.Session, st *wire.Stanza, own *list) bool {
	to, err := jid.Parse(string(wire.Unescape(st.To)))
	if err != nil {
		return false
	}
	a := addrOf(to.String())
	switch {
	case a.bare == s.BareString():
		return false // XEP-0191 §5: never between the user's own resources
	case a.bare == "" && a.full == "" && a.domain == h.domain:
		return false // the server itself: blocking its domain blocks its users
	case !own.blocks(a):
		return false
	}
	h.metrics.refused(dirOut, st.Kind).Inc()
	switch t := string(st.Type); {
	case t == "error", st.Kind == wire.KindIQ && t == "result":
		// Never answer an error or a result with an error.
	default:
		h.router.Send(s, appendBlockedError(nil, s, st))
	}
	return true
}

// peer returns the block list of the local account that to (as written)
// addresses, or nil when to addresses no account (the server, a
// domain/resource, another domain, a malformed JID) or the sender's own.
// A canonical 'to' whose account's list is cached is looked up without
// parsing; anything else is parsed, and the list loaded if need be.
func (h *Handler) peer(ctx context.Context, s *router.Session, to []byte) (*list, error) {
	if bytes.IndexByte(to, '&') < 0 {
		bare := to
		if i := bytes.IndexByte(to, '/'); i >= 0 {
			bare = to[:i]
		}
		at := bytes.IndexByte(bare, '@')
		if at < 0 {
			return nil, nil // no localpart: no account
		}
		if string(bare[at+1:]) == h.domain {
			local := bare[:at]
			if string(local) == s.Username() {
				return nil, nil
			}
			if l := h.lists.peek(local); l != nil {
				return l, nil
			}
		}
	}
	j, err := jid.Parse(string(wire.Unescape(to)))
	if err != nil || j.Domainpart() != h.domain || j.Localpart() == "" {
		return nil, nil
	}
	local := j.Localpart()
	if local == s.Username() {
		return nil, nil
	}
	return h.lists.get(ctx, local)
}

// failed answers a stanza whose block lists could not be read. Refusing
// it is the safe side: delivering could let a blocked JID through.
func (h *Handler) failed(ctx context.Context, s *router.Session, st *wire.Stanza, err error) bool {
	h.log.ErrorContext(ctx, "blocking: block list not readable", "jid", s.FullString(), "err", err)
	h.router.Bounce(s, st, internalServerError)
	return true
}

// appendBlockedError appends the answer to a stanza the user sent to a
// JID they blocked (XEP-0191 §3.3): the same kind and id, from the
// addressee as written, not-acceptable with <blocked/>.
func appendBlockedError(dst []byte, s *router.Session, st *wire.Stanza) []byte {
	kind := st.Kind.String()
	dst = append(dst, '<')
	dst = append(dst, kind...)
	dst = append(dst, ` type="error"`...)
	if st.ID != nil {
		dst = append(dst, ` id="`...)
		dst = append(dst, st.ID...) // still escaped as received
		dst = append(dst, '"')
	}
	dst = append(dst, ` from="`...)
	dst = append(dst, st.To...)
	dst = append(dst, `" to="`...)
	dst = wire.AppendEscaped(dst, s.FullString())
	dst = append(dst, `"><error type="cancel"><not-acceptable xmlns="`+router.NSStanzas+`"/><blocked xmlns="`+NSErrors+`"/></error></`...)
	dst = append(dst, kind...)
	return append(dst, '>')
}
