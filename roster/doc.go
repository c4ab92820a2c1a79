// Package roster is the contact list and the presence subscriptions of the
// accounts of one domain: RFC 6121 §2 (roster get, set, remove, pushes),
// §3 (requesting, approving, cancelling and unsubscribing, pre-approval in
// §3.4) with the server-side state machine of Appendix A, and XEP-0237
// roster versioning.
//
// It owns the jabber:iq:roster IQ handler, the router's subscription
// handler and the hook that delivers pending subscription requests again
// at each initial presence. Every contact of a subscription is an account
// of this server, so it plays both the user's and the contact's server:
// outbound processing (Appendix A.2) on the sender's roster, then inbound
// processing (Appendix A.3) on the recipient's. The state machine itself is
// a pure function (state.go). A roster item for a JID of another domain can
// be kept, but subscription stanzas to other domains never reach this
// package (the router answers remote-server-not-found).
//
// It must not broadcast presence (the presence feature does; this package
// only sends the presence RFC 6121 §3 ties to a subscription change:
// current presence after an approval, unavailable after a cancellation),
// nor import other features, nor hold roster state outside the store: the
// store and the per-user lock are the only state.
//
// Choices where the RFC leaves one:
//   - A subscribe to an account that does not exist is answered with
//     unsubscribed from that address (RFC 6121 §3.1.3, §8.5.1), ending the
//     requester's Pending Out; other subscription types to it are ignored.
//   - Pre-approval (§3.4) is always supported and announced as a stream
//     feature, with roster versioning (StreamFeatures).
//   - A subscribe from a contact that already has a subscription or was
//     pre-approved is answered with subscribed on the user's behalf and is
//     followed by the user's current presence, as after an explicit
//     approval (§3.1.5).
//   - Pending In is not shown in the roster (RFC 6121 has no attribute
//     for it): a contact that only asked is no roster item; its request is
//     kept with the stanza and delivered at every initial presence until
//     answered. Only the first of repeated requests is kept.
//   - Subscription stanzas go to available resources, roster pushes to
//     interested resources (§2.2); pushes carry no 'from' and carry the
//     roster version. A roster get always returns 'ver'.
//   - A roster set that changes nothing gets a result but no new version
//     and no push, so retries are harmless.
//   - Limits (Config): 1000 items per roster (resource-constraint, type
//     cancel: waiting does not help), 100 groups per item and 1023 bytes
//     per name or group (not-acceptable, §2.3.3). An item JID that does not
//     parse is jid-malformed; a full JID is bad-request; the user's own JID
//     is not-allowed.
package roster
