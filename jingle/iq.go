package jingle

import (
	"context"
	"strings"
	"time"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// actions are the XEP-0166 §7.2 actions.
var actions = map[string]bool{
	"content-accept": true, "content-add": true, "content-modify": true, "content-reject": true,
	"content-remove": true, "description-info": true, "security-info": true, "session-accept": true,
	"session-info": true, "session-initiate": true, "session-terminate": true, "transport-accept": true,
	"transport-info": true, "transport-reject": true, "transport-replace": true,
}

func badRequest(text string) stanza.Error {
	return stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest, Text: map[string]string{"": text}}
}

// HandleIQ implements router.IQHandler for Jingle IQs addressed to the
// server itself, which is no Jingle endpoint: a malformed request (not a
// set, no valid action, no sid) is answered bad-request (XEP-0166 §7.2,
// RFC 6120 §8.3.3.1); a session-initiate service-unavailable (the server
// takes no sessions, RFC 6120 §8.3.3.19); any other action item-not-found,
// XEP-0166's answer for a session the recipient does not know. (XEP-0166
// adds <unknown-session xmlns='urn:xmpp:jingle:errors:1'/>; a handler can
// return only a defined condition and text, so the text says it.)
func (h *Handler) HandleIQ(_ context.Context, iq *router.IQ) ([]byte, error) {
	if !iq.Set || string(iq.Payload.Name) != "jingle" {
		return nil, badRequest("a Jingle request is a set with a <jingle/> element")
	}
	p := iq.PayloadXML()
	act, _ := attrString(p, "action")
	sid, _ := attrString(p, "sid")
	switch {
	case !actions[act]:
		return nil, badRequest("no valid action")
	case sid == "":
		return nil, badRequest("no sid")
	case act == "session-initiate":
		return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	}
	return nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound, Text: map[string]string{"": "unknown-session"}}
}

// ObserveIQ records the Jingle session of a call: from sent st, an IQ with
// a <jingle/> child (urn:xmpp:jingle:1) to another local session. The
// router calls it for such IQs; it only reads and never blocks or routes.
// session-initiate of a call not offered by XEP-0353 starts one in the
// registry (it then ends as missed without any stop message, there being
// no offer to retract); session-accept marks a call connected (the end of
// ringd_jingle_call_setup_seconds); session-terminate ends it, the reason
// deciding the outcome.
func (h *Handler) ObserveIQ(_ context.Context, from *router.Session, st *wire.Stanza) {
	if string(st.Type) != "set" || st.To == nil {
		return
	}
	ch, ok := st.Child(NS, "jingle")
	if !ok {
		return
	}
	elem := st.Raw[ch.Start:ch.End]
	act, _ := attr(elem, "action")
	switch string(act) {
	case "session-initiate", "session-accept", "session-terminate":
	default:
		return
	}
	sid, ok := attrString(elem, "sid")
	if !ok || sid == "" || len(sid) > MaxIDBytes {
		return
	}
	toBare := string(bareOf(wire.Unescape(st.To)))
	fromBare := from.BareString()
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.reg.get(callKey{fromBare, sid}) // sent by the caller
	if c == nil || c.callee.Bare != toBare {
		c = h.reg.get(callKey{toBare, sid}) // sent by the callee
		if c != nil && c.callee.Bare != fromBare {
			c = nil
		}
	}
	switch string(act) {
	case "session-initiate":
		if c != nil || toBare == fromBare || h.reg.get(callKey{fromBare, sid}) != nil ||
			h.reg.ringing[fromBare] >= h.cfg.MaxRinging {
			break
		}
		local, _, _ := strings.Cut(toBare, "@")
		h.addLocked(&call{
			key: callKey{fromBare, sid}, callee: router.Account{Bare: toBare, Local: local},
			callerFull: from.FullString(), proposer: from, state: stateRinging, proposed: now, expires: now.Add(h.cfg.RingTimeout),
		})
	case "session-accept":
		if c != nil {
			h.acceptLocked(c, now)
		}
	case "session-terminate":
		if c != nil {
			h.closeLocked(c, false, reasonOf(elem), now)
		}
	}
	h.rearmLocked(now)
}

// acceptLocked records a session-accept: the call is answered and its
// media negotiated.
func (h *Handler) acceptLocked(c *call, now time.Time) {
	switch c.state {
	case stateAnswered:
		h.metrics.callSetup.Observe(now.Sub(c.answered).Seconds())
	case stateRinging:
		// Offered by Jingle alone (or its proceed was not seen).
		c.answered = now
		h.metrics.timeToAnswer.Observe(now.Sub(c.proposed).Seconds())
	default:
		return
	}
	h.countLocked(c, outAnswered)
	h.reg.setState(c, stateConnected, now.Add(h.cfg.CallTimeout))
}
