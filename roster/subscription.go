package roster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Every contact is an account of this server, so the server is both the
// user's server and the contact's: a subscription stanza is processed
// outbound on the sender's roster (RFC 6121 Appendix A.2) and, when that
// says to route it, inbound on the recipient's roster (Appendix A.3). The
// two steps take the two users' locks one after the other, never together.

// HandleSubscription processes subscribe, subscribed, unsubscribe and
// unsubscribed presence sent by a local session (RFC 6121 §3). The router
// has already answered stanzas for other domains (remote-server-not-found).
func (r *Roster) HandleSubscription(ctx context.Context, p *router.Stanza) {
	t, ok := parseSubType(p.Type)
	if !ok {
		return
	}
	s := p.Session
	if !p.HasTo || p.To.Localpart() == "" {
		// Subscriptions are between accounts; the server itself and its
		// domain/resource addresses hold no roster.
		r.log.DebugContext(ctx, "subscription stanza not addressed to an account ignored", "jid", s.FullString(), "type", p.Type)
		return
	}
	contact := p.To.Bare()
	if contact.String() == s.BareString() {
		// The server shares a user's presence with the user's own
		// resources anyway; there is no roster item for the own account.
		r.log.DebugContext(ctx, "subscription stanza to the own account ignored", "jid", s.FullString(), "type", p.Type)
		return
	}
	// As the contact gets it: from the user's bare JID (§3.1.2) and to the
	// contact's bare JID (§3.1.3: a full JID is treated as the bare one).
	raw := wire.AppendRewritten(nil, p.St, s.BareString(), nil)
	if p.To.Resourcepart() != "" {
		raw = setAttr(raw, "to", contact.String())
	}
	c := contact.String()
	o, err := r.apply(ctx, s.Username(), s.BareString(), c, outbound, t, nil)
	if err != nil {
		var se stanza.Error
		if !errors.As(err, &se) {
			r.log.ErrorContext(ctx, "subscription processing failed", "jid", s.FullString(), "contact", c, "type", p.Type, "err", err)
			se = stanza.Error{Type: stanza.Cancel, Condition: stanza.InternalServerError}
		}
		r.rt.Bounce(s, p.St, se)
		return
	}
	r.carryOut(ctx, s.JID().Bare(), contact, t, o, raw)
}

// carryOut does what outbound processing on owner's roster decided for a
// stanza of type t to contact: unavailable presence before a cancellation
// (§3.2.2), the stanza itself, presence after an approval (§3.1.5).
func (r *Roster) carryOut(ctx context.Context, owner, contact jid.JID, t subType, o outcome, raw []byte) {
	if o.sendUnavailable {
		r.sendUnavailable(owner.String(), contact.String())
	}
	if o.forward {
		r.route(ctx, owner, contact, t, raw)
	}
	if o.sendPresence {
		r.sendPresence(owner.String(), contact.String())
	}
}

// route hands a subscription stanza of type t from the account from to the
// account to, acting as the recipient's server.
func (r *Roster) route(ctx context.Context, from, to jid.JID, t subType, raw []byte) {
	exists, err := r.rt.UserExists(ctx, to.Localpart())
	if err != nil {
		r.log.ErrorContext(ctx, "account lookup failed", "jid", to.String(), "err", err)
		return
	}
	if !exists {
		// RFC 6121 §3.1.3 and §8.5.1: a request to an account that does
		// not exist is answered with unsubscribed, so the requester's
		// Pending Out ends; the other types are ignored.
		if t == subscribe {
			reply := buildPresence(to.String(), from.String(), "unsubscribed", r.rt.NewID())
			r.inbound(ctx, from, to, unsubscribed, reply)
		}
		return
	}
	r.inbound(ctx, to, from, t, raw)
}

