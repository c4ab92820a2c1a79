package push

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// maxBodyBytes bounds the last-message-body of a registration that allows
// bodies; longer bodies are cut at a character boundary.
const maxBodyBytes = 1024

// urgentBody is the last-message-body of an urgent notification to a
// registration that does not allow bodies. It is not the message's body
// (a call proposal has none): it is Prosody mod_cloud_notify's convention
// (push_notification_important_body), which app servers built for it
// (Monal's, ChatSecure's) read as "alert the user now" rather than "wake
// quietly in the background"; see the package doc.
const urgentBody = "Incoming call"

// notification is one message that went to offline storage, reduced to
// what its notifications need. It owns its bytes.
type notification struct {
	user   string // localpart of the recipient
	bare   string // bare JID of the recipient
	sender string // bare JID of the sender
	urgent bool
	body   []byte // the <body/> element, or nil
}

// priority is the metrics label of a notification.
func (n *notification) priority() priority {
	if n.urgent {
		return urgent
	}
	return normal
}

// classify reports whether a message deserves a notification (one
// offline storage keeps: router.Storable) and whether it is urgent: a
// call proposal.
func classify(st *wire.Stanza) (notify, isUrgent bool) {
	if !router.Storable(st) {
		return false, false
	}
	for i := 0; i < st.NumChildren; i++ {
		ch := st.Children[i]
		if (string(ch.NS) == NSJMI0 || string(ch.NS) == NSJMI1) && string(ch.Name) == "propose" {
			return true, true
		}
	}
	return true, false
}

// MessageRouted implements router.MessageObserver: a message that went to
// offline storage (nobody got it live) is queued for notification. It
// never blocks: when the queue is full the notification is dropped and
// counted.
func (p *Push) MessageRouted(ctx context.Context, s *router.Session, st *wire.Stanza, to router.Account, _ []byte, delivered []*router.Session) {
	if len(delivered) > 0 {
		return
	}
	notify, isUrgent := classify(st)
	if !notify {
		return
	}
	// The offline handler delivers live to a session that became
	// available while the router decided; that one needs no wake-up.
	if len(p.cfg.Router.AvailableSessions(to.Bare)) > 0 {
		return
	}
	n := notification{user: to.Local, bare: to.Bare, urgent: isUrgent}
	if s != nil {
		n.sender = s.BareString()
	}
	if ch, ok := st.Child(wire.NSClient, "body"); ok {
		n.body = bytes.Clone(st.Raw[ch.Start:ch.End])
	}
	if !p.enqueue(n) {
		p.metrics.count(n.priority(), dropped, 1)
		p.log.WarnContext(ctx, "push queue full; notification dropped", "user", to.Local)
	}
}

// enqueue queues n and starts a worker if fewer than Config.Workers run.
func (p *Push) enqueue(n notification) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	select {
	case p.queue <- n:
	default:
		return false
	}
	if p.workers < p.cfg.Workers {
		p.workers++
		p.running.Go(p.work)
	}
	return true
}

// work publishes queued notifications until the queue is empty, then
// ends: an idle server runs no push goroutine.
func (p *Push) work() {
	for {
		p.mu.Lock()
		var (
			n  notification
			ok bool
		)
		select {
		case n, ok = <-p.queue:
		default:
			p.workers--
		}
		p.mu.Unlock()
		if !ok {
			return
		}
		if p.abandon.Load() {
			p.metrics.count(n.priority(), dropped, 1)
			continue
		}
		p.publish(&n)
	}
}

// publish sends n to each of the account's registered app servers.
func (p *Push) publish(n *notification) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	defer cancel()
	regs, err := p.cfg.Store.PushRegistrations(ctx, n.user)
	if err != nil {
		p.metrics.count(n.priority(), failed, 1)
		p.log.ErrorContext(ctx, "push: read registrations", "user", n.user, "err", err)
		return
	}
	if len(regs) == 0 {
		return
	}
	count, err := p.cfg.Store.CountOffline(ctx, n.user)
	if err != nil || count < 1 {
		if err != nil {
			p.log.ErrorContext(ctx, "push: count offline messages", "user", n.user, "err", err)
		}
		count = 1 // this message, at least
	}
	var body string
	if n.body != nil {
		body = bodyText(n.body)
	}
	for _, reg := range regs {
		res := p.deliver(n, reg, count, body)
		p.metrics.count(n.priority(), res, 1)
		if res == unreachable {
			p.log.DebugContext(ctx, "push: app server unreachable", "user", n.user, "service", reg.Service)
		}
	}
}

