package blocking

import (
	"context"
	"encoding/xml"
	"fmt"
	"slices"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

type xmlIQ struct {
	Blocklist *xmlItems `xml:"urn:xmpp:blocking blocklist"`
	Block     *xmlItems `xml:"urn:xmpp:blocking block"`
	Unblock   *xmlItems `xml:"urn:xmpp:blocking unblock"`
}

type xmlItems struct {
	Items []struct {
		JID *string `xml:"jid,attr"`
	} `xml:"urn:xmpp:blocking item"`
}

// HandleIQ implements router.IQHandler for the user's own account
// (XEP-0191 §3): get <blocklist/>, set <block/> or <unblock/>.
func (h *Handler) HandleIQ(ctx context.Context, iq *router.IQ) ([]byte, error) {
	var doc xmlIQ
	if err := xml.Unmarshal(iq.Raw, &doc); err != nil {
		return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "malformed blocking command")
	}
	s := iq.Session
	switch {
	case !iq.Set && doc.Blocklist != nil:
		return h.get(ctx, s)
	case iq.Set && doc.Block != nil:
		if len(doc.Block.Items) == 0 {
			return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "block carries no item")
		}
		jids, err := parseItems(doc.Block)
		if err != nil {
			return nil, err
		}
		return nil, h.change(ctx, s, jids, true)
	case iq.Set && doc.Unblock != nil:
		jids, err := parseItems(doc.Unblock)
		if err != nil {
			return nil, err
		}
		return nil, h.change(ctx, s, jids, false)
	}
	return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "")
}

