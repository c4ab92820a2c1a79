// Package carbons implements XEP-0280 Message Carbons (urn:xmpp:carbons:2):
// every resource of an account that asked for it gets a copy of the
// account's one-to-one messages, both those its other resources send
// (<sent/>) and those addressed to its other resources (<received/>), so a
// conversation stays in sync on every device. XEP-0280 sections are named
// below rather than numbered: the numbers moved between versions.
//
// # What it owns
//
// The per-session enabled state (enabling and disabling carbons: a set IQ
// with no 'to' or to the account's own bare JID), cleared when the session
// unbinds; the disco feature on the server and on accounts (discovering
// support); the rules for which messages are copied, with XEP-0334 hints;
// and building the <sent/> and <received/> wrappers around a XEP-0297
// <forwarded/> copy, whose inner message always declares
// xmlns='jabber:client' because it sits inside a foreign-namespace element.
//
// # Which messages are copied
//
// A message is copied when it has none of: a child in the carbons
// namespace (<private/>, see avoiding carbons for a single message; or an
// existing carbon: carbons are never re-wrapped), a XEP-0334 <no-copy/>
// hint. Then it must be of type chat;
// or normal (no type, or a type RFC 6121 §5.2.2 says to treat as normal)
// with a <body/> or an instant-messaging payload (XEP-0085 chat states,
// XEP-0184 receipts, XEP-0333 markers, XEP-0353 call messages, which rely
// on carbons so that the caller's other devices stop ringing); or of type
// error. The XEP wants only errors that answer a copied message: the server
// keeps no record of that, so every error between local accounts is
// copied (a spurious error carbon is harmless; a missing one leaves a
// device showing a failed message as sent). Groupchat and headline are
// never copied (there is no MUC here).
//
// Sent carbons go to every other carbon-enabled available session of the
// sender's account, whether the recipient got the message live or it went
// to offline storage. Received carbons go to every carbon-enabled available
// session of the recipient's account that did not get the message
// directly: other resources when it was addressed to a full JID, and
// negative-priority resources when it was addressed to the bare JID. When
// the message went to offline storage only negative-priority resources get
// a copy: the others would get it twice, once more from storage.
//
// A message to the sender's own account (a note to self) gives each
// enabled session that did not get it directly one <sent/> copy and no
// <received/> copy, so nobody sees it twice.
//
// A <private/> element is left in the delivered message: keeping it lets
// the recipient's server, were there federation, skip received carbons
// too.
//
// A message from a client that itself carries a <sent/> or <received/>
// wrapper is refused with bad-request: only the server makes carbons, and a
// client that checks only the bare part of a carbon's 'from' could
// otherwise be fed a forged one by its own account (the XEP's security
// considerations put the check on clients; this makes forging impossible
// locally).
//
// # What it must not do
//
// It does not route: it watches messages the router has already routed
// (router.MessageObserver) and refuses forged wrappers before routing
// (router.MessageFilter). It never blocks: copies go through Router.Send.
// It keeps no state beyond the set of enabled sessions.
//
// Only the first wire.MaxChildren children of a message are indexed: a
// message with more whose bytes mention the carbons namespace or no-copy
// is not copied, to err on the side of privacy.
package carbons
