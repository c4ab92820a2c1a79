package jingle

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// nsCarbons is XEP-0280; see carbonEligible.
const nsCarbons = "urn:xmpp:carbons:2"

// appendDelivered appends st as the router delivers a message (see
// router.AppendStamped).
func appendDelivered(dst []byte, st *wire.Stanza, from string, insert []byte) []byte {
	return router.AppendStamped(dst, st, from, insert, false)
}

// appendStanzaID appends a XEP-0359 stanza-id assigned by the account by.
func appendStanzaID(dst []byte, id, by string) []byte {
	dst = append(dst, `<stanza-id xmlns="`+router.NSSID+`" id="`...)
	dst = wire.AppendEscaped(dst, id)
	dst = append(dst, `" by="`...)
	dst = wire.AppendEscaped(dst, by)
	return append(dst, `"/>`...)
}

// carbonEligible reports whether xmpp/carbons copies a call message (of
// type chat or normal: the filter sees no other): it does unless the
// message opts out with <private/> or a <no-copy/> hint. It mirrors the
// carbons package's rules for call messages; a test holds the two
// together.
func carbonEligible(st *wire.Stanza) bool {
	for i := 0; i < st.NumChildren; i++ {
		ch := st.Children[i]
		switch string(ch.NS) {
		case nsCarbons:
			return false
		case NSHints:
			if string(ch.Name) == "no-copy" {
				return false
			}
		}
	}
	if st.NumChildren == wire.MaxChildren {
		rest := st.Raw[st.Children[wire.MaxChildren-1].End:]
		if bytes.Contains(rest, []byte(nsCarbons)) || bytes.Contains(rest, []byte("no-copy")) {
			return false
		}
	}
	return true
}

// jmiMessage is a call message the server makes itself.
type jmiMessage struct {
	from, to, id string // message attributes
	stanzaID, by string // XEP-0359 stanza-id; "" for none
	ns, name     string // the JMI element
	sid          string
	cond, text   string // XEP-0166 reason
	tieBreak     bool   // XEP-0353 <tie-break/>
}

func (j jmiMessage) append(dst []byte) []byte {
	dst = append(dst, `<message from="`...)
	dst = wire.AppendEscaped(dst, j.from)
	dst = append(dst, `" to="`...)
	dst = wire.AppendEscaped(dst, j.to)
	dst = append(dst, `" type="chat" id="`...)
	dst = wire.AppendEscaped(dst, j.id)
	dst = append(dst, `"><`...)
	dst = append(dst, j.name...)
	dst = append(dst, ` xmlns="`...)
	dst = append(dst, j.ns...)
	dst = append(dst, `" id="`...)
	dst = wire.AppendEscaped(dst, j.sid)
	dst = append(dst, `"><reason xmlns="`+NS+`"><`...)
	dst = append(dst, j.cond...)
	dst = append(dst, `/><text>`...)
	dst = wire.AppendEscaped(dst, j.text)
	dst = append(dst, `</text></reason>`...)
	if j.tieBreak {
		dst = append(dst, `<tie-break/>`...)
	}
	dst = append(dst, `</`...)
	dst = append(dst, j.name...)
	dst = append(dst, `><store xmlns="`+NSHints+`"/>`...)
	if j.stanzaID != "" {
		dst = appendStanzaID(dst, j.stanzaID, j.by)
	}
	return append(dst, `</message>`...)
}

// stopKind says why the server stops a call that is ringing.
type stopKind uint8

const (
	timeoutStop stopKind = iota // nobody answered within the ring timeout
	glareStop                   // it lost a tie-break
)

// stop is what the server needs, outside the lock, to stop a ringing call.
type stop struct {
	kind       stopKind
	ns, sid    string
	caller     string // bare JID
	callerFull string // the proposer
	callee     router.Account
	proposer   *router.Session
	reached    []*router.Session
	stored     bool
	rejectFrom string // who the caller's reject comes from
}

// stopOf captures c for stopRinging. rejectFrom "" means the callee's bare
// JID.
func (h *Handler) stopOf(c *call, kind stopKind, rejectFrom string) stop {
	if rejectFrom == "" {
		rejectFrom = c.callee.Bare
	}
	return stop{
		kind: kind, ns: c.ns, sid: c.key.sid, caller: c.key.caller, callerFull: c.callerFull,
		callee: c.callee, proposer: c.proposer, reached: slices.Clone(c.reached), stored: c.stored,
		rejectFrom: rejectFrom,
	}
}

// stopRinging ends a ringing call on the server's initiative: the callee's
// devices (available ones and those the offer reached) get a <retract/>
// from the caller's proposing resource; when none is there and the offer
// was stored offline, the retract is stored after it, so the device reads
// a missed call at its next login; and the proposing resource, if still
// bound, gets a <reject/> so it stops calling. For a call re-armed from
// storage, whose proposing session is not known, that is the session now
// bound to the proposing full JID, if any.
//
// A stored offer may be on its way to a device that is logging in: its
// retract must not overtake it. Offline storage holds the account while
// it delivers, so when every device to tell is one that StoreOffline
// hands messages to (available, priority ≥ 0), the retract goes through
// it, after that delivery.
func (h *Handler) stopRinging(ctx context.Context, p stop) {
	cond, text := "timeout", "Not answered"
	if p.kind == glareStop {
		cond, text = "expired", "Tie-Break"
	}
	tie := p.kind == glareStop
	retract := jmiMessage{
		from: p.callerFull, to: p.callee.Bare, id: h.router.NewID(),
		stanzaID: h.router.NewID(), by: p.callee.Bare,
		ns: p.ns, name: "retract", sid: p.sid, cond: cond, text: text, tieBreak: tie,
	}.append(nil)
	targets := h.ringSet(p.callee.Bare, p.reached, nil)
	if p.stored && h.offline != nil && subset(targets, h.router.AvailableSessions(p.callee.Bare)) {
		h.storeRetract(ctx, p, retract)
	} else {
		for _, t := range targets {
			h.router.Send(t, retract)
		}
	}
	if d := h.router.Session(p.caller, p.callerFull); d != nil && (d == p.proposer || p.proposer == nil) {
		h.router.Send(d, jmiMessage{
			from: p.rejectFrom, to: p.callerFull, id: h.router.NewID(),
			ns: p.ns, name: "reject", sid: p.sid, cond: cond, text: text, tieBreak: tie,
		}.append(nil))
	}
}

// subset reports whether every session of a is in b.
func subset(a, b []*router.Session) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// storeRetract hands a server-made retract to offline storage, which
// delivers it to the callee's available devices or keeps it.
func (h *Handler) storeRetract(ctx context.Context, p stop, raw []byte) {
	st, err := wire.NewFramedDecoder(bytes.NewReader(raw), wire.Limits{MaxStanzaBytes: len(raw) + 1}).Next()
	if err == nil {
		err = h.offline.StoreOffline(ctx, p.proposer, p.callee, st, raw)
	}
	var se stanza.Error
	switch {
	case err == nil:
	case errors.As(err, &se):
		h.log.WarnContext(ctx, "missed-call record not stored", "jid", p.callee.Bare, "sid", p.sid, "err", err)
	default:
		h.log.ErrorContext(ctx, "store missed-call record", "jid", p.callee.Bare, "sid", p.sid, "err", err)
	}
}
