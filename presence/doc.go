// Package presence implements availability presence for local sessions:
// the non-subscription part of RFC 6121 §4.
//
// It owns:
//   - broadcast presence (§4.2 initial, §4.4 subsequent, §4.5
//     unavailable): recording each session's current presence on its
//     router.Session, and delivering it to every contact whose roster item
//     has subscription "from" or "both" and to all of the user's own
//     available resources, the sending one included (§4.2.2: an entity is
//     implicitly subscribed to its own presence);
//   - presence probes answered locally (§4.3): at initial presence the new
//     session gets the current presence of each contact it is subscribed
//     to and of the user's other available resources, each with a XEP-0203
//     delay element stamped with the time that presence was set; probes
//     sent by clients are answered the same way, for subscribed probers
//     only;
//   - directed presence (§4.6): delivered to the addressee, and remembered
//     so that the sender's later unavailable presence (explicit, or the one
//     generated when the session ends) reaches it too;
//   - presence errors addressed to a full JID, and the unavailable
//     broadcast when a session ends without saying goodbye.
//
// Every contact lives on this server, so the package plays both the user's
// and the contact's server: a probe never leaves the process, it is
// answered from the sessions' recorded presence. Which contacts see a
// user's presence is decided by the user's roster ("from"/"both"); whether a
// user may see a contact's presence is decided by the contact's roster, as
// the contact's server would (§4.3.2).
//
// It must not manage subscriptions: subscribe, subscribed, unsubscribe and
// unsubscribed (RFC 6121 §3) belong to the roster package, which the router
// hands them to; this package only reads rosters. It must not block on a
// session: everything goes out through router.Send, which only enqueues.
//
// Blocking (XEP-0191): presence this package sends itself does not pass
// the router's stanza gate, so with a Config.Blocker it keeps every kind
// of it (broadcasts, probe answers, directed presence to a bare JID, the
// unavailable presence of a session that ends) from crossing a block: a
// session gets no presence from a JID its user blocked, nor from a user
// who blocked its JID (§3.3). When a user blocks a JID that got directed
// presence, RevokeDirected sends it the unavailable presence it would
// otherwise never get. The common case, nobody blocking anybody, costs
// one cached lookup per account a broadcast reaches and no allocation.
//
// All broadcasts go through one fan-out path (Presence.fanout), where
// per-contact coalescing and per-session rate limiting ("signal, then
// fetch", ARCHITECTURE.md) can be added without touching the protocol
// logic.
//
// Locking: each session's presence state has one mutex that serialises the
// session's own presence handling with its unbind; it is held while the
// session's broadcast is delivered, so that a contact never sees an
// available presence arrive after the unavailable one. No other mutex of
// this package is ever taken while it is held, and the unbind hook never
// waits for it (see Presence.release).
package presence