// deliver sends the publish IQ for one registration. App servers are
// reached through the router: ringd serves one domain and has no
// federation, so an app server on another domain is unreachable.
func (p *Push) deliver(n *notification, reg storage.PushRegistration, count int, body string) result {
	svc, err := jid.Parse(reg.Service)
	if err != nil || svc.Domainpart() != p.cfg.Router.Domain() || svc.Localpart() == "" {
		return unreachable
	}
	dst := p.appServerSession(svc)
	if dst == nil {
		return unreachable
	}
	withBody := includeBody(reg.Options)
	iq := p.appendPublish(nil, n, reg, count, body, withBody)
	if !dst.Deliver(iq) {
		return unreachable
	}
	return sent
}

// appServerSession picks the session an IQ to svc goes to: the bound full
// JID, or for a bare JID the available session of highest priority, else
// any bound one (an app server need not send presence).
func (p *Push) appServerSession(svc jid.JID) *router.Session {
	bare := svc.Bare().String()
	if svc.Resourcepart() != "" {
		return p.cfg.Router.Session(bare, svc.String())
	}
	var best *router.Session
	for _, s := range p.cfg.Router.Sessions(bare) {
		switch {
		case best == nil:
			best = s
		case s.Available() && (!best.Available() || s.Priority() > best.Priority()):
			best = s
		}
	}
	return best
}

// appendPublish writes the XEP-0357 §7 publish IQ: from the account's bare
// JID to the app server, a urn:xmpp:push:summary form in a notification
// item, and the registration's publish-options.
func (p *Push) appendPublish(b []byte, n *notification, reg storage.PushRegistration, count int, body string, withBody bool) []byte {
	b = append(b, `<iq type="set" from="`...)
	b = wire.AppendEscaped(b, n.bare)
	b = append(b, `" to="`...)
	b = wire.AppendEscaped(b, reg.Service)
	b = append(b, `" id="`...)
	b = wire.AppendEscaped(b, p.cfg.Router.NewID())
	b = append(b, `"><pubsub xmlns="`+NSPubSub+`"><publish node="`...)
	b = wire.AppendEscaped(b, reg.Node)
	b = append(b, `"><item><notification xmlns="`+NS+`"><x xmlns="`+NSData+`" type="submit">`...)
	b = appendField(b, "FORM_TYPE", NSSummary)
	b = appendField(b, "message-count", strconv.Itoa(count))
	if n.sender != "" {
		b = appendField(b, "last-message-sender", n.sender)
	}
	switch {
	case withBody && body != "":
		b = appendField(b, "last-message-body", body)
	case n.urgent:
		b = appendField(b, "last-message-body", urgentBody)
	}
	if n.urgent {
		b = appendField(b, "last-message-priority", "high")
	}
	b = append(b, `</x>`...)
	if n.urgent {
		b = append(b, `<priority xmlns="`+NSPriority+`">high</priority>`...)
	}
	b = append(b, `</notification></item></publish>`...)
	if len(reg.Options) > 0 {
		b = append(b, `<publish-options>`...)
		b = append(b, reg.Options...)
		b = append(b, `</publish-options>`...)
	}
	return append(b, `</pubsub></iq>`...)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, `<field var="`...)
	b = wire.AppendEscaped(b, name)
	b = append(b, `"><value>`...)
	b = wire.AppendEscaped(b, value)
	return append(b, `</value></field>`...)
}

// bodyText returns the text of a <body/> element, cut to maxBodyBytes.
func bodyText(elem []byte) string {
	d := xml.NewDecoder(bytes.NewReader(elem))
	var text []byte
	for len(text) <= maxBodyBytes {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ""
		}
		if cd, ok := tok.(xml.CharData); ok {
			text = append(text, cd...)
		}
	}
	if len(text) > maxBodyBytes {
		text = text[:maxBodyBytes]
		for len(text) > 0 && !utf8.Valid(text) {
			text = text[:len(text)-1]
		}
	}
	return string(text)
}
