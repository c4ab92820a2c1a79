// Package jingle sets up calls. It routes XEP-0353 Jingle Message
// Initiation messages (urn:xmpp:jingle-message:0, and :1 of versions
// 0.4–0.5) so that an offer rings every device of the callee and the
// answer on one device stops the others. It also keeps a registry of calls
// for glare, retried offers, ring timeouts and metrics, and times the
// XEP-0166 Jingle session (urn:xmpp:jingle:1) that follows.
//
// # Routing rules
//
// The package is a router.MessageFilter. Messages with no XEP-0353 child
// pass at the cost of one namespace comparison per child. Messages of type
// error (an error can quote the offer it bounces), groupchat or headline,
// messages with no id on the call element, and messages for other domains
// are left to the router.
//
//   - <propose/> to a bare JID goes to every available resource of the
//     callee, whatever its priority (XEP-0353 Requirements: "devices that
//     use negative resource priorities"), whether or not it enabled
//     carbons. It is routed here and the router is told it was handled.
//     When no resource is available, the router stores it offline
//     (xmpp/offline keeps call messages) and its observers (push) see it.
//     An offer to an account that does not exist gets service-unavailable
//     from the router at once. <propose/> to a full JID takes the router's
//     normal path.
//   - <ringing/>, <proceed/>, <reject/> and <accept/> to the caller take
//     the router's normal path. When they are addressed to the caller's
//     bare JID, the resource that proposed gets its own copy if neither the
//     router nor a carbon would reach it (priority below zero and carbons
//     off, or no longer available). XEP-0353 calls must work on devices
//     with negative priorities.
//   - For <proceed/>, <reject/> and <accept/>, the sender's other devices (the available ones and those
//     the offer reached) each get one copy so they stop ringing. A device
//     that has carbons enabled gets the XEP-0280 <sent/> carbon that
//     xmpp/carbons makes, which Conversations and Dino expect. Every other
//     device gets the message as delivered to the caller, from the
//     answering resource. Clients read a message from their own account as
//     one they sent, as with a carbon. A message with <private/> or a
//     <no-copy/> hint gets no carbon, so every other device gets the
//     direct copy. <accept/> to the sender's own bare JID (XEP-0353 up to
//     0.3) goes to every other resource of the account.
//   - <retract/> and <finish/> go to every available resource of the
//     addressed account and to every device the offer reached, even one
//     that has since gone unavailable. When there is nobody to give them
//     to, the router stores them offline, after the stored offer, so the
//     device reads the pair as a missed call at its next login.
//
// Messages routed here get what the router would add: 'from' stamped, the
// client's own XEP-0359 stanza-ids dropped, a stanza-id by the addressed
// account. They are announced to Config.Observers (dedupe, carbons, push),
// because a filter that handles a message stops the router from calling
// its observers. The caller's other devices therefore get the <sent/>
// carbon of an offer. The callee's devices get none: they all got it
// directly.
//
// # Registry
//
// A call is keyed by the caller's bare JID and the id the caller's client
// chose (the propose id, equal to the Jingle sid). Keying by caller keeps
// one account from touching another's calls. The registry records where
// the offer went, when it rang, was answered and set up, and how it ended.
// It is soft state: if it is lost, calls still work, because routing
// depends on it in only three ways, each harmless to lose. First, a
// retried offer (same caller and id while the call is remembered) rings
// nobody again: it is dropped and counted. Second, glare is resolved.
// Third, the retract of an offer that lost a tie-break is dropped, since
// nobody got the offer.
//
// Entries end on their own. A ringing call ends after Config.RingTimeout.
// An answered call with no <finish/> or session-terminate is forgotten
// after Config.CallTimeout. An ended call is kept for one more ring timeout
// so that retries are still recognised. Memory is bounded by
// Config.MaxCalls, which forgets the oldest call first and counts it.
// Config.MaxRinging bounds the calls one account may have ringing at once,
// and further offers get resource-constraint. Ids longer than MaxIDBytes
// are routed but not remembered.
//
// Each call has one outcome, counted once in ringd_jingle_calls_total:
// rejected (<reject/>, or a session-terminate with decline or busy),
// cancelled (<retract/>, or ended with no answer), missed (ring timeout),
// glare (lost a tie-break), failed (the offer reached nobody, or the
// session ended with a XEP-0166 failure reason such as connectivity-error
// or failed-transport before it was connected), or answered. Answered is
// counted at session-accept, or when an answered call ends without a
// failure. Histograms: ringd_jingle_time_to_ring_seconds (offer to first
// <ringing/>), ringd_jingle_time_to_answer_seconds (offer to <proceed/>),
// ringd_jingle_call_setup_seconds (<proceed/> to session-accept).
//
// # Glare
//
// XEP-0353 (Tie Breaking, no existing session): when both parties offer a
// call to each other before either answered, the offer with the lower id
// in "i;octet" order (RFC 4790 §9.3, bytewise) wins. For equal ids, the
// offer from the lower JID wins. The server applies this rule itself when
// an offer from B to A arrives while A's offer to B is still ringing, so
// exactly one call results even with clients that do not break ties:
//
//   - The new offer loses: it is not delivered. Its sender gets the
//     <reject/> that A's client would send, with reason <expired/> and
//     <tie-break/>, from A's proposing resource. B's devices keep ringing
//     for A's call.
//   - The new offer wins: A's call is stopped. B's devices get a
//     <retract/> with <expired/> and <tie-break/> from A's proposing
//     resource. A's proposing resource gets a <reject/> with
//     <tie-break/> from B's. Then B's offer is delivered as usual.
//
// A client that breaks ties itself sends the same messages. Its copies are
// harmless: a repeated reject or retract, and the retract of a lost offer,
// which is dropped.
//
// # Ring timeout
//
// XEP-0353 defines no server-generated message. ringd makes one so that
// no call rings forever when the caller vanishes. When a call has been
// ringing for Config.RingTimeout, the callee's devices (available ones and
// those the offer reached) get <retract/> with reason <timeout/> from the
// caller's proposing resource. The proposing resource, if still bound,
// gets <reject/> with reason <timeout/> from the callee's bare JID, so it
// stops calling. The call counts as missed. If the offer went to offline
// storage and the callee still has no device, the retract is stored after
// it, so a device that logs in later reads propose and retract as a
// missed call instead of ringing for a dead call.
//
// A retract for an offer that went to offline storage goes through offline
// storage too: it waits for a login delivery under way, so it never
// overtakes the offer it ends, then reaches the available devices (or is
// kept). Devices it would not reach (negative priority, or reached by the
// offer and gone unavailable) get it directly.
//
// The registry does not survive a restart, and neither does the timer: an
// offer stored for an offline callee by a server that stopped before the
// ring timeout has no retract after it. FollowStored takes over when the
// offer is delivered (xmpp/offline calls it at login), for an offer with
// nothing stored after it that ends it (retract, finish, proceed, accept
// or reject of the same id) and that the registry does not know. One
// older than the ring timeout is followed, in the same delivery, by a
// <retract/> with reason <timeout/> from the caller's proposing resource,
// delay-stamped with the time the call timed out, and counted as missed.
// One still within the ring timeout rings and is re-armed: it enters the
// registry with the time it has left, so the timer ends it as above, the
// reject going to whatever session is bound to the proposing full JID by
// then. The last Config.MaxCounted calls counted from storage are
// remembered, so an offer delivered again after a delivery was cut short
// is not counted twice; a restart forgets them.
//
// # Jingle IQs
//
// Jingle IQs between full JIDs are routed by the router unchanged. An IQ
// to a resource that is gone gets service-unavailable from the router, as
// RFC 6121 §8.5.3.2.2 requires of the server. XEP-0166's item-not-found
// with <unknown-session/> is what an endpoint answers for a session it does
// not know. A device that reconnected under the same resource gets the IQ
// and gives that answer itself. ObserveIQ is the hook the router calls for Jingle IQs between
// local sessions: it records session-initiate, session-accept and
// session-terminate. HandleIQ answers Jingle IQs addressed to the server
// itself (see its documentation).
//
// # What it must not do
//
// It never touches media. It never blocks on a session: everything goes
// through Router.Send. Its lock is a leaf: while it is held, only Session
// getters and metrics are called. The only storage write is the missed-call record, made from the
// timer's goroutine under a deadline. It does not import other features:
// carbons and offline storage come in through small interfaces
// (CarbonState, router.OfflineHandler). Blocking (XEP-0191) is not its
// business: xmpp/blocking is the router's stanza gate, which refuses a
// blocked caller's offer with service-unavailable before any message
// filter, this one included, sees it.
package jingle
