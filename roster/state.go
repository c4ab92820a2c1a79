package roster

import "github.com/ringd/ringd/storage"

// This file is the subscription state machine of RFC 6121 Appendix A as a
// pure function: no storage, no router, no I/O. subscription.go feeds it
// the stored state and carries out what it decides.

// state is one roster item's subscription state as RFC 6121 Appendix A.1
// names it ("None + Pending Out", "To + Pending In", ...), seen from the
// roster's owner, plus the pre-approval flag of §3.4.
type state struct {
	to         bool // the owner receives the contact's presence
	from       bool // the contact receives the owner's presence
	pendingOut bool // the owner asked to subscribe (ask='subscribe')
	pendingIn  bool // the contact asked to subscribe; not shown in the roster
	approved   bool // the owner pre-approved the contact (§3.4)
}

// stateOf returns the state of a stored item (nil: no item) and whether
// the contact has a pending request.
func stateOf(it *storage.RosterItem, pendingIn bool) state {
	st := state{pendingIn: pendingIn}
	if it == nil {
		return st
	}
	switch it.Subscription {
	case storage.SubTo:
		st.to = true
	case storage.SubFrom:
		st.from = true
	case storage.SubBoth:
		st.to, st.from = true, true
	}
	st.pendingOut = it.Ask
	st.approved = it.Approved
	return st
}

// subscription returns the 'subscription' attribute value of st.
func (st state) subscription() storage.Subscription {
	switch {
	case st.to && st.from:
		return storage.SubBoth
	case st.to:
		return storage.SubTo
	case st.from:
		return storage.SubFrom
	}
	return storage.SubNone
}

// apply writes st's item part (subscription, ask, approved) into it.
func (st state) apply(it *storage.RosterItem) {
	it.Subscription = st.subscription()
	it.Ask = st.pendingOut
	it.Approved = st.approved
}

// itemPart reports the part of st that the roster shows; a change in it
// is a roster change (new version, roster push).
func (st state) itemPart() state {
	st.pendingIn = false
	return st
}

// String names st the way RFC 6121 Appendix A does.
func (st state) String() string {
	var s string
	switch {
	case st.to && st.from:
		s = "Both"
	case st.to:
		s = "To"
	case st.from:
		s = "From"
	default:
		s = "None"
	}
	switch {
	case st.pendingOut && st.pendingIn:
		s += " + Pending Out/In"
	case st.pendingOut:
		s += " + Pending Out"
	case st.pendingIn:
		s += " + Pending In"
	}
	if st.approved {
		s += " + Approved"
	}
	return s
}

// direction tells whether the roster's owner sent the stanza (outbound,
// RFC 6121 Appendix A.2) or receives it (inbound, Appendix A.3).
type direction uint8

const (
	outbound direction = iota
	inbound
)

func (d direction) String() string {
	if d == inbound {
		return "inbound"
	}
	return "outbound"
}

// subType is the type of a subscription presence stanza.
type subType uint8

const (
	subscribe subType = iota
	subscribed
	unsubscribe
	unsubscribed
)

func (t subType) String() string {
	switch t {
	case subscribed:
		return "subscribed"
	case unsubscribe:
		return "unsubscribe"
	case unsubscribed:
		return "unsubscribed"
	}
	return "subscribe"
}

// parseSubType maps a presence type attribute to a subType.
func parseSubType(s string) (subType, bool) {
	switch s {
	case "subscribe":
		return subscribe, true
	case "subscribed":
		return subscribed, true
	case "unsubscribe":
		return unsubscribe, true
	case "unsubscribed":
		return unsubscribed, true
	}
	return 0, false
}

// outcome is what the server does about one subscription stanza on one
// roster. "Owner" is the roster's owner, "contact" the other party.
type outcome struct {
	next state
	// forward: outbound, route the stanza to the contact (Appendix A.2
	// "ROUTE?"); inbound, deliver it to the owner's available resources
	// (Appendix A.3 "DELIVER?").
	forward bool
	// push: the item part of the state changed; store it and send a
	// roster push to the owner's interested resources.
	push bool
	// autoReply: inbound subscribe answered with subscribed on the owner's
	// behalf, because the contact already has a subscription (Appendix
	// A.3.1, rows marked *) or was pre-approved (§3.4).
	autoReply bool
	// sendPresence: send the owner's current presence from each available
	// resource to the contact, whose subscription was just approved
	// (§3.1.5).
	sendPresence bool
	// sendUnavailable: send unavailable presence from each of the owner's
	// available resources to the contact, whose subscription ends (§3.2.2,
	// §3.3.3).
	sendUnavailable bool
}

// transition applies one subscription stanza of type t travelling in
// direction d to the owner's state cur. preApproval says whether the server
// supports subscription pre-approval (RFC 6121 §3.4).
func transition(cur state, d direction, t subType, preApproval bool) outcome {
	next := cur
	var o outcome
	switch d {
	case outbound:
		switch t {
		case subscribe: // A.2.1: always routed.
			o.forward = true
			if !cur.to {
				next.pendingOut = true
			}
		case unsubscribe: // A.2.2: always routed.
			o.forward = true
			next.to = false
			next.pendingOut = false
		case subscribed: // A.2.3 and §3.4.
			switch {
			case cur.from:
				// Already subscribed: no state change, not routed.
			case cur.pendingIn:
				o.forward = true
				o.sendPresence = true
				next.from = true
				next.pendingIn = false
				next.approved = false
			case preApproval:
				next.approved = true
			}
		case unsubscribed: // A.2.4 and §3.2.2.
			switch {
			case cur.from || cur.pendingIn:
				o.forward = true
				o.sendUnavailable = cur.from
				next.from = false
				next.pendingIn = false
				next.approved = false
			case cur.approved:
				// §3.2.2 rule 2: cancel the pre-approval, do not route.
				next.approved = false
			}
		}
	case inbound:
		switch t {
		case subscribe: // A.3.1, §3.1.3 and §3.4.
			switch {
			case cur.from:
				o.autoReply = true
				o.sendPresence = true
			case cur.pendingIn:
				// Already pending: not delivered again now; the stored
				// request is delivered at the next initial presence.
			case preApproval && cur.approved:
				o.autoReply = true
				o.sendPresence = true
				next.from = true
				next.approved = false
			default:
				o.forward = true
				next.pendingIn = true
			}
		case unsubscribe: // A.3.2 and §3.3.3.
			if cur.from || cur.pendingIn {
				o.forward = true
				o.sendUnavailable = cur.from
				next.from = false
				next.pendingIn = false
			}
		case subscribed: // A.3.3.
			if cur.pendingOut && !cur.to {
				o.forward = true
				next.to = true
				next.pendingOut = false
			}
		case unsubscribed: // A.3.4 and §3.2.3.
			if cur.pendingOut || cur.to {
				o.forward = true
				next.to = false
				next.pendingOut = false
			}
		}
	}
	o.next = next
	o.push = next.itemPart() != cur.itemPart()
	return o
}
