package roster

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

// xmlIQ is a roster get or set as encoding/xml reads it. The whole IQ is
// decoded (not only the query) so that namespace prefixes declared on the
// <iq/> resolve; elements of other namespaces are ignored.
type xmlIQ struct {
	Query *xmlQuery `xml:"jabber:iq:roster query"`
}

type xmlQuery struct {
	Ver   *string   `xml:"ver,attr"`
	Items []xmlItem `xml:"jabber:iq:roster item"`
}

// xmlItem is an <item/> of a roster set. Groups hold the character data
// of each <group/>. A roster note (a <note/> child) would be one more
// field here; an absent note must keep the stored one.
type xmlItem struct {
	JID          *string  `xml:"jid,attr"`
	Name         string   `xml:"name,attr"`
	Subscription string   `xml:"subscription,attr"`
	Groups       []string `xml:"jabber:iq:roster group"`
}

// HandleIQ serves roster gets and sets (RFC 6121 §2) for the sender's own
// roster; a roster IQ addressed to another account is forbidden
// (§2.3.3).
func (r *Roster) HandleIQ(ctx context.Context, iq *router.IQ) ([]byte, error) {
	s := iq.Session
	if iq.Account() != s.BareString() {
		return nil, router.StanzaError(stanza.Auth, stanza.Forbidden, "")
	}
	var doc xmlIQ
	if err := xml.Unmarshal(iq.Raw, &doc); err != nil || doc.Query == nil {
		return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "malformed roster query")
	}
	if !iq.Set {
		return r.get(ctx, s, doc.Query)
	}
	return r.set(ctx, s, doc.Query)
}

// get answers a roster get (RFC 6121 §2.2) and makes the session an
// interested resource. With XEP-0237 versioning, a client that already
// holds the current version gets an empty result; any other gets the whole
// roster with its version.
func (r *Roster) get(ctx context.Context, s *router.Session, q *xmlQuery) ([]byte, error) {
	// Interested first: a change made between the read below and the
	// result then still reaches the client as a push.
	s.SetRosterRequested()
	items, ver, err := r.store.Roster(ctx, s.Username())
	if err != nil {
		return nil, fmt.Errorf("roster: get %s: %w", s.BareString(), err)
	}
	v := strconv.FormatInt(ver, 10)
	if q.Ver != nil && *q.Ver == v {
		return nil, nil
	}
	b := make([]byte, 0, 64+len(items)*96)
	b = append(b, `<query xmlns="`+NS+`" ver="`...)
	b = append(b, v...)
	b = append(b, `">`...)
	for _, it := range items {
		b = appendItem(b, it)
	}
	return append(b, `</query>`...), nil
}

// set handles a roster set: add, update (RFC 6121 §2.3, §2.4) or remove
// (§2.5) one item.
func (r *Roster) set(ctx context.Context, s *router.Session, q *xmlQuery) ([]byte, error) {
	if len(q.Items) != 1 {
		return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "a roster set carries exactly one item")
	}
	in := q.Items[0]
	if in.JID == nil {
		return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "item without jid")
	}
	j, err := jid.Parse(*in.JID)
	if err != nil {
		return nil, router.StanzaError(stanza.Modify, stanza.JIDMalformed, "")
	}
	if j.Resourcepart() != "" {
		return nil, router.StanzaError(stanza.Modify, stanza.BadRequest, "roster items are bare JIDs")
	}
	if j.String() == s.BareString() {
		return nil, router.StanzaError(stanza.Cancel, stanza.NotAllowed, "the own account is not a roster item")
	}
	if in.Subscription == "remove" {
		return nil, r.remove(ctx, s, j)
	}
	// Any other subscription value from a client is ignored (§2.1.2.5).
	if err := r.checkItem(in); err != nil {
		return nil, err
	}
	return nil, r.update(ctx, s, j.String(), in)
}

// checkItem applies the error cases of RFC 6121 §2.3.3 and our limits.
func (r *Roster) checkItem(in xmlItem) error {
	if len(in.Name) > r.cfg.MaxTextBytes {
		return router.StanzaError(stanza.Modify, stanza.NotAcceptable, "name too long")
	}
	if len(in.Groups) > r.cfg.MaxGroups {
		return router.StanzaError(stanza.Modify, stanza.NotAcceptable, "too many groups")
	}
	for i, g := range in.Groups {
		switch {
		case g == "":
			return router.StanzaError(stanza.Modify, stanza.NotAcceptable, "empty group")
		case len(g) > r.cfg.MaxTextBytes:
			return router.StanzaError(stanza.Modify, stanza.NotAcceptable, "group name too long")
		case slices.Contains(in.Groups[:i], g):
			return router.StanzaError(stanza.Modify, stanza.BadRequest, "duplicate group")
		}
	}
	return nil
}