// parseItems returns the items' JIDs in canonical form, each once, in the
// order given. A missing or invalid jid is jid-malformed (XEP-0191 refers
// to the stanza errors of RFC 6120 and XEP-0086).
func parseItems(in *xmlItems) ([]string, error) {
	out := make([]string, 0, len(in.Items))
	for _, it := range in.Items {
		if it.JID == nil {
			return nil, router.StanzaError(stanza.Modify, stanza.JIDMalformed, "item without jid")
		}
		j, err := jid.Parse(*it.JID)
		if err != nil {
			return nil, router.StanzaError(stanza.Modify, stanza.JIDMalformed, "")
		}
		if c := j.String(); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// get answers a block list request and makes s an interested resource,
// first, so that a change made while the list is read reaches it as a
// push.
func (h *Handler) get(ctx context.Context, s *router.Session) ([]byte, error) {
	h.setInterested(s)
	l, err := h.lists.get(ctx, s.Username())
	if err != nil {
		return nil, fmt.Errorf("blocking: list of %s: %w", s.BareString(), err)
	}
	return appendList(nil, "blocklist", l.items), nil
}

// change blocks (block) or unblocks jids for s's user; unblocking none
// unblocks all. It stores the change, pushes it to the interested
// resources and sends the presence the change calls for.
func (h *Handler) change(ctx context.Context, s *router.Session, jids []string, block bool) error {
	user := s.Username()
	mu := h.lock(user)
	mu.Lock()
	defer mu.Unlock()
	before, err := h.lists.get(ctx, user)
	if err != nil {
		return fmt.Errorf("blocking: list of %s: %w", s.BareString(), err)
	}
	switch {
	case block:
		added := 0
		for _, j := range jids {
			if _, ok := before.set[j]; !ok {
				added++
			}
		}
		if before.len()+added > h.cfg.MaxItems {
			return router.StanzaError(stanza.Modify, stanza.PolicyViolation, fmt.Sprintf("a block list holds at most %d JIDs", h.cfg.MaxItems))
		}
		err = h.cfg.Store.Block(ctx, user, jids)
	case len(jids) > 0:
		err = h.cfg.Store.Unblock(ctx, user, jids)
	default:
		err = h.cfg.Store.UnblockAll(ctx, user)
	}
	// Whatever happened, the cached list may be wrong now.
	h.lists.invalidate(user)
	if err != nil {
		return fmt.Errorf("blocking: change list of %s: %w", s.BareString(), err)
	}
	after, err := h.lists.get(ctx, user)
	if err != nil {
		// Stored: the pushes and presence are lost, not the change.
		h.log.ErrorContext(ctx, "blocking: list not read back", "jid", s.BareString(), "err", err)
		after = nil
	}
	name := "unblock"
	if block {
		name = "block"
	}
	h.push(s.BareString(), appendList(nil, name, jids))
	if after == nil {
		return nil
	}
	if block && h.directed != nil {
		// Before announce: RevokeDirected waits for the presence
		// handling of the user's sessions under way, which may have read
		// the list from before the change, so what that sends arrives
		// before announce's unavailable presence.
		h.directed.RevokeDirected(ctx, s.BareString(), func(j string) bool {
			a := addrOf(j)
			return after.blocks(a) && !before.blocks(a)
		})
	}
	h.announce(ctx, s, before, after)
	return nil
}

// push sends the change, as the payload of an IQ set, to every resource
// of the account that requested its block list (XEP-0191 §3.3).
func (h *Handler) push(bare string, payload []byte) {
	for _, d := range h.router.Sessions(bare) {
		if !h.isInterested(d) {
			continue
		}
		id := h.router.NewID()
		b := make([]byte, 0, 48+len(id)+len(d.FullString())+len(payload))
		b = append(b, `<iq type="set" id="`...)
		b = wire.AppendEscaped(b, id)
		b = append(b, `" to="`...)
		b = wire.AppendEscaped(b, d.FullString())
		b = append(b, `">`...)
		b = append(b, payload...)
		h.router.Send(d, append(b, `</iq>`...))
	}
}

// announce sends the presence a change of the list from before to after
// calls for, between the user's available resources and the available
// resources of the local contacts in the user's roster whose blocked
// state changed (XEP-0191 §3.3, §3.4): a contact allowed to see the
// user's presence (subscription from or both) gets unavailable presence
// from each resource when blocked, their current presence when unblocked;
// the user's resources likewise get unavailable presence, or the current
// presence, of a blocked or unblocked contact the user is subscribed to,
// so that no client keeps showing a blocked contact as online.
func (h *Handler) announce(ctx context.Context, s *router.Session, before, after *list) {
	items, _, err := h.cfg.Rosters.Roster(ctx, s.Username())
	if err != nil {
		h.log.ErrorContext(ctx, "blocking: no presence for a changed list", "jid", s.BareString(), "err", err)
		return
	}
	own := available(h.router.Sessions(s.BareString()))
	if len(own) == 0 {
		return
	}
	for _, it := range items {
		from, to := hasFrom(it.Subscription), hasTo(it.Subscription)
		if !from && !to || it.Contact == s.BareString() {
			continue
		}
		for _, c := range available(h.router.Sessions(it.Contact)) {
			a := addrOf(c.FullString())
			was, now := before.blocks(a), after.blocks(a)
			if was == now {
				continue
			}
			for _, m := range own {
				if from {
					h.router.Send(c, presenceOf(m, c.FullString(), now))
				}
				if to {
					h.router.Send(m, presenceOf(c, m.FullString(), now))
				}
			}
		}
	}
}

// presenceOf is the presence of session from for the full JID to:
// unavailable, or its current available presence.
func presenceOf(from *router.Session, to string, unavailable bool) []byte {
	if p := from.Presence(); !unavailable && p != nil {
		return router.WithTo(p, to)
	}
	b := make([]byte, 0, 64+len(from.FullString())+len(to))
	b = append(b, `<presence type="unavailable" from="`...)
	b = wire.AppendEscaped(b, from.FullString())
	b = append(b, `" to="`...)
	b = wire.AppendEscaped(b, to)
	return append(b, `"/>`...)
}

func available(ss []*router.Session) []*router.Session {
	out := ss[:0]
	for _, s := range ss {
		if s.Available() {
			out = append(out, s)
		}
	}
	return out
}

func hasFrom(sub storage.Subscription) bool { return sub == storage.SubFrom || sub == storage.SubBoth }
func hasTo(sub storage.Subscription) bool   { return sub == storage.SubTo || sub == storage.SubBoth }

// appendList appends <name xmlns='urn:xmpp:blocking'> with an item per
// JID.
func appendList(dst []byte, name string, jids []string) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, ` xmlns="`+NS+`"`...)
	if len(jids) == 0 {
		return append(dst, `/>`...)
	}
	dst = append(dst, '>')
	for _, j := range jids {
		dst = append(dst, `<item jid="`...)
		dst = wire.AppendEscaped(dst, j)
		dst = append(dst, `"/>`...)
	}
	dst = append(dst, `</`...)
	dst = append(dst, name...)
	return append(dst, '>')
}
