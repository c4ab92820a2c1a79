// Package router knows who is online and delivers stanzas between local
// sessions by the rules of RFC 6120 §10 and RFC 6121 §8.
//
// It owns the session table (full JID → Session, bare JID → resources),
// the IQ multiplexer that features register with by namespace, the error
// and result stanzas the server generates (RFC 6120 §8.3), and XEP-0359
// stanza-ids on delivered messages. It routes stanzas as bytes (see
// xmpp/wire): only the addressing attributes are parsed on the hot path.
//
// It must not block on a session: delivery goes through Conn.Deliver, which
// only enqueues. It knows no feature: presence and subscription stanzas are
// handed to the handlers that xmpp/server installs, IQs to the handler
// registered for their payload namespace.
package router
