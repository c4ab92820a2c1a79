// Package e2e holds end-to-end tests that build the real ringd binary, start
// it on loopback port-0 listeners with a fresh data directory per test, and
// drive it with real third-party XMPP clients: slixmpp scenario scripts
// (clients/*.py, run with /usr/bin/python3) and, for protocol abuse that no
// well-behaved client would produce, raw TCP connections.
//
// The package owns only tests; it has no exported API and imports nothing
// from ringd, so it sees the server exactly as a user does: a binary, a
// TOML config file, log lines and sockets. It must not reach into server
// internals or fix the server from here.
//
// Scenarios covered: SCRAM-SHA-256 login over STARTTLS and direct TLS
// (RFC 6120 §5, §6; XEP-0368), failed authentication, roster set and push
// (RFC 6121 §2), subscription handshake and presence broadcast (RFC 6121
// §3, §4), chat messages (RFC 6121 §5, §8.5), service-unavailable for
// unknown IQ namespaces (RFC 6120 §8.4), the not-well-formed stream error
// (RFC 6120 §4.9.3.13), the first-start admin account, and, on both
// storage backends (SQLite, and MySQL/MariaDB when RINGD_TEST_MYSQL_DSN
// names a server), offline messages surviving kill -9 (XEP-0160, XEP-0203),
// the offline quota, and stored subscription requests (RFC 6121 §3.1.3).
// Also: XEP-0198 resumption; calls (XEP-0353, Jingle) with two callee
// resources, glare, ring timeout and missed calls across a restart; push
// (XEP-0357); StanzaJS over WebSocket; XEP-0191 blocking; TURN credentials
// (XEP-0215); a chaos run of 5,000 messages through three kill -9s with
// client retries (a small Go client, chaosclient_test.go); SIGTERM with
// messages in flight; and a smoke run of every ringbench scenario.
//
// See README.md for how to run the tests and read the client debug logs.
package e2e