// update adds or changes the item for contact. Subscription, ask and
// approved belong to the server and stay as they are; a set that changes
// nothing is answered without a new version or a push, so a client's retry
// is harmless.
func (r *Roster) update(ctx context.Context, s *router.Session, contact string, in xmlItem) error {
	user := s.Username()
	defer r.lock(user)()
	it, err := r.store.RosterItem(ctx, user, contact)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if err := r.checkRoom(ctx, user); err != nil {
			return err
		}
		it = storage.RosterItem{Contact: contact, Subscription: storage.SubNone}
	case err != nil:
		return fmt.Errorf("roster: set %s in %s: %w", contact, s.BareString(), err)
	case it.Name == in.Name && slices.Equal(it.Groups, in.Groups):
		return nil
	}
	it.Name = in.Name
	it.Groups = in.Groups
	return r.putItem(ctx, user, s.BareString(), it)
}

// checkRoom refuses a new item when the user's roster is full.
func (r *Roster) checkRoom(ctx context.Context, user string) error {
	items, _, err := r.store.Roster(ctx, user)
	if err != nil {
		return fmt.Errorf("roster: count items of %s: %w", user, err)
	}
	if len(items) >= r.cfg.MaxItems {
		return router.StanzaError(stanza.Cancel, stanza.ResourceConstraint, "roster is full")
	}
	return nil
}

// remove deletes the item for contact (RFC 6121 §2.5.2), pushes the
// removal, then cancels the subscriptions in both directions as the
// contact's server would see them: unsubscribe when the user was
// subscribed or asking, unavailable presence and unsubscribed when the
// contact was subscribed or asking.
func (r *Roster) remove(ctx context.Context, s *router.Session, contact jid.JID) error {
	user, bare, c := s.Username(), s.BareString(), contact.String()
	unlock := r.lock(user)
	it, err := r.store.RosterItem(ctx, user, c)
	if errors.Is(err, storage.ErrNotFound) {
		unlock()
		return router.StanzaError(stanza.Cancel, stanza.ItemNotFound, "")
	}
	if err != nil {
		unlock()
		return fmt.Errorf("roster: remove %s from %s: %w", c, bare, err)
	}
	pendingIn, err := r.store.HasSubscriptionRequest(ctx, user, c)
	if err != nil {
		unlock()
		return fmt.Errorf("roster: remove %s from %s: %w", c, bare, err)
	}
	ver, err := r.store.DeleteRosterItem(ctx, user, c)
	if err != nil {
		unlock()
		if errors.Is(err, storage.ErrNotFound) {
			return router.StanzaError(stanza.Cancel, stanza.ItemNotFound, "")
		}
		return fmt.Errorf("roster: remove %s from %s: %w", c, bare, err)
	}
	if pendingIn {
		if err := r.store.DeleteSubscriptionRequest(ctx, user, c); err != nil {
			r.log.ErrorContext(ctx, "deleting answered subscription request failed", "jid", bare, "contact", c, "err", err)
		}
	}
	unlock()
	r.push(bare, ver, appendRemovedItem(nil, c))

	cur := stateOf(&it, pendingIn)
	if !r.isLocal(contact) {
		return nil
	}
	from := s.JID().Bare()
	if cur.to || cur.pendingOut {
		r.route(ctx, from, contact, unsubscribe, buildPresence(bare, c, "unsubscribe", r.rt.NewID()))
	}
	if cur.from || cur.pendingIn {
		if cur.from {
			r.sendUnavailable(bare, c)
		}
		r.route(ctx, from, contact, unsubscribed, buildPresence(bare, c, "unsubscribed", r.rt.NewID()))
	}
	return nil
}

// isLocal reports whether j is an account address of the served domain.
func (r *Roster) isLocal(j jid.JID) bool {
	return j.Localpart() != "" && j.Domainpart() == r.rt.Domain()
}
