package c2s

import (
	"bytes"
	"context"
	"crypto/rand"
	"strconv"
	"time"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Stream management (XEP-0198, urn:xmpp:sm:3).
//
// Acks: the client's stanzas are counted (routedH) once Route returned
// for them, so <a h/> never covers a stanza that was not routed, and for
// an offline recipient Route includes the durable write to offline
// storage. A message handed to a live session whose client acknowledges
// is kept in that session's unacked queue until its client acks it, and
// with a Journal it also gets an in-flight record in storage: the <a h/>
// answering the sender's <r/> waits until the records of every stanza it
// covers are durable (inH trails routedH meanwhile), so an acknowledged
// message survives a crash. The reader does not wait: the sender keeps
// sending while the batch commits. The server's stanzas are counted when the writer takes
// them (outbound.outH); they stay in the session's unacked queue, the
// very byte slices that were queued, until the client's <a h/> covers
// them. The server asks for acks with <r/> after AckEvery stanzas and
// whenever it has nothing more to write, one request outstanding at most,
// and never leaves more than MaxUnacked stanzas unacknowledged: the writer
// waits for acks instead (flow control, so that a burst, such as offline
// messages delivered at initial presence, cannot overrun a client that is
// acking).
//
// Resumption: see session. The id is 128 random bits (crypto/rand.Text)
// and is bound to the account: a <resume/> for another account's session
// fails like an unknown one.

const nsSM = "urn:xmpp:sm:3"

var (
	smFeature = []byte(`<sm xmlns="` + nsSM + `"/>`)
	smRequest = []byte(`<r xmlns="` + nsSM + `"/>`)
)

// appendAck appends <a h='h'/>.
func appendAck(b []byte, h uint32) []byte {
	b = append(b, `<a xmlns="`+nsSM+`" h="`...)
	b = strconv.AppendUint(b, uint64(h), 10)
	return append(b, `"/>`...)
}

// smFailed is <failed/> with a stanza error condition (XEP-0198 §3, §5),
// and the server's handled count when it is known (hasH).
func smFailed(cond string, h uint32, hasH bool, extra string) []byte {
	b := []byte(`<failed xmlns="` + nsSM + `"`)
	if hasH {
		b = append(b, ` h="`...)
		b = strconv.AppendUint(b, uint64(h), 10)
		b = append(b, '"')
	}
	b = append(b, `><`+cond+` xmlns="`+router.NSStanzas+`"/>`...)
	b = append(b, extra...)
	return append(b, `</failed>`...)
}

// handledCountTooHigh is the application-specific condition for an h
// above what was sent (XEP-0198 §4).
func handledCountTooHigh(h, sent uint32) string {
	return `<handled-count-too-high xmlns="` + nsSM + `" h="` + strconv.FormatUint(uint64(h), 10) +
		`" send-count="` + strconv.FormatUint(uint64(sent), 10) + `"/>`
}

// attrValue returns the value of the attribute name of st's start tag,
// still escaped; nil when absent. st is well-formed (the decoder checked).
func attrValue(st *wire.Stanza, name string) []byte {
	b := st.Raw
	i := st.NameEnd
	for i < len(b) {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || b[i] == '>' || b[i] == '/' {
			return nil
		}
		start := i
		for i < len(b) && b[i] != '=' && !isSpace(b[i]) {
			i++
		}
		n := b[start:i]
		for i < len(b) && b[i] != '\'' && b[i] != '"' {
			i++
		}
		if i >= len(b) {
			return nil
		}
		q := b[i]
		i++
		end := bytes.IndexByte(b[i:], q)
		if end < 0 {
			return nil
		}
		if string(n) == name {
			return b[i : i+end]
		}
		i += end + 1
	}
	return nil
}

// parseH parses an h attribute: a decimal unsigned 32-bit integer.
func parseH(v []byte) (uint32, bool) {
	if len(v) == 0 || len(v) > 10 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	return uint32(n), err == nil
}

func isTrue(v []byte) bool { return string(v) == "true" || string(v) == "1" }

// handleSM handles a stream management element of a bound session.
func (c *conn) handleSM(st *wire.Stanza) error {
	s := c.sess
	switch string(st.Name) {
	case "enable":
		c.enable(st)
		return nil
	case "resume":
		// XEP-0198 §5: resumption replaces binding; too late now.
		s.q.control(smFailed("unexpected-request", 0, false, ""))
		return nil
	case "r":
		if !s.sm {
			break
		}
		s.ackWhenDurable()
		return nil
	case "a":
		if !s.sm {
			break
		}
		h, ok := parseH(attrValue(st, "h"))
		if !ok {
			return newStreamError("bad-format", "h must be an unsigned 32-bit integer")
		}
		ok, sent, recs := s.q.ack(h)
		s.release(recs)
		if !ok {
			c.log.Warn("client acked more than was sent", "h", h, "sent", sent)
			return &streamError{cond: "undefined-condition", extra: handledCountTooHigh(h, sent)}
		}
		return nil
	}
	return newStreamError("unsupported-stanza-type", "")
}

// enable handles <enable/> (XEP-0198 §3): once per session, after binding.
func (c *conn) enable(st *wire.Stanza) {
	s := c.sess
	cfg := &c.srv.cfg
	if s.sm {
		s.q.control(smFailed("unexpected-request", 0, false, ""))
		return
	}
	s.sm = true
	s.inH.Store(0)
	s.routedH.Store(0)
	b := []byte(`<enabled xmlns="` + nsSM + `"`)
	if isTrue(attrValue(st, "resume")) {
		s.resumeFor = cfg.ResumeTimeout
		if v, ok := parseH(attrValue(st, "max")); ok && v > 0 && time.Duration(v)*time.Second < s.resumeFor {
			s.resumeFor = time.Duration(v) * time.Second // the client's preference
		}
		s.id = rand.Text()
		c.srv.register(s)
		b = append(b, ` id="`+s.id+`" resume="true" max="`...)
		b = strconv.AppendInt(b, int64((s.resumeFor+time.Second-1)/time.Second), 10)
		b = append(b, '"')
		if cfg.ResumeLocation != "" {
			b = append(b, ` location="`...)
			b = wire.AppendEscaped(b, cfg.ResumeLocation)
			b = append(b, '"')
		}
	}
	b = append(b, `/>`...)
	s.q.enable(b, cfg.MaxUnacked, cfg.AckEvery)
	c.srv.metrics.smEnabled.Inc()
	c.log.Debug("stream management enabled", "resumable", s.id != "")
}

// resume handles <resume/> (XEP-0198 §5) in place of binding. It returns
// true when c took the session over: c is bound to it, its writer runs and
// what the client had not acknowledged is written again. Otherwise the
// client was sent <failed/> and may bind.
func (c *conn) resume(st *wire.Stanza) (bool, error) {
	m := c.srv.metrics
	previd := string(wire.Unescape(attrValue(st, "previd")))
	h, hok := parseH(attrValue(st, "h"))
	s := c.srv.lookup(previd)
	if s == nil || s.username != c.username {
		// Unknown, expired, or another account's: all look the same.
		m.smResumeFailed.Inc()
		c.log.Info("resumption failed: unknown session")
		return false, c.writeNow(smFailed("item-not-found", 0, false, ""))
	}
	if !hok {
		m.smResumeFailed.Inc()
		return false, c.writeNow(smFailed("bad-request", 0, false, ""))
	}
	log := c.log
	c.log = c.log.With("jid", s.rs.FullString())
	if !s.takeOver(c) {
		c.log = log
		m.smResumeFailed.Inc()
		c.log.Info("resumption failed: session ended")
		ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.WriteTimeout)
		s.settle(ctx)
		cancel()
		return false, c.writeNow(smFailed("item-not-found", s.inH.Load(), true, ""))
	}
	c.mu.Lock()
	c.sess = s
	cond := c.closeCond
	c.mu.Unlock()
	ok, sent, recs := s.q.resume(h)
	s.release(recs)
	if !ok {
		// The client claims more than was sent: its state is not ours.
		// The session ends (what it holds is requeued); the client may
		// bind afresh.
		m.smResumeFailed.Inc()
		c.log.Warn("resumption failed: client acked more than was sent", "h", h, "sent", sent)
		s.end(c)
		s.q.close()
		ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.WriteTimeout)
		s.retire(ctx)
		cancel()
		c.mu.Lock()
		c.sess = nil
		c.mu.Unlock()
		c.log = log
		return false, c.writeNow(smFailed("undefined-condition", s.inH.Load(), true, handledCountTooHigh(h, sent)))
	}
	// The old connection's reader has stopped: <resumed h/> covers all it
	// routed once the in-flight records are durable (or less, if storage
	// is too slow: the client then sends the rest again, and dedupe drops
	// what arrived twice).
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.WriteTimeout)
	if !s.settle(ctx) {
		c.log.Warn("resumed before in-flight records were durable; the client may send some stanzas again")
	}
	cancel()
	// Negotiation is over: no read deadline from here on but the one the
	// writer sets when it ends the stream.
	c.raw.SetReadDeadline(time.Time{})
	b := []byte(`<resumed xmlns="` + nsSM + `" previd="` + s.id + `" h="`)
	b = strconv.AppendUint(b, uint64(s.inH.Load()), 10)
	b = append(b, `"/>`...)
	if err := c.writeNow(b); err != nil {
		return false, err // c holds the session: finish lets it hibernate again
	}
	c.startWriter() // it writes the unacknowledged stanzas again first
	m.smResumed.Inc()
	c.log.Info("session resumed", "client_h", h)
	if cond != "" {
		// Close came while resuming (Shutdown, say): the stream ends
		// through the writer, which sets the read deadline then.
		c.raw.SetReadDeadline(time.Time{})
		c.Close(cond)
	}
	return true, nil
}
