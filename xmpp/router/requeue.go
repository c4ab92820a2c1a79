package router

import (
	"bytes"
	"context"
	"time"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/wire"
)

// requeueLimits decode stanzas the router itself queued: trusted bytes
// that may be a little larger (a stamped from, a stanza-id) than what the
// sender's stream allowed.
var requeueLimits = wire.Limits{MaxDepth: 1 << 10, MaxAttrs: 1 << 10}

// Requeue takes back a stanza that was delivered to s (queued for its
// client) but that the client never acknowledged or never got, because
// the session ended for good: a resumption timed out, the stream closed
// with stanzas unacknowledged, the server shut down, the client was cut
// off. raw is the stanza as it was queued. Call it after s was unbound,
// once per stanza, oldest first.
//
//   - A message (not error, groupchat or headline) goes to s's account
//     through the offline handler, as if it had just arrived for an
//     account with nobody available, so it reaches a resource that is
//     available now or is stored for the next login. If it cannot be
//     stored (quota, no offline storage), its sender, if online, gets the
//     error.
//   - A get or set IQ is answered service-unavailable for its sender, if
//     the sender is online: the resource it was for is gone (RFC 6120
//     §8.5.3.2.1, as for an IQ to a full JID nobody has bound).
//   - Presence and IQ results and errors are dropped: presence is state
//     that the next login probes anew, and responses have nobody waiting.
//
// Requeue may block on storage, under ctx. It does not run the message
// filters or observers: the message was routed once already.
func (r *Router) Requeue(ctx context.Context, s *Session, raw []byte) {
	lim := requeueLimits
	lim.MaxStanzaBytes = len(raw) + 1
	st, err := wire.NewFramedDecoder(bytes.NewReader(raw), lim).Next()
	if err != nil {
		r.log.ErrorContext(ctx, "requeue: unreadable stanza", "jid", s.full, "err", err)
		return
	}
	switch st.Kind {
	case wire.KindMessage:
		switch messageTypeOf(st.Type) {
		case msgError, msgGroupchat, msgHeadline:
			return
		}
		if r.offline == nil {
			r.bounceQueued(ctx, st, serviceUnavailable)
			return
		}
		acc := Account{Bare: s.bare, Local: s.local}
		if err := r.offline.StoreOffline(ctx, nil, acc, st, raw); err != nil {
			r.bounceQueued(ctx, st, r.stanzaError(ctx, err))
		}
	case wire.KindIQ:
		if t := iqTypeOf(st.Type); t == iqGet || t == iqSet {
			r.bounceQueued(ctx, st, serviceUnavailable)
		}
	}
}

// bounceQueued answers a stanza that was queued for a local session with
// an error from its intended recipient, if its sender is a session that is
// bound now. The stanza's from was stamped by the router, so it is the
// sender's full JID in canonical form.
func (r *Router) bounceQueued(ctx context.Context, st *wire.Stanza, se stanza.Error) {
	if st.From == nil || string(st.Type) == "error" {
		return
	}
	sender := r.Session("", string(wire.Unescape(st.From)))
	if sender == nil {
		return
	}
	r.metrics.bounced.WithLabelValues(string(se.Condition)).Inc()
	r.send(sender, ErrorReply(st.Kind.String(), string(wire.Unescape(st.ID)), string(wire.Unescape(st.To)),
		sender.full, se))
	r.log.DebugContext(ctx, "requeue: bounced", "to", sender.full, "condition", se.Condition)
}

// OfflineKeeper is an OfflineHandler that can also store a message for an
// account directly, without first trying the account's available
// sessions: the router uses it for a message that a session refused (its
// client fell too far behind), because trying that session again would
// only be refused again.
type OfflineKeeper interface {
	KeepOffline(ctx context.Context, to Account, st *wire.Stanza, raw []byte) error
}

// keepUndeliverable stores a message that dst's session refused, so a
// slow or closing recipient never makes the server drop a message it
// accepted. Carbon copies are not kept: the original is.
func (r *Router) keepUndeliverable(dst *Session, raw []byte) {
	k, ok := r.offline.(OfflineKeeper)
	if !ok {
		return
	}
	lim := requeueLimits
	lim.MaxStanzaBytes = len(raw) + 1
	st, err := wire.NewFramedDecoder(bytes.NewReader(raw), lim).Next()
	if err != nil || st.Kind != wire.KindMessage || st.HasChildNS(nsCarbons) {
		return
	}
	switch messageTypeOf(st.Type) {
	case msgError, msgGroupchat, msgHeadline:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.KeepOffline(ctx, Account{Bare: dst.bare, Local: dst.local}, st, raw); err != nil {
		r.bounceQueued(ctx, st, r.stanzaError(ctx, err))
	}
}

// nsCarbons is XEP-0280's namespace: copies the router must not store.
const nsCarbons = "urn:xmpp:carbons:2"
