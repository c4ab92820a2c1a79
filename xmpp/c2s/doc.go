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
// policy-violation stream error and counted as a slow consumer.
//
// It knows no feature: everything after binding goes through
// router.Route. Features that need a stream feature element (roster
// versioning, pre-approval) hand it in through Config.StreamFeatures.
package c2s
