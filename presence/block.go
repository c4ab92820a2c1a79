package presence

import (
	"context"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

// blocks reports whether the local account user blocked the JID j (in
// canonical form), as Config.Blocker says. A list that cannot be read
// counts as blocking: withholding a presence is the safe side, as the
// router's gate refuses a stanza it cannot check.
func (p *Presence) blocks(ctx context.Context, user, j string) bool {
	b, err := p.blocker.Blocks(ctx, user, j)
	if err != nil {
		p.log.ErrorContext(ctx, "presence: withheld, block list not readable", "user", user, "jid", j, "err", err)
		return true
	}
	return b
}

// blocksAnyone reports whether the local account user blocked anybody; an
// unreadable list counts as yes (blocks then decides).
func (p *Presence) blocksAnyone(ctx context.Context, user string) bool {
	b, err := p.blocker.BlocksAnyone(ctx, user)
	return b || err != nil
}

// blockView answers, for one session s, which other sessions a block
// stands between it and (XEP-0191 §3.3): d's user blocked s's JID (no
// stanza from a blocked JID reaches the user), or s's user blocked d's JID
// (the user appears unavailable to it). The relation is symmetric, so one
// view serves presence from s (a broadcast) and presence to s (probe
// answers). It asks each user's list once: s's when it is made, and that
// of the account of the sessions asked about, which come account by
// account. Sessions of one account are never hidden from each other.
type blockView struct {
	p       *Presence
	ctx     context.Context
	s       *router.Session
	sBlocks bool   // s's user blocked somebody
	user    string // the account last asked about
	hidesS  bool   // whether user blocked s
}

// blockView returns the view of s. Without a Blocker it hides nothing.
func (p *Presence) blockView(ctx context.Context, s *router.Session) blockView {
	v := blockView{p: p, ctx: ctx, s: s}
	if p.blocker != nil {
		v.sBlocks = p.blocksAnyone(ctx, s.Username())
	}
	return v
}

// hides reports whether a block stands between v's session and d. Without
// a Blocker, or with the lists cached, it does not allocate.
func (v *blockView) hides(d *router.Session) bool {
	p := v.p
	if p.blocker == nil || d.BareString() == v.s.BareString() {
		return false
	}
	if u := d.Username(); u != v.user {
		v.user = u
		v.hidesS = p.blocksAnyone(v.ctx, u) && p.blocks(v.ctx, u, v.s.FullString())
	}
	return v.hidesS || v.sBlocks && p.blocks(v.ctx, v.s.Username(), d.FullString())
}

// visible filters sessions, in place, down to those v does not hide.
func (v *blockView) visible(sessions []*router.Session) []*router.Session {
	if v.p.blocker == nil {
		return sessions
	}
	k := 0
	for _, d := range sessions {
		if !v.hides(d) {
			sessions[k] = d
			k++
		}
	}
	return sessions[:k]
}

// RevokeDirected implements xmpp/blocking's DirectedPresence, for a user
// who just blocked somebody: each session of the account bare that sent
// directed available presence (RFC 6121 §4.6) to a session whose full JID
// blocked reports true, or to an address it reports true for, sends that
// session unavailable presence, as going unavailable would (§4.6.3). An
// address blocked as addressed is forgotten. A session that is available
// and whose recipient's account is its subscriber is skipped: the blocking
// feature sends subscribers unavailable presence itself, and one is
// enough.
//
// It takes each session's presence lock, so presence handling of the
// account's sessions that started before it ends first; broadcasts that
// start after it read the changed block list.
func (p *Presence) RevokeDirected(ctx context.Context, bare string, blocked func(jid string) bool) {
	// The user's roster is read once for all sessions, and only if a
	// recipient is left after the block check: most blocks revoke nothing.
	var items []storage.RosterItem
	read := false
	subscriber := func(s *router.Session, contact string) bool {
		if !read {
			read = true
			var err error
			if items, err = p.roster(ctx, s); err != nil {
				// Subscribers may get a second unavailable.
				p.log.ErrorContext(ctx, "presence: directed presence revoked without roster", "jid", s.FullString(), "err", err)
			}
		}
		return hasSubscriber(items, contact)
	}
	for _, s := range p.router.Sessions(bare) {
		v, ok := p.sessions.Load(s)
		if !ok {
			continue // never sent presence: nothing directed to take back
		}
		st := v.(*session)
		st.mu.Lock()
		if !st.gone {
			p.revokeDirected(st, blocked, subscriber)
		}
		p.release(ctx, st)
	}
}

// revokeDirected is RevokeDirected for one session; subscriber reports
// whether a contact (a bare JID) is a subscriber of st's user. st.mu is
// held.
func (p *Presence) revokeDirected(st *session, blocked func(string) bool, subscriber func(*router.Session, string) bool) {
	if len(st.directed) == 0 {
		return
	}
	s := st.s
	own := s.BareString()
	available := st.cur.Load() != nil
	var raw []byte
	n := 0
	for to, bare := range st.directed {
		if bare == own {
			continue
		}
		gone := blocked(to)
		for _, d := range p.recipients(to, bare) {
			if !gone && !blocked(d.FullString()) {
				continue
			}
			if available && subscriber(s, bare) {
				continue // gets the blocking feature's unavailable
			}
			if raw == nil {
				raw = unavailableStanza(s.FullString())
			}
			p.router.Send(d, router.WithTo(raw, to))
			n++
		}
		if gone {
			delete(st.directed, to)
		}
	}
	p.metrics.deliveries.Add(float64(n))
}
