// Package blocking implements XEP-0191 Blocking Command (version 1.3): a
// user's list of blocked JIDs, kept in storage.Blocks, and its enforcement
// on everything the router routes.
//
// # Commands
//
// The server advertises urn:xmpp:blocking. A client gets its list with
// <blocklist/> (which makes that session an "interested resource"),
// blocks with <block/> (at least one item, else bad-request) and unblocks
// with <unblock/> (no item: unblock all). An item's jid may be a full
// JID, a bare JID, a domain or a domain/resource; it is stored in
// canonical form, and one that does not parse is jid-malformed. A change
// is pushed, as an IQ set with the items of the command, to every
// interested resource of the account, the sender's included. A list
// holds at most Config.MaxItems JIDs (policy-violation beyond).
//
// When a block or unblock changes whether a local contact's resource is
// blocked, the user's available resources and that contact's available
// resources exchange presence as the roster allows: a contact with
// subscription from or both gets unavailable presence from each of the
// user's resources on block, their current presence on unblock; and if
// the user is subscribed to the contact (to or both), the user's
// resources get the contact's unavailable or current presence, so no
// client keeps showing a blocked contact online. The user's sessions that
// sent directed presence (RFC 6121 §4.6) to a newly blocked JID send it
// unavailable presence too: the presence feature, which alone knows where
// directed presence went, does it when asked (DirectedPresence, installed
// with SetDirected).
//
// # Enforcement
//
// The Handler is the router's StanzaGate: it sees every stanza a local
// session sends, before message filters (dedupe, carbons, jingle), IQ
// handlers, presence handlers, delivery, offline storage and push. So a
// blocked sender's message is never stored offline and never wakes a
// device, and a XEP-0353 call offer from a blocked caller is refused at
// once instead of ringing anybody.
//
//   - From a blocked JID to the user (inbound): a message gets
//     service-unavailable (XEP-0191 §3.3: the user appears offline), an IQ
//     get or set service-unavailable, presence of any type no answer;
//     errors and IQ results are dropped.
//   - From the user to a JID they blocked (outbound): not-acceptable with
//     <blocked xmlns='urn:xmpp:blocking:errors'/>, type cancel, for every
//     kind; errors and IQ results are dropped.
//
// Matching follows XEP-0191 §JID Matching: an item that is a full JID or
// a domain/resource matches only that address; a bare JID every resource
// of the account; a domain the domain and every JID at it. Subdomains do
// not match. Stanzas between the resources of one account are never
// blocked, nor stanzas to the server itself (a user who blocks the
// server's domain blocks its other users, not the server).
//
// Presence the presence feature sends itself (broadcasts to subscribers,
// the answers to the probes of a login, the unavailable presence of a
// session that ends) does not pass the router's gate: that feature asks
// BlocksAnyone and Blocks, which answer from the same cache, and sends
// nothing across a block either way.
//
// # Cost
//
// Block lists are cached per user (loaded on first use, dropped on
// change, at most Config.MaxCached of them), so the gate's check is two
// map lookups; an address written in canonical form whose account's list
// is cached is not even parsed. A list that cannot be read refuses the
// stanza with internal-server-error rather than risk letting a blocked
// JID through. A list changed outside the server (an account deleted
// with the command line) is seen when its cache entry is next dropped.
package blocking
