package presence

import (
	"context"
	"errors"
	"fmt"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// available handles broadcast available presence: initial (RFC 6121 §4.2)
// or subsequent (§4.4). It reports whether router.InitialPresenceSent is
// due (the session's first initial presence). st.mu is held.
func (p *Presence) available(ctx context.Context, st *session, ps *router.Stanza) (runInitial bool) {
	s := st.s
	prio, err := parsePriority(ps.St)
	if err != nil {
		p.log.DebugContext(ctx, "presence: bad priority", "jid", s.FullString(), "err", err)
		p.router.Bounce(s, ps.St, badRequest)
		return false
	}
	raw := rewrite(ps.St, s.FullString())
	initial := st.cur.Load() == nil
	// Record before fanning out, and fan out before probing: of two
	// contacts becoming available at once, at least one then sees the
	// other as available, so both learn of each other.
	st.cur.Store(&current{raw: raw, since: p.now()})
	s.SetPresence(true, prio, raw)
	items, err := p.roster(ctx, s)
	if err != nil {
		// Only the user's own resources learn of the presence.
		p.log.ErrorContext(ctx, "presence: broadcast without roster", "jid", s.FullString(), "err", err)
		p.router.Bounce(s, ps.St, internalServerError)
	}
	view := p.blockView(ctx, s)
	p.fanout(&view, raw, items, nil)
	if !initial {
		return false // RFC 6121 §4.4.2: no probes for subsequent presence
	}
	p.answerProbes(ctx, &view, items)
	runInitial = !st.initialSent
	st.initialSent = true
	return runInitial
}

// unavailable handles broadcast unavailable presence (RFC 6121 §4.5).
// st.mu is held.
func (p *Presence) unavailable(ctx context.Context, st *session, ps *router.Stanza) {
	p.goUnavailable(ctx, st, rewrite(ps.St, st.s.FullString()), true)
}

// goUnavailable marks st's session unavailable and delivers raw, its
// unavailable presence (from the full JID, no 'to'), to the broadcast
// audience if the session was available (RFC 6121 §4.5.2; the session
// itself too when echo is set), and to every entity that got directed
// presence from it and is not in that audience (§4.6.3). st.mu is held.
func (p *Presence) goUnavailable(ctx context.Context, st *session, raw []byte, echo bool) {
	s := st.s
	wasAvailable := st.cur.Load() != nil
	if !wasAvailable && len(st.directed) == 0 {
		return
	}
	view := p.blockView(ctx, s)
	var items []storage.RosterItem
	if wasAvailable {
		// Unrecord before fanning out: a contact that probes from now on
		// sees the session unavailable, and one that became available
		// earlier is in the audience.
		st.cur.Store(nil)
		s.SetPresence(false, 0, nil)
		var err error
		items, err = p.roster(ctx, s)
		if err != nil {
			// Contacts keep seeing the session available until its user
			// next changes presence; nothing better is possible without
			// knowing who they are.
			p.log.ErrorContext(ctx, "presence: unavailable broadcast without roster", "jid", s.FullString(), "err", err)
		}
		var self *router.Session
		if echo {
			self = s
		}
		p.fanout(&view, raw, items, self)
	}
	if len(st.directed) == 0 {
		return
	}
	own := s.BareString()
	n := 0
	for to, bare := range st.directed {
		if wasAvailable && (bare == own || hasSubscriber(items, bare)) {
			continue // had the broadcast
		}
		n += p.sendAll(view.visible(p.recipients(to, bare)), router.WithTo(raw, to))
	}
	p.metrics.deliveries.Add(float64(n))
	clear(st.directed)
}

// fanout is the one path every broadcast takes: it delivers raw, the
// broadcast presence of view's session s (from its full JID, no 'to'), to the available
// resources of every contact whose roster item has subscription "from" or
// "both", one copy per contact addressed to its bare JID, and to the
// user's own available resources (RFC 6121 §4.2.2, §4.4.2, §4.5.2), plus
// self if it is no longer available (the resource that sent an unavailable
// presence gets it back). A contact's session that a block stands between
// gets nothing (see blockView). Coalescing and rate limiting belong here.
func (p *Presence) fanout(view *blockView, raw []byte, items []storage.RosterItem, self *router.Session) {
	p.metrics.broadcasts.Inc()
	own := view.s.BareString()
	n := p.toAvailable(view, own, raw, self)
	for i := range items {
		it := &items[i]
		if it.Contact == own || !hasFrom(it.Subscription) {
			continue
		}
		n += p.toAvailable(view, it.Contact, raw, nil)
	}
	p.metrics.deliveries.Add(float64(n))
}

// toAvailable delivers raw, addressed to the bare JID bare, to that
// account's available sessions and to also (nil for none) if it is one of
// the account's sessions, except those view hides. It returns how many
// sessions it reached.
func (p *Presence) toAvailable(view *blockView, bare string, raw []byte, also *router.Session) int {
	var b []byte
	n := 0
	for _, d := range p.router.Sessions(bare) {
		if !d.Available() && d != also {
			continue
		}
		if view.hides(d) {
			continue
		}
		if b == nil {
			b = router.WithTo(raw, bare)
		}
		p.router.Send(d, b)
		n++
	}
	return n
}

// answerProbes gives the newly available session s, view's, what the probes of RFC
// 6121 §4.2.2 would bring back (§4.3.2): the current presence of the
// user's other available resources, and of each available resource of
// every contact the user is subscribed to ("to" or "both"), except
// sessions hidden from s by a block.
func (p *Presence) answerProbes(ctx context.Context, view *blockView, items []storage.RosterItem) {
	s := view.s
	own := s.BareString()
	n := p.sendCurrent(s, p.router.Sessions(own), "")
	for i := range items {
		it := &items[i]
		if it.Contact == own || !hasTo(it.Subscription) {
			continue
		}
		n += p.probeAccount(ctx, view, it.Contact, "")
	}
	p.metrics.deliveries.Add(float64(n))
}

// probeAccount answers a probe from s to another local account with the
// bare JID bare, as that account's server would (RFC 6121 §4.3.2): if the
// account's roster says s's user is subscribed to it, s gets the current
// presence of the account's available resources (only of the one bound to
// full, when full is not ""). An account with no available resource, or
// that s's user is not subscribed to, sends nothing (the "not reply at
// all" option of §4.3.2); nor does a session that view, s's, hides. It
// returns how many presences it sent.
func (p *Presence) probeAccount(ctx context.Context, view *blockView, bare, full string) int {
	s := view.s
	sessions := p.router.Sessions(bare)
	k := 0
	for _, d := range sessions {
		if (full == "" || d.FullString() == full) && p.current(d) != nil && !view.hides(d) {
			sessions[k] = d
			k++
		}
	}
	if k == 0 {
		return 0
	}
	ok, err := p.subscribed(ctx, sessions[0].Username(), s.BareString())
	if err != nil {
		p.log.ErrorContext(ctx, "presence: probe not answered", "jid", s.FullString(), "contact", bare, "err", err)
		return 0
	}
	if !ok {
		return 0
	}
	return p.sendCurrent(s, sessions[:k], "")
}

// sendCurrent delivers to s the current presence of each of sessions
// except s itself (and except those not bound to full, when full is not
// ""), addressed to s's full JID and with a XEP-0203 delay element saying
// when that presence was set. It returns how many it sent.
func (p *Presence) sendCurrent(s *router.Session, sessions []*router.Session, full string) int {
	n := 0
	for _, d := range sessions {
		if d == s || (full != "" && d.FullString() != full) {
			continue
		}
		c := p.current(d)
		if c == nil {
			continue
		}
		p.router.Send(s, withDelay(c.raw, s.FullString(), p.router.Domain(), c.since))
		n++
	}
	return n
}

// roster reads the roster of s's user under the storage timeout.
func (p *Presence) roster(ctx context.Context, s *router.Session) ([]storage.RosterItem, error) {
	ctx, cancel := context.WithTimeout(ctx, p.storageTimeout)
	defer cancel()
	items, _, err := p.rosters.Roster(ctx, s.Username())
	if err != nil {
		return nil, fmt.Errorf("presence: roster of %s: %w", s.BareString(), err)
	}
	return items, nil
}

// subscribed reports whether the roster of the account user (a localpart)
// lets contact (a bare JID) see its presence: subscription "from" or
// "both".
func (p *Presence) subscribed(ctx context.Context, user, contact string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, p.storageTimeout)
	defer cancel()
	it, err := p.rosters.RosterItem(ctx, user, contact)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("presence: roster item %s of %s: %w", contact, user, err)
	}
	return hasFrom(it.Subscription), nil
}

// hasFrom reports whether the contact of an item with subscription sub
// receives the user's presence.
func hasFrom(sub storage.Subscription) bool {
	return sub == storage.SubFrom || sub == storage.SubBoth
}

// hasTo reports whether the user receives the presence of the contact of an
// item with subscription sub.
func hasTo(sub storage.Subscription) bool {
	return sub == storage.SubTo || sub == storage.SubBoth
}

// hasSubscriber reports whether items give bare a subscription to the
// user's presence.
func hasSubscriber(items []storage.RosterItem, bare string) bool {
	for i := range items {
		if items[i].Contact == bare {
			return hasFrom(items[i].Subscription)
		}
	}
	return false
}

// rewrite returns st stamped with from (its 'to', if any, kept).
func rewrite(st *wire.Stanza, from string) []byte {
	return wire.AppendRewritten(make([]byte, 0, len(st.Raw)+len(from)+16), st, from, nil)
}
