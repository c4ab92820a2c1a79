// Package c2s serves client-to-server XMPP connections: the listeners (TCP
// with STARTTLS, direct TLS per XEP-0368, WebSocket per RFC 7395), stream
// negotiation on the wire layer (RFC 6120 §4–§7: stream headers, STARTTLS,
// SASL with SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN over TLS, resource binding,
// the legacy session IQ), and the per-session reader and writer.
//
// Each connection has exactly two goroutines once bound: the reader decodes
// stanzas and hands them to the router; the writer drains a bounded
// outbound queue and flushes once per batch. Enqueueing never blocks: a
// client that does not read its stanzas fast enough is disconnected with a
// policy-violation stream error and counted as a slow consumer. The byte
// bound (Config.OutboundQueueBytes) covers what is queued and what the
// writer is writing.
//
// Ending a stream (RFC 6120 §4.4, §4.9): the server's stream header always
// precedes a stream error, even when the client's header was unusable. The
// last bytes (stream error, closing tag) are written after everything
// already queued; then TLS close_notify and a TCP half-close, and the
// server waits up to Config.CloseTimeout for the client's closing tag
// before closing the socket, so that a reset cannot destroy what it just
// wrote. A writer stuck on a client that does not read is bounded by
// Config.WriteTimeout, so ending a connection never waits on the client
// for long. On WebSocket every element, the stream error and <close/>
// included, is its own message (RFC 7395 §3.3.3).
//
// It knows no feature: everything after binding goes through
// router.Route. Features that need a stream feature element (roster
// versioning, pre-approval) hand it in through Config.StreamFeatures.
package c2s
