package router

import (
	"bytes"
	"context"
	"slices"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/wire"
)

// Route delivers one stanza sent by the local session s. st.From is
// ignored: the router stamps s's full JID (RFC 6120 §8.1.2.1). Route never
// blocks on another session; it may block on storage (IQ handlers, account
// lookups) under ctx.
func (r *Router) Route(ctx context.Context, s *Session, st *wire.Stanza) {
	r.metrics.in[st.Kind].Inc()
	if r.gate != nil && r.gate.GateStanza(ctx, s, st) {
		return
	}
	if st.Kind == wire.KindMessage {
		for _, f := range r.filters {
			if f.FilterMessage(ctx, s, st) {
				return
			}
		}
	}
	if r.routeFast(ctx, s, st) {
		return
	}
	var to jid.JID
	hasTo := st.To != nil
	if hasTo {
		j, err := jid.Parse(string(wire.Unescape(st.To)))
		if err != nil {
			r.bounce(s, st, stanza.Error{Type: stanza.Modify, Condition: stanza.JIDMalformed})
			return
		}
		to = j
	}
	switch st.Kind {
	case wire.KindIQ:
		r.routeIQ(ctx, s, st, to, hasTo)
	case wire.KindMessage:
		r.routeMessage(ctx, s, st, to, hasTo)
	case wire.KindPresence:
		r.routePresence(ctx, s, st, to, hasTo)
	}
}

// routeFast delivers a message or IQ addressed to a bound full JID written
// in canonical form, without parsing the address: a bound JID is canonical,
// so an exact match needs no PRECIS. Anything else takes the full path.
func (r *Router) routeFast(ctx context.Context, s *Session, st *wire.Stanza) bool {
	if st.To == nil || st.Kind == wire.KindPresence || bytes.IndexByte(st.To, '&') >= 0 {
		return false
	}
	r.mu.RLock()
	dst := r.byFull[string(st.To)]
	var bare, local string
	if dst == nil && st.Kind == wire.KindMessage {
		// A message to the bare JID of an account that is online.
		if acc := r.accounts[string(st.To)]; acc != nil && len(acc.sessions) > 0 {
			bare, local = acc.sessions[0].bare, acc.sessions[0].local
		}
	}
	r.mu.RUnlock()
	if bare != "" {
		r.deliverToAccount(ctx, s, st, messageTypeOf(st.Type), bare, local)
		return true
	}
	if dst == nil {
		return false
	}
	if st.Kind == wire.KindMessage {
		r.deliverMessage(ctx, s, dst, st)
		return true
	}
	switch iqTypeOf(st.Type) {
	case iqInvalid:
		return false
	case iqGet, iqSet:
		if st.ID == nil || st.NumChildren != 1 {
			return false
		}
	}
	r.deliver(dst, st, s.full, nil)
	r.observeIQ(ctx, s, st)
	return true
}

// target is where a stanza is addressed, relative to its sender.
type target uint8

const (
	targetOwnAccount     target = iota // no 'to', or the sender's bare JID
	targetServer                       // the domain itself
	targetAccount                      // another local account's bare JID
	targetFull                         // a local full JID
	targetDomainResource               // domain/resource: nobody lives there
	targetRemote                       // another domain: no federation
)

func (r *Router) classify(s *Session, to jid.JID, hasTo bool) target {
	if !hasTo {
		return targetOwnAccount
	}
	if to.Domainpart() != r.domain {
		return targetRemote
	}
	local, res := to.Localpart(), to.Resourcepart()
	switch {
	case local == "" && res == "":
		return targetServer
	case local == "":
		return targetDomainResource
	case res != "":
		return targetFull
	case local == s.local:
		return targetOwnAccount
	}
	return targetAccount
}

func (r *Router) routeIQ(ctx context.Context, s *Session, st *wire.Stanza, to jid.JID, hasTo bool) {
	typ := iqTypeOf(st.Type)
	isRequest := typ == iqGet || typ == iqSet
	switch {
	case typ == iqInvalid || st.ID == nil:
		r.bounce(s, st, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest})
		return
	case isRequest && st.NumChildren != 1:
		r.bounce(s, st, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest})
		return
	}
	tgt := r.classify(s, to, hasTo)
	switch tgt {
	case targetRemote:
		if isRequest {
			r.bounce(s, st, stanza.Error{Type: stanza.Cancel, Condition: stanza.RemoteServerNotFound})
		}
		return
	case targetDomainResource:
		if isRequest {
			r.bounce(s, st, serviceUnavailable)
		}
		return
	case targetFull:
		if dst := r.Session(to.Bare().String(), to.String()); dst != nil {
			r.deliver(dst, st, s.full, nil)
			r.observeIQ(ctx, s, st)
			return
		}
		if isRequest {
			r.bounce(s, st, serviceUnavailable)
		}
		return
	}
	if !isRequest {
		// Responses to IQs the server sent; none is outstanding yet.
		return
	}
	payload, _ := st.Payload()
	h := r.mux.lookup(string(payload.NS), muxTarget(tgt))
	if h == nil {
		r.bounce(s, st, serviceUnavailable)
		return
	}
	if tgt == targetAccount {
		ok, err := r.UserExists(ctx, to.Localpart())
		if err != nil {
			r.log.ErrorContext(ctx, "account lookup failed", "jid", to, "err", err)
			r.bounce(s, st, internalServerError)
			return
		}
		if !ok {
			r.bounce(s, st, serviceUnavailable)
			return
		}
	}
	iq := &IQ{
		Session: s,
		To:      to,
		HasTo:   hasTo,
		ID:      string(wire.Unescape(st.ID)),
		Set:     typ == iqSet,
		Payload: payload,
		Raw:     st.Raw,
	}
	result, err := h.HandleIQ(ctx, iq)
	if err != nil {
		r.bounce(s, st, r.stanzaError(ctx, err))
		return
	}
	r.deliverOwn(s, r.buildResult(iq, result))
}

