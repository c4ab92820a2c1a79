package jingle

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// storedLimits decode stored messages: bytes the server wrote itself.
var storedLimits = wire.Limits{MaxDepth: 1 << 10, MaxAttrs: 1 << 10}

// jmiPrefix is what every XEP-0353 namespace starts with: a stored
// message without it is no call message and is not decoded.
var jmiPrefix = []byte(NSJMI[:len(NSJMI)-1])

// storedCall is a call message found in offline storage.
type storedCall struct {
	i        int // index in the run
	act      action
	ns, sid  string
	from     string // unescaped; the router stamped it, so canonical
	proposed time.Time
}

// FollowStored implements xmpp/offline's Follower. The ring timer does
// not survive a restart, so it takes over for stored offers that nothing
// stored after them ends (no <retract/>, <finish/>, <proceed/>, <accept/>
// or <reject/> of the same id) and that the registry does not know:
//
//   - An offer whose ring timeout has passed is followed, in the same
//     delivery, by the <retract/> with reason <timeout/> that the timer
//     would have stored: from the caller's proposing resource, stamped
//     with the time the call timed out. The device that logs in reads a
//     missed call instead of ringing for a call that is long dead.
//   - An offer still within its ring timeout rings, and is re-armed: it
//     enters the registry with the time it has left, so the ring timer
//     ends it as it would have (a retract to the callee's devices, the
//     reject to the caller's proposing resource if it is bound again)
//     unless the caller, a device or a tie-break ends it first.
//
// Either way the call counts as missed once: a call the registry knows is
// its timer's to count, and one already counted from storage is
// remembered (Config.MaxCounted), so an offer delivered again after a
// delivery was cut short is not counted again.
//
// When such an offer ends a run that is not the last, whether a later
// message ends it is not known yet: FollowStored judges the run up to
// that offer, and offline delivery shows it again with what follows.
func (h *Handler) FollowStored(ctx context.Context, to router.Account, msgs []storage.OfflineMessage, last bool, now time.Time) (int, []storage.OfflineMessage) {
	if h.router == nil {
		return len(msgs), nil
	}
	var calls []storedCall
	for i, m := range msgs {
		if !bytes.Contains(m.Stanza, jmiPrefix) {
			continue
		}
		if c, ok := parseStored(m.Stanza); ok {
			c.i, c.proposed = i, m.Created
			calls = append(calls, c)
		}
	}
	var after []storage.OfflineMessage
	for k, c := range calls {
		if c.act != actPropose || endedLater(calls[k+1:], c.sid) {
			continue
		}
		if !last {
			// Only later messages can say whether this offer was ended.
			if len(after) > c.i {
				after = after[:c.i]
			}
			return c.i, after
		}
		bare, _, _ := strings.Cut(c.from, "/")
		key := callKey{bare, c.sid}
		if now.Before(c.proposed.Add(h.cfg.RingTimeout)) {
			if h.rearm(key, to, c, now) {
				h.log.DebugContext(ctx, "a stored call offer rings again until its ring timeout", "jid", to.Bare, "sid", c.sid)
			}
			continue
		}
		if after == nil {
			after = make([]storage.OfflineMessage, len(msgs))
		}
		after[c.i] = storage.OfflineMessage{
			Stanza:  h.missedRetract(to, c),
			Created: c.proposed.Add(h.cfg.RingTimeout),
		}
		h.countMissed(key)
		h.log.DebugContext(ctx, "a stored call offer timed out while nobody ended it", "jid", to.Bare, "sid", c.sid)
	}
	return len(msgs), after
}

// parseStored reads the call message in a stored stanza.
func parseStored(raw []byte) (storedCall, bool) {
	lim := storedLimits
	lim.MaxStanzaBytes = len(raw) + 1
	st, err := wire.NewFramedDecoder(bytes.NewReader(raw), lim).Next()
	if err != nil || st.Kind != wire.KindMessage || string(st.Type) == "error" {
		return storedCall{}, false
	}
	ch, ok := jmiChild(st)
	if !ok {
		return storedCall{}, false
	}
	act := actionOf(ch.Name)
	sid, ok := attrString(st.Raw[ch.Start:ch.End], "id")
	if act == actNone || !ok || sid == "" {
		return storedCall{}, false
	}
	return storedCall{act: act, ns: string(ch.NS), sid: sid, from: string(wire.Unescape(st.From))}, true
}

// endedLater reports whether one of calls ends the call sid.
func endedLater(calls []storedCall, sid string) bool {
	for _, c := range calls {
		if c.sid != sid {
			continue
		}
		switch c.act {
		case actRetract, actFinish, actProceed, actAccept, actReject:
			return true
		}
	}
	return false
}

// missedRetract is the retract the ring timer would have stored for c.
func (h *Handler) missedRetract(to router.Account, c storedCall) []byte {
	return jmiMessage{
		from: c.from, to: to.Bare, id: h.router.NewID(),
		stanzaID: h.router.NewID(), by: to.Bare,
		ns: c.ns, name: "retract", sid: c.sid, cond: "timeout", text: "Not answered",
	}.append(nil)
}

// countMissed counts a call whose missed-call record was made at delivery,
// unless the registry knows it (then it was counted when it ended, or will
// be when its timer fires) or it was counted from storage before.
func (h *Handler) countMissed(k callKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reg.get(k) != nil || !h.reg.counted.add(k) {
		return
	}
	h.metrics.calls[outMissed].Inc()
}

// rearm registers the stored offer c, still within its ring timeout, as a
// ringing call of the account to, unless the registry knows the call
// (this server rang it, or re-armed it at an earlier delivery) or counted
// it already. It reports whether it did. The entry's deadline is the
// offer's own, so the timer ends the call when the server that rang it
// would have; the call is marked stored, so the timer's retract waits for
// the delivery under way (see stopRinging) and is kept when no device is
// left to take it.
func (h *Handler) rearm(k callKey, to router.Account, c storedCall, now time.Time) bool {
	if len(k.sid) > MaxIDBytes {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.reg.get(k) != nil || h.reg.counted.has(k) {
		return false
	}
	h.addLocked(&call{
		key: k, ns: c.ns, callee: to, callerFull: c.from, state: stateRinging, stored: true,
		proposed: c.proposed, expires: c.proposed.Add(h.cfg.RingTimeout),
	})
	h.rearmLocked(now)
	return true
}
