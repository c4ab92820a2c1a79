// Package offline keeps messages for accounts that have no available
// resource and delivers them at the account's next initial presence
// (XEP-0160, RFC 6121 §8.5.2.2), each with a XEP-0203 delay stamp from the
// server giving the time the server accepted it.
//
// What is kept: chat and normal messages with a body, and any message with
// a XEP-0334 <store/> hint (so XEP-0353 call messages are kept); never one
// with <no-store/> or <no-permanent-store/>. A message is written to
// storage before the router returns to the sender's session, so nothing
// the server has accepted depends on memory. Each account has a quota;
// when it is full the sender gets resource-constraint and nothing already
// stored is evicted.
//
// It must not route: it gets messages from the router's offline hook and
// hands delivered ones to the session that sent initial presence. A stored
// message is deleted only after that session took it.
//
// A Follower (SetFollower; jingle is one) may add stanzas after stored
// messages as they are delivered, stamped like them, without storing
// them: this is how a call offer stored before a crash, whose ring
// timeout passed with no server to end it, reaches the device followed by
// its missed-call retract. The follower sees the messages a page at a
// time; one it cannot judge without later messages is held back until a
// longer run shows what follows it. A stored message and what follows it
// are deleted together, once the session took both.
package offline