func (r *Router) routeMessage(ctx context.Context, s *Session, st *wire.Stanza, to jid.JID, hasTo bool) {
	typ := messageTypeOf(st.Type)
	tgt := r.classify(s, to, hasTo)
	switch tgt {
	case targetRemote:
		r.bounceUnlessError(s, st, typ == msgError, stanza.Error{Type: stanza.Cancel, Condition: stanza.RemoteServerNotFound})
		return
	case targetServer, targetDomainResource:
		if typ != msgError && typ != msgHeadline {
			r.bounce(s, st, serviceUnavailable)
		}
		return
	case targetFull:
		if dst := r.Session(to.Bare().String(), to.String()); dst != nil {
			r.deliverMessage(ctx, s, dst, st)
			return
		}
		// RFC 6121 §8.5.3.2.1: no such resource.
		switch typ {
		case msgError:
			return
		case msgGroupchat:
			r.bounce(s, st, serviceUnavailable)
			return
		}
	}
	bare := s.bare
	local := s.local
	if tgt != targetOwnAccount {
		bare = to.Bare().String()
		local = to.Localpart()
	}
	r.deliverToAccount(ctx, s, st, typ, bare, local)
}

// deliverToAccount applies RFC 6121 §8.5.2 to a message for a bare JID.
func (r *Router) deliverToAccount(ctx context.Context, s *Session, st *wire.Stanza, typ messageType, bare, local string) {
	switch typ {
	case msgError:
		// Never answer an error with an error; with no full JID it has
		// nowhere to go.
		return
	case msgGroupchat:
		r.bounce(s, st, serviceUnavailable)
		return
	}
	r.mu.RLock()
	var targets [16]*Session
	n := 0
	if acc := r.accounts[bare]; acc != nil {
		for _, cand := range acc.sessions {
			if n < len(targets) && cand.Available() && cand.Priority() >= 0 {
				targets[n] = cand
				n++
			}
		}
	}
	r.mu.RUnlock()
	if n > 0 {
		raw := r.rewriteMessage(st, s.full, bare)
		for _, dst := range targets[:n] {
			r.send(dst, raw)
		}
		if len(r.observers) > 0 {
			// A copy, so targets stays on the stack when nobody observes.
			r.observe(ctx, s, st, Account{Bare: bare, Local: local}, raw, slices.Clone(targets[:n]))
		}
		return
	}
	exists, err := r.UserExists(ctx, local)
	switch {
	case err != nil:
		r.log.ErrorContext(ctx, "account lookup failed", "user", local, "err", err)
		r.bounce(s, st, internalServerError)
	case !exists:
		r.bounceUnlessError(s, st, false, serviceUnavailable)
	case typ == msgHeadline:
		// Headlines are not stored (RFC 6121 §8.5.2.2.1).
	case r.offline == nil:
		r.bounce(s, st, serviceUnavailable)
	default:
		raw := r.rewriteMessage(st, s.full, bare)
		acc := Account{Bare: bare, Local: local}
		if err := r.offline.StoreOffline(ctx, s, acc, st, raw); err != nil {
			r.bounce(s, st, r.stanzaError(ctx, err))
			return
		}
		r.observe(ctx, s, st, acc, raw, nil)
	}
}

func (r *Router) routePresence(ctx context.Context, s *Session, st *wire.Stanza, to jid.JID, hasTo bool) {
	typ := string(st.Type)
	if r.classify(s, to, hasTo) == targetRemote {
		if typ != "error" {
			r.bounce(s, st, stanza.Error{Type: stanza.Cancel, Condition: stanza.RemoteServerNotFound})
		}
		return
	}
	p := &Stanza{Session: s, To: to, HasTo: hasTo, Type: string(wire.Unescape(st.Type)), St: st}
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		if r.subscription != nil {
			r.subscription.HandleSubscription(ctx, p)
		}
	default:
		if r.presence != nil {
			r.presence.HandlePresence(ctx, p)
		}
	}
}

type iqType uint8

const (
	iqInvalid iqType = iota
	iqGet
	iqSet
	iqResult
	iqError
)

func iqTypeOf(b []byte) iqType {
	switch string(b) {
	case "get":
		return iqGet
	case "set":
		return iqSet
	case "result":
		return iqResult
	case "error":
		return iqError
	}
	return iqInvalid
}

type messageType uint8

const (
	msgNormal messageType = iota
	msgChat
	msgGroupchat
	msgHeadline
	msgError
)

// messageTypeOf maps the type attribute; an unknown type is normal (RFC
// 6121 §5.2.2).
func messageTypeOf(b []byte) messageType {
	switch string(b) {
	case "chat":
		return msgChat
	case "groupchat":
		return msgGroupchat
	case "headline":
		return msgHeadline
	case "error":
		return msgError
	}
	return msgNormal
}

// observe tells the message observers about a routed message.
func (r *Router) observe(ctx context.Context, s *Session, st *wire.Stanza, to Account, raw []byte, delivered []*Session) {
	for _, o := range r.observers {
		o.MessageRouted(ctx, s, st, to, raw, delivered)
	}
}
