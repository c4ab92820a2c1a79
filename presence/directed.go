package presence

import (
	"context"

	"github.com/ringd/ringd/xmpp/router"
)

// directed handles directed presence, available or unavailable (RFC 6121
// §4.6): it goes to the addressee only, and an available one is remembered
// so that the session's unavailable presence reaches the addressee later
// (§4.6.3). st.mu is held.
func (p *Presence) directed(ctx context.Context, st *session, ps *router.Stanza) {
	to := ps.To
	if to.Localpart() == "" || to.Domainpart() != p.router.Domain() {
		return // the server itself or domain/resource: nobody to tell
	}
	bare := to.Bare().String()
	key := bare
	if to.Resourcepart() != "" {
		key = to.String()
	}
	// A nonexistent account, a resource that is not bound, or an account
	// with no available resource: silently ignored (RFC 6121 §8.5.1,
	// §8.5.2.2.2, §8.5.3.2.2), and nothing to take back later.
	// The router's stanza gate refused it if either side blocked the
	// address it was sent to; a bare JID may still reach a resource
	// blocked by its full JID.
	n := 0
	view := p.blockView(ctx, st.s)
	if d := view.visible(p.recipients(key, bare)); len(d) > 0 {
		n = p.sendAll(d, rewrite(ps.St, st.s.FullString()))
		p.metrics.deliveries.Add(float64(n))
	}
	if ps.Type == "unavailable" {
		delete(st.directed, key)
		return
	}
	if n == 0 {
		return
	}
	if _, ok := st.directed[key]; ok {
		return
	}
	if len(st.directed) >= p.maxDirected {
		if !st.capWarned {
			st.capWarned = true
			p.log.WarnContext(ctx, "presence: too many directed presence addressees; no longer remembered",
				"jid", st.s.FullString(), "limit", p.maxDirected)
		}
		return
	}
	if st.directed == nil {
		st.directed = make(map[string]string)
	}
	st.directed[key] = bare
}

// recipients returns the local sessions that presence addressed to the JID
// to reaches: the session bound to it when it is a full JID (to != bare),
// otherwise the available sessions of the account bare.
func (p *Presence) recipients(to, bare string) []*router.Session {
	if to != bare {
		if d := p.router.Session(bare, to); d != nil {
			return []*router.Session{d}
		}
		return nil
	}
	sessions := p.router.Sessions(bare)
	k := 0
	for _, d := range sessions {
		if d.Available() {
			sessions[k] = d
			k++
		}
	}
	return sessions[:k]
}

// sendAll sends raw to every session in sessions and returns how many.
func (p *Presence) sendAll(sessions []*router.Session, raw []byte) int {
	for _, d := range sessions {
		p.router.Send(d, raw)
	}
	return len(sessions)
}

// handleProbe answers a probe sent by a client (RFC 6121 §4.3; clients
// rarely send them) as the server would answer one of its own: the current
// presence of the probed account's available resources (only of the
// addressed one, for a full JID), if the prober is subscribed to it. The
// user is implicitly subscribed to their own account.
func (p *Presence) handleProbe(ctx context.Context, ps *router.Stanza) {
	s := ps.Session
	to := ps.To
	var n int
	switch {
	case !ps.HasTo || to.Localpart() == s.Username():
		full := ""
		if ps.HasTo && to.Resourcepart() != "" {
			full = to.String()
		}
		n = p.sendCurrent(s, p.router.Sessions(s.BareString()), full)
	case to.Localpart() == "" || to.Domainpart() != p.router.Domain():
		return // the server has no presence to give
	default:
		full := ""
		if to.Resourcepart() != "" {
			full = to.String()
		}
		view := p.blockView(ctx, s)
		n = p.probeAccount(ctx, &view, to.Bare().String(), full)
	}
	p.metrics.deliveries.Add(float64(n))
}

// handleError delivers a presence error to the full JID it is addressed
// to if that session is bound; otherwise, or when it is addressed to
// anything else, it is dropped: an error is never answered with an error.
func (p *Presence) handleError(ps *router.Stanza) {
	to := ps.To
	if !ps.HasTo || to.Localpart() == "" || to.Resourcepart() == "" || to.Domainpart() != p.router.Domain() {
		return
	}
	if d := p.router.Session(to.Bare().String(), to.String()); d != nil {
		p.router.Deliver(ps.Session, d, ps.St, nil)
		p.metrics.deliveries.Inc()
	}
}
