package router

import (
	"context"
	"errors"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/wire"
)

// NSStanzas is the namespace of stanza error conditions.
const NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"

// NSSID is XEP-0359 unique and stable stanza IDs.
const NSSID = "urn:xmpp:sid:0"

var (
	serviceUnavailable  = stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	internalServerError = stanza.Error{Type: stanza.Cancel, Condition: stanza.InternalServerError}
)

// stanzaError maps a handler's error to what the requester is told; only
// errors that are not stanza errors are ours to log.
func (r *Router) stanzaError(ctx context.Context, err error) stanza.Error {
	var se stanza.Error
	if errors.As(err, &se) {
		if se.Type == "" {
			se.Type = DefaultErrorType(se.Condition)
		}
		return se
	}
	r.log.ErrorContext(ctx, "handler failed", "err", err)
	return internalServerError
}

// DefaultErrorType is the error type RFC 6120 §8.3.3 names for a condition.
func DefaultErrorType(c stanza.Condition) stanza.ErrorType {
	switch c {
	case stanza.BadRequest, stanza.JIDMalformed, stanza.NotAcceptable, stanza.PolicyViolation, stanza.Redirect, stanza.Gone:
		return stanza.Modify
	case stanza.Forbidden, stanza.NotAuthorized, stanza.RegistrationRequired, stanza.SubscriptionRequired:
		return stanza.Auth
	case stanza.ResourceConstraint, stanza.RecipientUnavailable, stanza.RemoteServerTimeout, stanza.UnexpectedRequest:
		return stanza.Wait
	}
	return stanza.Cancel
}

// AppendError appends an <error/> element for se.
func AppendError(dst []byte, se stanza.Error) []byte {
	if se.Type == "" {
		se.Type = DefaultErrorType(se.Condition)
	}
	dst = append(dst, `<error type="`...)
	dst = append(dst, se.Type...)
	dst = append(dst, `"><`...)
	dst = append(dst, se.Condition...)
	dst = append(dst, ` xmlns="`+NSStanzas+`"/>`...)
	if t := se.Text[""]; t != "" {
		dst = append(dst, `<text xmlns="`+NSStanzas+`">`...)
		dst = wire.AppendEscaped(dst, t)
		dst = append(dst, `</text>`...)
	}
	return append(dst, `</error>`...)
}

// bounce answers st, sent by s, with a stanza error (RFC 6120 §8.3.1): the
// same kind and id, 'from' the intended recipient, type 'error'. Errors are
// never answered with errors.
func (r *Router) bounce(s *Session, st *wire.Stanza, se stanza.Error) {
	if string(st.Type) == "error" {
		return
	}
	r.metrics.bounced.WithLabelValues(string(se.Condition)).Inc()
	name := st.Kind.String()
	b := make([]byte, 0, 160+len(st.To)+len(s.full)+len(st.ID))
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, ` type="error"`...)
	if st.ID != nil {
		b = append(b, ` id="`...)
		b = append(b, st.ID...) // still escaped as received
		b = append(b, '"')
	}
	if st.To != nil {
		b = append(b, ` from="`...)
		b = append(b, st.To...)
		b = append(b, '"')
	} else {
		b = append(b, ` from="`...)
		b = append(b, s.bare...)
		b = append(b, '"')
	}
	b = append(b, ` to="`...)
	b = wire.AppendEscaped(b, s.full)
	b = append(b, `">`...)
	b = AppendError(b, se)
	b = append(b, "</"...)
	b = append(b, name...)
	b = append(b, '>')
	r.deliverOwn(s, b)
}

// bounceUnlessError bounces unless the stanza was itself an error.
func (r *Router) bounceUnlessError(s *Session, st *wire.Stanza, isError bool, se stanza.Error) {
	if !isError {
		r.bounce(s, st, se)
	}
}

func (r *Router) buildResult(iq *IQ, payload []byte) []byte {
	b := make([]byte, 0, 96+len(iq.ID)+len(iq.Session.full)+len(payload))
	b = append(b, `<iq type="result" id="`...)
	b = wire.AppendEscaped(b, iq.ID)
	b = append(b, '"')
	if iq.HasTo {
		b = append(b, ` from="`...)
		b = wire.AppendEscaped(b, iq.To.String())
		b = append(b, '"')
	}
	b = append(b, ` to="`...)
	b = wire.AppendEscaped(b, iq.Session.full)
	if len(payload) == 0 {
		return append(b, `"/>`...)
	}
	b = append(b, `">`...)
	b = append(b, payload...)
	return append(b, `</iq>`...)
}

// deliver sends st to dst with from rewritten.
func (r *Router) deliver(dst *Session, st *wire.Stanza, from string, insert []byte) {
	b := make([]byte, 0, len(st.Raw)+len(from)+len(insert)+16)
	r.send(dst, wire.AppendRewritten(b, st, from, insert))
}

// deliverMessage sends a message from s to one session, with a stanza-id.
func (r *Router) deliverMessage(ctx context.Context, s, dst *Session, st *wire.Stanza) {
	raw := r.rewriteMessage(st, s.full, dst.bare)
	r.send(dst, raw)
	if len(r.observers) > 0 {
		one := [1]*Session{dst}
		r.observe(ctx, s, st, Account{Bare: dst.bare, Local: dst.local}, raw, one[:])
	}
}

