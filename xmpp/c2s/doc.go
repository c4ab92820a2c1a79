// Package c2s serves client-to-server XMPP connections: the listeners (TCP
// with STARTTLS, direct TLS per XEP-0368, WebSocket per RFC 7395), stream
// negotiation on the wire layer (RFC 6120 §4–§7: stream headers, STARTTLS,
// SASL with SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN over TLS, resource binding,
// the legacy session IQ), the per-session reader and writer, and stream
// management (XEP-0198 urn:xmpp:sm:3: acks and resumption).
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
// Stream management (sm.go, session.go). The <sm/> feature is offered
// after authentication; <enable/> is accepted once bound, with or
// without resumption. The server's <a h/> counts a client stanza only once
// router.Route returned for it, and Route includes the durable write when
// the recipient is offline: what the server acknowledged is delivered to a
// session's queue or stored ("ack after durable store"). The server's own
// stanzas stay in the session's unacknowledged queue, the same byte slices
// that were queued, until the client acks them; the writer asks with <r/>
// and never leaves more than MaxUnacked unacknowledged (it waits for acks).
//
// The session, not the connection, is the router's Conn and owns the
// queue. When the transport of a resumable session breaks (no closing
// tag: reset, timeout, EOF in mid-stream), the session hibernates for
// ResumeTimeout: still bound, presence unchanged, queueing what arrives
// (at most MaxUnacked stanzas). A new connection of the same account that
// sends <resume previd h/> instead of binding takes it over (closing the
// old connection if the server had not noticed it broke), and what the
// client had not acknowledged is written again, in order. Resumption ids
// are 128 random bits, bound to the account.
//
// When a session ends for good (stream closed, stream error, slow-consumer
// or MaxUnacked cut-off, conflict, resume timeout, Shutdown) it is unbound
// and every stanza it still holds (unacknowledged, or never written) goes
// back to the router (router.Requeue): messages to offline storage in
// order, IQ requests answered with an error. Without stream management,
// what was written counts as delivered and only what is still queued is
// requeued. Shutdown does this for every session, hibernating ones
// included, before it returns (bounded by its ctx).
//
// A session paces bursts queued from its own reader (offline messages
// delivered at initial presence) through WaitQueued: the burst waits for
// the writer instead of overrunning OutboundQueueBytes; with stream
// management it stops, leaving the rest stored, once only the client's
// acks (which that reader reads afterwards) could make room.
//
// It knows no feature: everything after binding goes through
// router.Route. Features that need a stream feature element (roster
// versioning, pre-approval) hand it in through Config.StreamFeatures.
package c2s
