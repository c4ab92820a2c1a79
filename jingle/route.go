package jingle

import (
	"context"
	"slices"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// msg is a call message from a local session, being filtered.
type msg struct {
	s      *router.Session
	st     *wire.Stanza
	act    action
	ns     string // the JMI namespace it used
	elem   []byte // the JMI element
	sid    string
	track  bool           // the id is short enough to be remembered
	to     router.Account // the addressed account
	toFull bool           // addressed to a full JID
	self   bool           // addressed to the sender's own account
}

var resourceConstraint = stanza.Error{Type: stanza.Wait, Condition: stanza.ResourceConstraint}

// FilterMessage implements router.MessageFilter. A message without a
// XEP-0353 child costs one namespace comparison per child and returns
// false. For call messages it applies the rules in the package
// documentation and returns true when it routed the message itself.
func (h *Handler) FilterMessage(ctx context.Context, s *router.Session, st *wire.Stanza) bool {
	ch, ok := jmiChild(st)
	if !ok || h.router == nil {
		return false
	}
	return h.filter(ctx, s, st, ch)
}

func (h *Handler) filter(ctx context.Context, s *router.Session, st *wire.Stanza, ch wire.Child) bool {
	switch string(st.Type) {
	case "error", "groupchat", "headline":
		// An error may quote the offer it bounces; it is not an offer.
		return false
	}
	act := actionOf(ch.Name)
	if act == actNone {
		return false
	}
	elem := st.Raw[ch.Start:ch.End]
	sid, ok := attrString(elem, "id")
	if !ok || sid == "" {
		return false // not a call message we understand: route it as any other
	}
	m := msg{s: s, st: st, act: act, ns: string(ch.NS), elem: elem, sid: sid, track: len(sid) <= MaxIDBytes}
	if !h.address(s, st, &m) {
		return false // remote, malformed or the server itself: the router answers
	}
	switch act {
	case actPropose:
		return h.propose(ctx, &m)
	case actRinging:
		return h.ringing(ctx, &m)
	case actProceed, actAccept, actReject:
		return h.answer(ctx, &m)
	default: // retract, finish
		return h.end(ctx, &m)
	}
}

// address fills m.to from the message's 'to'; false when it is not a
// local account.
func (h *Handler) address(s *router.Session, st *wire.Stanza, m *msg) bool {
	if st.To == nil {
		m.to = router.Account{Bare: s.BareString(), Local: s.Username()}
		m.self = true
		return true
	}
	j, err := jid.Parse(string(wire.Unescape(st.To)))
	if err != nil || j.Domainpart() != h.router.Domain() || j.Localpart() == "" {
		return false
	}
	m.to = router.Account{Bare: j.Bare().String(), Local: j.Localpart()}
	m.toFull = j.Resourcepart() != ""
	m.self = m.to.Bare == s.BareString()
	return true
}

// verdict is what the registry says about a new offer.
type verdict struct {
	dup     bool   // a retry of an offer already seen
	refused bool   // the caller has too many calls ringing
	lostTo  string // full JID of the proposer whose call beat this one (glare)
	beaten  *stop  // the call this one beat (glare)
}

// ringing reports whether the offer is a new call with nothing to settle
// first: it rings as it is.
func (v verdict) ringing() bool { return !v.dup && !v.refused && v.lostTo == "" && v.beaten == nil }

// propose rings every available resource of the callee (any priority)
// when the offer is for a bare JID; see the package documentation.
func (h *Handler) propose(ctx context.Context, m *msg) bool {
	var ring []*router.Session
	if !m.toFull {
		ring = h.ringSet(m.to.Bare, nil, m.s)
	}
	key := callKey{m.s.BareString(), m.sid}
	var sent []byte // the offer as queued, when queued under the lock
	if m.track {
		now := time.Now()
		h.mu.Lock()
		v := h.offerLocked(m, now)
		h.rearmLocked(now)
		if v.ringing() && !m.toFull && len(ring) > 0 {
			// Queue the offer before anyone can see the call: a glare
			// check by the callee's own offer takes this lock, so the
			// retract it may send follows the propose on every device.
			sent = h.queueAll(m, ring)
			if c := h.reg.get(key); c != nil {
				c.reached = append(c.reached, ring...)
			}
		}
		h.mu.Unlock()
		switch {
		case v.dup:
			h.metrics.duplicates.Inc()
			h.log.DebugContext(ctx, "dropped a retried call offer", "jid", m.s.FullString(), "sid", m.sid)
			return true
		case v.refused:
			h.metrics.refused.Inc()
			h.log.WarnContext(ctx, "refused a call offer: too many calls ringing", "jid", m.s.FullString())
			h.router.Bounce(m.s, m.st, resourceConstraint)
			return true
		case v.lostTo != "":
			h.log.DebugContext(ctx, "glare: the offer lost the tie-break", "jid", m.s.FullString(), "sid", m.sid)
			h.router.Send(m.s, jmiMessage{
				from: v.lostTo, to: m.s.FullString(), id: h.router.NewID(),
				ns: m.ns, name: "reject", sid: m.sid, cond: "expired", text: "Tie-Break", tieBreak: true,
			}.append(nil))
			return true
		case v.beaten != nil:
			h.log.DebugContext(ctx, "glare: the offer won the tie-break", "jid", m.s.FullString(), "sid", m.sid)
			h.stopRinging(ctx, *v.beaten)
		}
	}
	if m.toFull {
		return false // that resource only; MessageRouted learns where it went
	}
	if len(ring) == 0 {
		if m.track && !m.self {
			if ok, err := h.router.UserExists(ctx, m.to.Local); err == nil && !ok {
				h.forget(key) // the router refuses it with service-unavailable
			}
		}
		return false // offline storage, and push, through the router
	}
	if sent != nil {
		h.observe(ctx, m, sent, ring)
		return true
	}
	h.deliverAll(ctx, m, ring)
	return true
}

// offerLocked records a new offer: a duplicate, a refusal, or a new
// ringing call, resolving glare as XEP-0353 (Tie Breaking, no existing
// session) says.
func (h *Handler) offerLocked(m *msg, now time.Time) (v verdict) {
	key := callKey{m.s.BareString(), m.sid}
	if h.reg.get(key) != nil {
		v.dup = true
		return v
	}
	if h.reg.ringing[key.caller] >= h.cfg.MaxRinging {
		v.refused = true
		return v
	}
	c := &call{
		key: key, ns: m.ns, callee: m.to, callerFull: m.s.FullString(), proposer: m.s, state: stateRinging,
		proposed: now, expires: now.Add(h.cfg.RingTimeout),
	}
	var other *call
	if !m.self {
		other = h.reg.ringingFrom(m.to.Bare, key.caller)
	}
	h.addLocked(c)
	if other == nil || other.ns == "" {
		return v
	}
	if beats(c, other) {
		st := h.stopOf(other, glareStop, m.s.FullString())
		v.beaten = &st
		h.endLocked(other, outGlare, now)
		return v
	}
	c.lostGlare = true
	h.endLocked(c, outGlare, now)
	v.lostTo = other.callerFull
	return v
}

// beats reports whether call a overrules call b in a tie-break: the lower
// id in i;octet order (RFC 4790 §9.3, Go's string order) wins; for equal
// ids, the lower caller JID.
func beats(a, b *call) bool {
	if a.key.sid != b.key.sid {
		return a.key.sid < b.key.sid
	}
	return a.key.caller < b.key.caller
}

// forget drops an offer that can never be delivered, counting it failed.
func (h *Handler) forget(k callKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.reg.get(k); c != nil && c.state == stateRinging {
		h.countLocked(c, outFailed)
		h.metrics.active.Dec()
		h.reg.remove(c)
	}
}

// ringing records the first <ringing/> of a call; the router delivers it,
// unless only the proposer (of negative priority) could take it.
func (h *Handler) ringing(ctx context.Context, m *msg) (handled bool) {
	if !m.track || m.self {
		return false
	}
	now := time.Now()
	var proposer *router.Session
	h.mu.Lock()
	c := h.reg.get(callKey{m.to.Bare, m.sid})
	if c != nil && c.callee.Bare == m.s.BareString() {
		proposer = c.proposer
		if c.state == stateRinging && !c.rang {
			c.rang = true
			h.metrics.timeToRing.Observe(now.Sub(c.proposed).Seconds())
		}
	}
	h.mu.Unlock()
	return h.reachProposer(ctx, m, proposer)
}

// answer handles proceed, accept and reject from one of the callee's
// devices: the router delivers it to the caller, and the callee's other
// devices get a copy so they stop ringing.
func (h *Handler) answer(ctx context.Context, m *msg) bool {
	var reached []*router.Session
	var proposer *router.Session
	if m.track && !m.self {
		now := time.Now()
		h.mu.Lock()
		if c := h.reg.get(callKey{m.to.Bare, m.sid}); c != nil && c.callee.Bare == m.s.BareString() {
			reached = slices.Clone(c.reached)
			proposer = c.proposer
			if m.act == actReject {
				o := outRejected
				if hasDescendant(m.elem, "tie-break") {
					o = outGlare
				}
				h.endLocked(c, o, now)
			} else {
				h.answerLocked(c, now)
			}
			h.rearmLocked(now)
		}
		h.mu.Unlock()
	}
	if m.self {
		// XEP-0353 ≤ 0.3: <accept/> to the callee's own bare JID tells its
		// other devices. Every one of them, whatever its priority; the
		// sender needs no echo.
		if targets := h.ringSet(m.to.Bare, nil, m.s); len(targets) > 0 {
			h.deliverAll(ctx, m, targets)
		}
		return true
	}
	h.copyToOwnDevices(m, reached)
	return h.reachProposer(ctx, m, proposer)
}

// reachProposer gives a message for the caller's bare JID (ringing,
// proceed, reject) to the resource that proposed when neither the router
// (which gives it to available resources of non-negative priority) nor
// carbons (a <received/> carbon to carbon-enabled available resources of
// negative priority) will: XEP-0353 calls must work on devices with a
// negative priority.
//
// It reports whether the message is fully handled: it reached the
// proposer and the router has no resource of non-negative priority to give
// it to, so the router would only store it offline, and the caller would
// get the answer a second time at its next login.
func (h *Handler) reachProposer(ctx context.Context, m *msg, p *router.Session) (handled bool) {
	if p == nil || m.toFull || m.s == p {
		return false
	}
	if p.Available() && (p.Priority() >= 0 || h.carbons != nil && carbonEligible(m.st) && h.carbons.Enabled(p)) {
		return false
	}
	if h.router.Session(p.BareString(), p.FullString()) != p {
		return false // gone
	}
	var idbuf [96]byte
	insert := appendStanzaID(idbuf[:0], h.router.NewID(), m.to.Bare)
	raw := appendDelivered(nil, m.st, m.s.FullString(), insert)
	h.router.Send(p, raw)
	if len(h.router.AvailableSessions(m.to.Bare)) > 0 {
		return false
	}
	// Handled here, so the router will not tell its observers (carbons'
	// copy to the sender's other devices, push, dedupe): tell them.
	for _, o := range h.observers {
		o.MessageRouted(ctx, m.s, m.st, m.to, raw, []*router.Session{p})
	}
	return true
}

// copyToOwnDevices sends the sender's other devices (available ones and
// those the offer reached) the message as delivered, except devices that
// get a XEP-0280 <sent/> carbon of it: one copy each, never two.
func (h *Handler) copyToOwnDevices(m *msg, reached []*router.Session) {
	targets := h.ringSet(m.s.BareString(), reached, m.s)
	if len(targets) == 0 {
		return
	}
	carbon := h.carbons != nil && carbonEligible(m.st)
	var raw []byte
	for _, c := range targets {
		if carbon && c.Available() && h.carbons.Enabled(c) {
			continue
		}
		if raw == nil {
			raw = appendDelivered(nil, m.st, m.s.FullString(), nil)
		}
		h.router.Send(c, raw)
		h.metrics.copies.Inc()
	}
}

// end handles retract and finish: they reach every available resource of
// the addressed account and every device the offer reached; with nobody
// there they are stored offline through the router, after the offer.
func (h *Handler) end(ctx context.Context, m *msg) bool {
	var reached []*router.Session
	if m.track {
		now := time.Now()
		h.mu.Lock()
		c := h.reg.get(callKey{m.s.BareString(), m.sid}) // from the caller
		switch {
		case c != nil && c.callee.Bare == m.to.Bare:
			if c.lostGlare {
				// Its offer was never delivered: nobody needs the retract.
				h.mu.Unlock()
				return true
			}
			reached = slices.Clone(c.reached)
		case m.act == actFinish:
			c = h.reg.get(callKey{m.to.Bare, m.sid}) // from the callee
			if c != nil && c.callee.Bare != m.s.BareString() {
				c = nil
			}
		default:
			c = nil
		}
		if c != nil {
			h.closeLocked(c, m.act == actRetract, reasonOf(m.elem), now)
			h.rearmLocked(now)
		}
		h.mu.Unlock()
	}
	targets := h.ringSet(m.to.Bare, reached, m.s)
	if len(targets) == 0 {
		return false
	}
	h.deliverAll(ctx, m, targets)
	return true
}

// ringSet returns the sessions of the account bare that are available
// (any priority) or were reached by the offer, except one.
func (h *Handler) ringSet(bare string, reached []*router.Session, except *router.Session) []*router.Session {
	all := h.router.Sessions(bare) // a fresh slice: filtered in place
	out := all[:0]
	for _, c := range all {
		if c != except && (c.Available() || slices.Contains(reached, c)) {
			out = append(out, c)
		}
	}
	return out
}

// deliverAll sends m to targets as the router would (from stamped, a
// stanza-id assigned by the addressed account) and tells the observers the
// router would have told.
func (h *Handler) deliverAll(ctx context.Context, m *msg, targets []*router.Session) {
	h.observe(ctx, m, h.queueAll(m, targets), targets)
}

// queueAll queues the message for targets (Send never blocks) and returns
// it as queued.
func (h *Handler) queueAll(m *msg, targets []*router.Session) []byte {
	var idbuf [96]byte
	insert := appendStanzaID(idbuf[:0], h.router.NewID(), m.to.Bare)
	raw := appendDelivered(make([]byte, 0, len(m.st.Raw)+len(insert)+64), m.st, m.s.FullString(), insert)
	for _, t := range targets {
		h.router.Send(t, raw)
	}
	return raw
}

// observe tells the router's message observers where raw went.
func (h *Handler) observe(ctx context.Context, m *msg, raw []byte, targets []*router.Session) {
	for _, o := range h.observers {
		o.MessageRouted(ctx, m.s, m.st, m.to, raw, targets)
	}
}

// MessageRouted implements router.MessageObserver: for an offer the router
// routed (to a full JID, or to offline storage), it records where it went.
func (h *Handler) MessageRouted(_ context.Context, s *router.Session, st *wire.Stanza, to router.Account, _ []byte, delivered []*router.Session) {
	ch, ok := jmiChild(st)
	if !ok || string(ch.Name) != "propose" || string(st.Type) == "error" {
		return
	}
	sid, ok := attrString(st.Raw[ch.Start:ch.End], "id")
	if !ok || len(sid) > MaxIDBytes {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.reg.get(callKey{s.BareString(), sid})
	if c == nil || c.state != stateRinging || c.callee.Bare != to.Bare {
		return
	}
	if len(delivered) == 0 {
		c.stored = true
		return
	}
	for _, d := range delivered {
		if !slices.Contains(c.reached, d) {
			c.reached = append(c.reached, d)
		}
	}
}

// closeLocked ends c because a party closed it: with a JMI retract
// (retract), a JMI finish or a Jingle session-terminate carrying the
// XEP-0166 reason condition.
func (h *Handler) closeLocked(c *call, retract bool, reason string, now time.Time) {
	o := outAnswered
	switch {
	case c.state == stateConnected:
		// counted at session-accept
	case retract:
		o = outCancelled
	case reason == "decline" || reason == "busy":
		o = outRejected
	case failure(reason):
		o = outFailed
	case c.state == stateRinging || reason == "cancel":
		o = outCancelled
	}
	h.endLocked(c, o, now)
}
