// Package turn owns ringd's embedded STUN/TURN relay (RFC 8489, RFC 8656)
// and the TURN REST API credentials that it and any external TURN server,
// such as coturn with use-auth-secret, accept: the username is
// "expiry-unix-seconds:bare-JID" and the password
// base64(HMAC-SHA1(shared secret, username)), so a credential is checked
// without state and survives a restart that keeps the secret.
//
// The relay is pion/turn v5. This package adds what ringd needs around it:
// an authentication gate that answers bad, expired or tampered credentials
// with 401 (RFC 8489 §9.2.4; pion itself answers 400) before pion sees them,
// a per-user allocation quota, a peer filter that by default refuses
// loopback, private, link-local, multicast and other special-purpose
// addresses (a relay must not open the operator's network), accept loops
// that survive temporary errors, a Close that waits for the sockets'
// readers, and Prometheus metrics (ringd_turn_*). Relaying is UDP only (a
// client may reach the server over UDP or TCP); RFC 6062 TCP allocations
// are refused.
//
// It must not know XMPP: handing credentials to clients (XEP-0215) is
// xmpp/extdisco's job. It never logs secrets or credentials: Secret and
// Credentials redact themselves when printed, and pion's log lines pass a
// filter that hides TURN REST usernames.
package turn
