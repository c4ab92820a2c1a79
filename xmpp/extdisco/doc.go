// Package extdisco answers XEP-0215 External Service Discovery
// (urn:xmpp:extdisco:2) for the server: an authenticated local user asks
// the server's domain for its STUN and TURN services (§3.1, with the
// optional type filter of §3.2) or for the credentials of one service
// (§3.3), and gets fresh, time-limited TURN REST credentials bound to the
// user's bare JID (turn.NewCredentials), for the embedded relay and for
// any external TURN server that shares the scheme, such as coturn.
//
// It owns only the IQ handler and its disco feature. It must not run or
// know the relay (package turn), keeps no state per user (credentials are
// derived, never stored), never logs credentials, and never answers IQs
// addressed to accounts: the router delivers it only IQs to the server
// from bound sessions.
package extdisco