// rewriteMessage stamps from and adds a XEP-0359 stanza-id assigned by the
// recipient's account (by=bare). A stanza-id the sender put in is dropped,
// so nobody can forge the server's.
func (r *Router) rewriteMessage(st *wire.Stanza, from, bare string) []byte {
	var idbuf [64]byte
	insert := append(idbuf[:0], `<stanza-id xmlns="`+NSSID+`" id="`...)
	insert = r.ids.append(insert)
	insert = append(insert, `" by="`...)
	insert = wire.AppendEscaped(insert, bare)
	insert = append(insert, `"/>`...)
	b := make([]byte, 0, len(st.Raw)+len(from)+len(insert)+16)
	if _, forged := st.Child(NSSID, "stanza-id"); forged {
		return AppendStamped(b, st, from, insert, false)
	}
	return wire.AppendRewritten(b, st, from, insert)
}

// AppendStamped appends st as the router delivers a message: from stamped
// (replacing any the client wrote), every XEP-0359 stanza-id the client put
// in dropped (only the server assigns them), xmlns="jabber:client"
// declared when clientNS is set and the element declares none (for a copy
// nested in a foreign element, such as a carbon), and insert (nil for
// none) as the last child. Features that deliver messages themselves use
// it so their copies match the router's.
func AppendStamped(dst []byte, st *wire.Stanza, from string, insert []byte, clientNS bool) []byte {
	if st.InnerEnd < 0 && !clientNS {
		// No children, so no stanza-id to drop: expand it to hold insert.
		return wire.AppendRewritten(dst, st, from, insert)
	}
	raw := st.Raw
	dst = append(dst, raw[:st.NameEnd]...)
	if clientNS && !st.HasXMLNS {
		dst = append(dst, ` xmlns="`+wire.NSClient+`"`...)
	}
	dst = append(dst, ` from="`...)
	dst = wire.AppendEscaped(dst, from)
	dst = append(dst, '"')
	pos := st.NameEnd
	if st.FromStart >= 0 {
		dst = append(dst, raw[pos:st.FromStart]...)
		pos = st.FromEnd
	}
	for i := 0; i < st.NumChildren; i++ {
		ch := st.Children[i]
		if string(ch.NS) == NSSID && string(ch.Name) == "stanza-id" {
			dst = append(dst, raw[pos:ch.Start]...)
			pos = ch.End
		}
	}
	if st.InnerEnd < 0 || insert == nil {
		return append(dst, raw[pos:]...)
	}
	dst = append(dst, raw[pos:st.InnerEnd]...)
	dst = append(dst, insert...)
	return append(dst, raw[st.InnerEnd:]...)
}

// send queues raw for dst and counts it.
func (r *Router) send(dst *Session, raw []byte) {
	if raw == nil {
		return
	}
	if dst.conn.Deliver(raw) {
		r.metrics.delivered.Inc()
		return
	}
	r.metrics.undeliverable.Inc()
	if len(raw) > 1 && raw[1] == 'm' {
		r.keepUndeliverable(dst, raw)
	}
}

// deliverOwn sends a server-generated stanza to s.
func (r *Router) deliverOwn(s *Session, raw []byte) { r.send(s, raw) }

// Send queues a server-generated stanza for dst (features use it for
// pushes and presence).
func (r *Router) Send(dst *Session, raw []byte) { r.send(dst, raw) }

// WithTo returns raw, a stanza without a 'to' attribute, with to="to"
// added after the element name.
func WithTo(raw []byte, to string) []byte {
	i := 1
	for i < len(raw) && !isNameEnd(raw[i]) {
		i++
	}
	b := make([]byte, 0, len(raw)+len(to)+8)
	b = append(b, raw[:i]...)
	b = append(b, ` to="`...)
	b = wire.AppendEscaped(b, to)
	b = append(b, '"')
	return append(b, raw[i:]...)
}

func isNameEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' || c == '>'
}

// ErrorReply builds an error reply to a stanza a feature received: kind is
// "iq", "message" or "presence".
func ErrorReply(kind, id, from, to string, se stanza.Error) []byte {
	b := make([]byte, 0, 160+len(id)+len(from)+len(to))
	b = append(b, '<')
	b = append(b, kind...)
	b = append(b, ` type="error"`...)
	if id != "" {
		b = append(b, ` id="`...)
		b = wire.AppendEscaped(b, id)
		b = append(b, '"')
	}
	if from != "" {
		b = append(b, ` from="`...)
		b = wire.AppendEscaped(b, from)
		b = append(b, '"')
	}
	if to != "" {
		b = append(b, ` to="`...)
		b = wire.AppendEscaped(b, to)
		b = append(b, '"')
	}
	b = append(b, '>')
	b = AppendError(b, se)
	b = append(b, "</"...)
	b = append(b, kind...)
	return append(b, '>')
}

// Bounce answers a stanza a feature received with a stanza error.
func (r *Router) Bounce(s *Session, st *wire.Stanza, se stanza.Error) { r.bounce(s, st, se) }

// Deliver sends st from the local session s to dst, with from stamped and
// insert appended as the stanza's last child (nil for none).
func (r *Router) Deliver(s *Session, dst *Session, st *wire.Stanza, insert []byte) {
	r.deliver(dst, st, s.full, insert)
}

// StanzaError is a stanza error of type t and condition c, with text as
// its human-readable text unless empty; features return it from their
// handlers.
func StanzaError(t stanza.ErrorType, c stanza.Condition, text string) stanza.Error {
	se := stanza.Error{Type: t, Condition: c}
	if text != "" {
		se.Text = map[string]string{"": text}
	}
	return se
}