// inbound processes a subscription stanza of type t from the account from
// on owner's roster (RFC 6121 Appendix A.3) and carries out the outcome:
// delivery to owner's available resources, an auto-reply, presence.
func (r *Roster) inbound(ctx context.Context, owner, from jid.JID, t subType, raw []byte) {
	ob, f := owner.String(), from.String()
	o, err := r.apply(ctx, owner.Localpart(), ob, f, inbound, t, raw)
	if err != nil {
		r.log.ErrorContext(ctx, "inbound subscription processing failed", "jid", ob, "contact", f, "type", t.String(), "err", err)
		return
	}
	if o.forward {
		r.deliver(ob, raw)
	}
	if o.autoReply {
		// Approved on the owner's behalf: the subscriber's roster sees
		// the approval as from the owner's bare JID.
		r.inbound(ctx, from, owner, subscribed, buildPresence(ob, f, "subscribed", r.rt.NewID()))
	}
	if o.sendPresence {
		r.sendPresence(ob, f)
	}
	if o.sendUnavailable {
		r.sendUnavailable(ob, f)
	}
}

// apply runs the state machine for one stanza on owner's item for contact
// under owner's lock and stores the result: the item (new version, roster
// push) when it changed, the pending request req when the contact's
// request became pending, its deletion when it was answered or withdrawn.
func (r *Roster) apply(ctx context.Context, owner, ownerBare, contact string, d direction, t subType, req []byte) (outcome, error) {
	defer r.lock(owner)()
	var item *storage.RosterItem
	it, err := r.store.RosterItem(ctx, owner, contact)
	switch {
	case err == nil:
		item = &it
	case !errors.Is(err, storage.ErrNotFound):
		return outcome{}, fmt.Errorf("roster: load %s in %s: %w", contact, ownerBare, err)
	}
	pendingIn, err := r.store.HasSubscriptionRequest(ctx, owner, contact)
	if err != nil {
		return outcome{}, fmt.Errorf("roster: load request of %s to %s: %w", contact, ownerBare, err)
	}
	cur := stateOf(item, pendingIn)
	o := transition(cur, d, t, true)
	r.log.DebugContext(ctx, "subscription", "jid", ownerBare, "contact", contact,
		"direction", d.String(), "type", t.String(), "state", cur.String(), "next", o.next.String())
	if o.push {
		if item == nil {
			if err := r.checkRoom(ctx, owner); err != nil {
				return outcome{}, err
			}
			item = &storage.RosterItem{Contact: contact}
		}
		o.next.apply(item)
		if err := r.putItem(ctx, owner, ownerBare, *item); err != nil {
			return outcome{}, err
		}
	}
	switch {
	case o.next.pendingIn && !cur.pendingIn:
		pr := storage.SubscriptionRequest{Contact: contact, Stanza: req, Created: time.Now()}
		if err := r.store.PutSubscriptionRequest(ctx, owner, pr); err != nil {
			return outcome{}, fmt.Errorf("roster: keep request of %s to %s: %w", contact, ownerBare, err)
		}
	case !o.next.pendingIn && cur.pendingIn:
		if err := r.store.DeleteSubscriptionRequest(ctx, owner, contact); err != nil {
			return outcome{}, fmt.Errorf("roster: drop request of %s to %s: %w", contact, ownerBare, err)
		}
	}
	return o, nil
}

// deliver sends raw to every available resource of the account bare.
func (r *Roster) deliver(bare string, raw []byte) {
	for _, s := range r.rt.Sessions(bare) {
		if s.Available() {
			r.rt.Send(s, raw)
		}
	}
}

// sendPresence sends the current presence of each available resource of
// the account from to the available resources of the account to (RFC 6121
// §3.1.5).
func (r *Roster) sendPresence(from, to string) {
	for _, s := range r.rt.Sessions(from) {
		p := s.Presence()
		if !s.Available() || p == nil {
			continue
		}
		r.deliver(to, router.WithTo(p, to))
	}
}

// sendUnavailable sends unavailable presence from each available resource
// of the account from to the available resources of the account to (RFC
// 6121 §3.2.2, §3.3.3).
func (r *Roster) sendUnavailable(from, to string) {
	for _, s := range r.rt.Sessions(from) {
		if s.Available() {
			r.deliver(to, buildPresence(s.FullString(), to, "unavailable", ""))
		}
	}
}
