// Package scram is the server side of SASL authentication for ringd: the
// SCRAM-SHA-256 and SCRAM-SHA-1 mechanisms (RFC 5802, RFC 7677) and PLAIN
// (RFC 4616), plus NewCredentials, which turns a password into the SCRAM keys
// that storage keeps (RFC 5802 §3).
//
// It owns SASL mechanics only: parsing and checking client messages, building
// server messages, verifying proofs and mapping every failure to an RFC 6120
// §6.5 condition (FailureError.Condition). It does no I/O of its own, knows no
// XML and no base64 transport encoding: the c2s package turns
// <auth/>, <response/> and <abort/> into Server.Step and Server.Abort calls
// and their results into <challenge/>, <success/> and <failure/>. It must not
// log, and it never sees or stores a password except the one a PLAIN client
// sends, which is dropped when Step returns.
//
// Accounts are stored only as salt, iteration count, StoredKey and ServerKey
// for both hash functions (storage.Credentials). Usernames are XMPP
// localparts, normalised with the PRECIS UsernameCaseMapped profile (RFC 8265
// §3.3, as RFC 7622 §3.3 prescribes), so "Alice" logs into "alice". Passwords
// are prepared with the PRECIS OpaqueString profile (RFC 8265 §4.2), the
// successor of SASLprep that RFC 7622 and RFC 8265 recommend.
//
// Unknown users are indistinguishable from wrong passwords: the client gets a
// plausible server-first message whose salt is derived from a server secret
// and the username (stable across attempts and restarts when the secret is),
// the server does the same work on the final message, and both end in
// not-authorized.
//
// Channel binding (the -PLUS variants) is not offered yet: GS2 flags "n" and
// "y" are accepted and "p=" fails with not-authorized.
package scram
