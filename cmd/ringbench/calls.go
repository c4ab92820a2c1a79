package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type callsConfig struct {
	pairs, inflight int
	rate            float64
	count           int64
	answerTo        string // "bare" (XEP-0353) or "full"
	drain           time.Duration
}

func runCalls(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	var cc callsConfig
	fs := c.flagSet("calls", "100/s", "offered call set-ups per second (`R/s`); 0 = as fast as -inflight allows", stderr)
	fs.IntVar(&cc.pairs, "pairs", 10, "caller/callee `pairs`: caller PREFIX(2p), callee PREFIX(2p+1) online twice")
	fs.Int64Var(&cc.count, "count", 1000, "calls in total")
	fs.IntVar(&cc.inflight, "inflight", 8, "most unfinished calls per pair (ringd rings at most 16 calls per caller)")
	fs.StringVar(&cc.answerTo, "answer-to", "bare", "send <ringing/> and <proceed/> to the caller's `bare` JID (XEP-0353) or full JID")
	fs.DurationVar(&cc.drain, "drain", 5*time.Second, "how long to wait for the last calls to finish")
	var err error
	if cc.rate, err = c.parse(fs, args); err != nil {
		return err
	}
	switch {
	case cc.pairs < 1:
		return usagef("-pairs must be at least 1")
	case cc.inflight < 1:
		return usagef("-inflight must be at least 1")
	case cc.count < 1:
		return usagef("-count must be at least 1")
	case cc.answerTo != "bare" && cc.answerTo != "full":
		return usagef("-answer-to %q: want bare or full", cc.answerTo)
	case cc.drain <= 0:
		return usagef("-drain must be positive")
	}
	spec := scenarioSpec{
		name: "calls", op: "call", sessions: 3 * cc.pairs, readBuffer: 16384,
		params: map[string]any{
			"pairs": cc.pairs, "rate": cc.rate, "count": cc.count, "inflight": cc.inflight, "answer_to": cc.answerTo,
			"drain_s": cc.drain.Seconds(),
		},
	}
	return runScenario(ctx, &c, spec, func(ctx context.Context, d *dialer, s *summary, errs *errorLog) error {
		return callsRun(ctx, d, &c, cc, s, errs, stderr)
	}, stdout)
}

// call is one call set-up. Each step is written by the one reader that
// sees it, in protocol order, as ns since the run's base.
type call struct {
	proposeSent, proposeRecv, answerSent, answerRecv atomic.Int64
	initSent, initRecv, acceptSent, acceptRecv       atomic.Int64
	ackSent, setupDone, termSent                     atomic.Int64
	rangB                                            atomic.Bool
}

// callPair is a caller and the callee's two resources.
type callPair struct {
	idx                int
	caller, calleeA, b *session
	inflight           atomic.Int64
}

// callRun is the shared state of a run.
type callRun struct {
	runID    string
	base     time.Time
	cc       callsConfig
	calls    []call
	pairs    []*callPair
	errs     *errorLog
	started  atomic.Int64
	setup    atomic.Int64
	done     atomic.Int64
	lastDone atomic.Int64
	stale    atomic.Int64
	wake     chan struct{}
	// Hops, in µs in the summary.
	total, propose, answer, initiate, accept, ack, terminate lockedHistogram
	// hops is, per set-up, the sum of its five one-way hops (propose,
	// proceed, initiate, accept, ack): the set-up latency without the
	// tool's own handling between hops. What remains is the server's,
	// plus loopback and the tool's wake-ups: an upper bound on the
	// latency the server adds.
	hops lockedHistogram
}

func callsRun(ctx context.Context, d *dialer, c *commonFlags, cc callsConfig, s *summary, errs *errorLog, stderr io.Writer) error {
	cr := &callRun{runID: newRunID(), cc: cc, calls: make([]call, cc.count), errs: errs, wake: make(chan struct{}, 1)}
	names := make([]string, 3*cc.pairs)
	for p := range cc.pairs {
		names[3*p] = userName(c.prefix, 2*p)
		names[3*p+1] = userName(c.prefix, 2*p+1)
		names[3*p+2] = names[3*p+1]
	}
	setup := time.Now()
	sessions, err := loginShowing(ctx, d, c, "calls", names, func(i int) loginOpts {
		return loginOpts{Resource: [...]string{"rb-caller", "rb-a", "rb-b"}[i%3], Presence: []byte(`<presence/>`)}
	}, stderr)
	if err != nil {
		return err
	}
	s.SetupS = round3(time.Since(setup).Seconds())
	cr.pairs = make([]*callPair, cc.pairs)
	for p := range cr.pairs {
		cr.pairs[p] = &callPair{idx: p, caller: sessions[3*p], calleeA: sessions[3*p+1], b: sessions[3*p+2]}
	}
	cr.base = time.Now()
	var readers sync.WaitGroup
	for _, p := range cr.pairs {
		for _, role := range []struct {
			s *session
			h func(*callPair, []byte) error
		}{{p.caller, cr.onCaller}, {p.calleeA, cr.onCalleeA}, {p.b, cr.onCalleeB}} {
			readers.Go(func() {
				if err := role.s.Run(func(raw []byte) error { return role.h(p, raw) }); err != nil {
					errs.Add(err)
				}
			})
		}
	}

	var prev int64
	stop := progress(c.quiet, stderr, "calls", func() string {
		n := cr.setup.Load()
		r := perSecond(n-prev, time.Second)
		prev = n
		return fmt.Sprintf("started=%d set-up=%d (%.0f/s) finished=%d errors=%d", cr.started.Load(), n, r, cr.done.Load(), errs.Count())
	})
	m, err := startMeter(c.serverPID)
	if err != nil {
		stop()
		closeAll(sessions, true)
		readers.Wait()
		return err
	}
	first := time.Since(cr.base)
	if err := cr.offer(ctx); err != nil {
		errs.Add(err)
	}
	waitDrain(ctx, cc.drain, func() (int64, int64) { return cr.done.Load(), cr.started.Load() })
	elapsed := max(time.Duration(cr.lastDone.Load())-first, 0)
	setups := cr.setup.Load()
	if err := m.finish(s, setups, false, elapsed); err != nil {
		errs.Add(err)
	}
	stop()
	closeAll(sessions, ctx.Err() == nil)
	readers.Wait()

	var rangB int64
	for i := range cr.calls {
		if cr.calls[i].rangB.Load() {
			rangB++
		}
	}
	started, done := cr.started.Load(), cr.done.Load()
	s.ElapsedS = round3(elapsed.Seconds())
	s.Counts = map[string]int64{
		"planned": cc.count, "started": started, "not_started": cc.count - started, "set_up": setups, "finished": done,
		"rang_second_resource": rangB, "stale": cr.stale.Load(),
	}
	s.Rate = perSecond(setups, elapsed)
	s.OfferedRate = cc.rate
	s.Latency = cr.total.Snapshot().Summary()
	s.Phases = map[string]latencySummary{
		"propose":    cr.propose.Snapshot().Summary(),
		"proceed":    cr.answer.Snapshot().Summary(),
		"initiate":   cr.initiate.Snapshot().Summary(),
		"accept":     cr.accept.Snapshot().Summary(),
		"ack":        cr.ack.Snapshot().Summary(),
		"terminate":  cr.terminate.Snapshot().Summary(),
		"setup_hops": cr.hops.Snapshot().Summary(),
	}
	s.Loss = started - done
	return nil
}

// offer starts the calls round robin over the pairs at the offered rate,
// keeping at most -inflight unfinished per pair.
func (cr *callRun) offer(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	var b []byte
	for i := int64(0); i < cr.cc.count; {
		p := cr.pairs[i%int64(len(cr.pairs))]
		if p.inflight.Load() >= int64(cr.cc.inflight) {
			timer.Reset(cr.cc.drain)
			select {
			case <-cr.wake:
				continue
			case <-ctx.Done():
				return nil
			case <-timer.C:
				return fmt.Errorf("pair %d: no call finished for %v with %d unfinished", p.idx, cr.cc.drain, cr.cc.inflight)
			}
		}
		if cr.cc.rate > 0 {
			if wait := dueIn(i, cr.cc.rate, start); wait > 0 {
				if !sleepCtx(ctx, timer, max(wait, 50*time.Microsecond)) {
					return nil
				}
				continue
			}
		}
		p.inflight.Add(1)
		cr.started.Add(1)
		b = cr.appendPropose(b[:0], p, i)
		cr.calls[i].proposeSent.Store(int64(time.Since(cr.base)))
		if err := p.caller.write(b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("propose: %w", err)
		}
		i++
	}
	return nil
}

// The tool's identifiers: the call id (propose id = Jingle sid) is
// "rb<RUN>-<N>", message and IQ ids are one letter (p propose, r
// ringing, g proceed, i initiate, a accept, t terminate) then RUN-N.

func (cr *callRun) appendID(b []byte, kind byte, i int64) []byte {
	b = append(b, kind)
	b = append(b, cr.runID...)
	b = append(b, '-')
	return strconv.AppendInt(b, i, 10)
}

func (cr *callRun) appendSID(b []byte, i int64) []byte {
	b = append(b, "rb"...)
	b = append(b, cr.runID...)
	b = append(b, '-')
	return strconv.AppendInt(b, i, 10)
}

// parseID reads N from an id or sid of this run ("rb" for a sid);
// ok is false for anything else, such as a leftover from an earlier run.
func (cr *callRun) parseID(id []byte, kind string) (int64, bool) {
	rest, ok := bytes.CutPrefix(id, []byte(kind))
	if !ok {
		return 0, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(cr.runID)); !ok || len(rest) < 2 || rest[0] != '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(rest[1:]), 10, 64)
	if err != nil || n < 0 || n >= int64(len(cr.calls)) {
		return 0, false
	}
	return n, true
}

// appendPropose is the caller's XEP-0353 offer to the callee's bare JID.
func (cr *callRun) appendPropose(b []byte, p *callPair, i int64) []byte {
	b = append(b, `<message type='chat' to='`...)
	b = appendEscaped(b, p.calleeA.Bare)
	b = append(b, `' id='`...)
	b = cr.appendID(b, 'p', i)
	b = append(b, `'><propose xmlns='`+nsJMI+`' id='`...)
	b = cr.appendSID(b, i)
	b = append(b, `'><description xmlns='`+nsRTP+`' media='audio'/></propose><store xmlns='`+nsHints+`'/></message>`...)
	return b
}

// appendJMI is a <ringing/> or <proceed/> from the callee.
func (cr *callRun) appendJMI(b []byte, to string, what string, kind byte, i int64) []byte {
	b = append(b, `<message type='chat' to='`...)
	b = appendEscaped(b, to)
	b = append(b, `' id='`...)
	b = cr.appendID(b, kind, i)
	b = append(b, `'><`...)
	b = append(b, what...)
	b = append(b, ` xmlns='`+nsJMI+`' id='`...)
	b = cr.appendSID(b, i)
	b = append(b, `'/><store xmlns='`+nsHints+`'/></message>`...)
	return b
}

// appendJingle is a Jingle IQ set. session-initiate and session-accept
// carry an Opus/G.722/PCMU audio description and an ICE-UDP transport
// with a DTLS fingerprint and three candidates, about 2 KB like a
// browser's offer.
func (cr *callRun) appendJingle(b []byte, to, initiator, responder, action string, kind byte, i int64) []byte {
	b = append(b, `<iq type='set' to='`...)
	b = appendEscaped(b, to)
	b = append(b, `' id='`...)
	b = cr.appendID(b, kind, i)
	b = append(b, `'><jingle xmlns='`+nsJingle+`' action='`...)
	b = append(b, action...)
	b = append(b, `' initiator='`...)
	b = appendEscaped(b, initiator)
	if responder != "" {
		b = append(b, `' responder='`...)
		b = appendEscaped(b, responder)
	}
	b = append(b, `' sid='`...)
	b = cr.appendSID(b, i)
	b = append(b, `'>`...)
	switch action {
	case "session-terminate":
		b = append(b, `<reason><success/></reason>`...)
	default:
		setup := "actpass"
		if action == "session-accept" {
			setup = "active"
		}
		b = append(b, jingleContentHead...)
		b = append(b, setup...)
		b = append(b, jingleContentTail...)
	}
	return append(b, `</jingle></iq>`...)
}

const jingleContentHead = `<content creator='initiator' name='0' senders='both'>` +
	`<description xmlns='` + nsRTP + `' media='audio' ssrc='2830934981'>` +
	`<payload-type id='111' name='opus' clockrate='48000' channels='2'>` +
	`<parameter name='minptime' value='10'/><parameter name='useinbandfec' value='1'/>` +
	`<rtcp-fb xmlns='` + nsRTCPFB + `' type='transport-cc'/></payload-type>` +
	`<payload-type id='9' name='G722' clockrate='8000'/>` +
	`<payload-type id='0' name='PCMU' clockrate='8000'/>` +
	`<payload-type id='8' name='PCMA' clockrate='8000'/>` +
	`<payload-type id='110' name='telephone-event' clockrate='48000'/>` +
	`<payload-type id='126' name='telephone-event' clockrate='8000'/>` +
	`<rtp-hdrext xmlns='` + nsRTPHdr + `' id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>` +
	`<rtp-hdrext xmlns='` + nsRTPHdr + `' id='2' uri='http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'/>` +
	`<rtp-hdrext xmlns='` + nsRTPHdr + `' id='3' uri='http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'/>` +
	`<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='2830934981'>` +
	`<parameter name='cname' value='Pl7Kd0ycIYzUIzVc'/><parameter name='msid' value='ringbench-stream ringbench-audio'/></source>` +
	`<rtcp-mux/></description>` +
	`<transport xmlns='` + nsICEUDP + `' ufrag='Q2vE' pwd='asd88fgpdd777uzjYhagZgkT'>` +
	`<fingerprint xmlns='` + nsDTLS + `' hash='sha-256' setup='`

const jingleContentTail = `'>` +
	`5D:83:9E:1C:0A:7F:E2:39:44:B1:6C:0D:21:9A:F3:58:77:CE:12:40:BB:09:DE:65:31:A8:F4:2C:90:1B:E7:56</fingerprint>` +
	`<candidate component='1' foundation='1' generation='0' id='c1' ip='192.0.2.10' network='1' port='50000' priority='2122260223' protocol='udp' type='host'/>` +
	`<candidate component='1' foundation='2' generation='0' id='c2' ip='203.0.113.5' network='1' port='41234' priority='1686052607' protocol='udp' rel-addr='192.0.2.10' rel-port='50000' type='srflx'/>` +
	`<candidate component='1' foundation='3' generation='0' id='c3' ip='198.51.100.7' network='1' port='49170' priority='41885439' protocol='udp' rel-addr='203.0.113.5' rel-port='41234' type='relay'/>` +
	`</transport></content>` +
	`<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='0'/></group>`

// appendIQResult is an empty result to an IQ.
func appendIQResult(b []byte, to, id []byte) []byte {
	b = append(b, `<iq type='result' to='`...)
	b = append(b, to...)
	b = append(b, `' id='`...)
	b = append(b, id...)
	return append(b, `'/>`...)
}

// jmiChild finds the XEP-0353 element of a message: what it is and its
// id. Only this run's calls count.
func (cr *callRun) jmiChild(raw []byte) (what string, i int64, ok bool) {
	for _, w := range [...]string{"propose", "ringing", "proceed"} {
		j := bytes.Index(raw, []byte("<"+w+" "))
		if j < 0 {
			continue
		}
		tag := raw[j:]
		if !bytes.Equal(startTagAttr(tag, "xmlns"), []byte(nsJMI)) {
			continue
		}
		n, ok := cr.parseID(startTagAttr(tag, "id"), "rb")
		if !ok {
			cr.stale.Add(1)
			return "", 0, false
		}
		return w, n, true
	}
	return "", 0, false
}

// jingleAction is the action and sid of a Jingle IQ set.
func jingleAction(raw []byte) (action, sid []byte) {
	j := bytes.Index(raw, []byte("<jingle "))
	if j < 0 {
		return nil, nil
	}
	return startTagAttr(raw[j:], "action"), startTagAttr(raw[j:], "sid")
}

func (cr *callRun) now() int64 { return int64(time.Since(cr.base)) }

// arrived stamps a step's arrival in recv and records its hop, from
// sent, in h. It returns the time of arrival.
func (cr *callRun) arrived(h *lockedHistogram, sent, recv *atomic.Int64) int64 {
	now := cr.now()
	recv.Store(now)
	h.Record(now - sent.Load())
	return now
}

// jmiFor is the call that a XEP-0353 message to s is about, if it is a
// want of this run. An error stanza is counted instead.
func (cr *callRun) jmiFor(s *session, raw []byte, want string) (int64, bool) {
	if cr.errorStanza(s, raw) {
		return 0, false
	}
	what, i, ok := cr.jmiChild(raw)
	return i, ok && what == want
}

// errorStanza reports a stanza of type error and whether it was one.
func (cr *callRun) errorStanza(who *session, raw []byte) bool {
	if !bytes.Equal(startTagAttr(raw, "type"), []byte("error")) {
		return false
	}
	cr.errs.Add(fmt.Errorf("%s got an error: %.300s", who.JID, raw))
	return true
}

// onCaller is the caller's reader: on <proceed/> it sends
// session-initiate to the resource that answered; on session-accept it
// acknowledges and hangs up.
func (cr *callRun) onCaller(p *callPair, raw []byte) error {
	s := p.caller
	switch {
	case hasPrefix(raw, "<message"):
		i, ok := cr.jmiFor(s, raw, "proceed")
		if !ok {
			return nil
		}
		c := &cr.calls[i]
		cr.arrived(&cr.answer, &c.answerSent, &c.answerRecv)
		from := string(startTagAttr(raw, "from"))
		b := cr.appendJingle(nil, from, s.JID, "", "session-initiate", 'i', i)
		c.initSent.Store(cr.now())
		return s.write(b)
	case hasPrefix(raw, "<iq"):
		if cr.errorStanza(s, raw) {
			return nil
		}
		typ := startTagAttr(raw, "type")
		if string(typ) == "result" {
			if i, ok := cr.parseID(startTagAttr(raw, "id"), "t"); ok {
				now := cr.now()
				cr.terminate.Record(now - cr.calls[i].termSent.Load())
				cr.finish(p, now)
			}
			return nil
		}
		action, sid := jingleAction(raw)
		if string(typ) != "set" || string(action) != "session-accept" {
			_, err := s.defaultHandler(raw)
			return err
		}
		i, ok := cr.parseID(sid, "rb")
		if !ok {
			cr.stale.Add(1)
			return nil
		}
		c := &cr.calls[i]
		cr.arrived(&cr.accept, &c.acceptSent, &c.acceptRecv)
		from := startTagAttr(raw, "from")
		b := appendIQResult(nil, from, startTagAttr(raw, "id"))
		c.ackSent.Store(cr.now())
		b = cr.appendJingle(b, string(from), s.JID, "", "session-terminate", 't', i)
		c.termSent.Store(cr.now())
		return s.write(b)
	}
	return s.handleDefault(raw, cr.errs, "")
}

func (cr *callRun) finish(p *callPair, now int64) {
	p.inflight.Add(-1)
	cr.done.Add(1)
	cr.lastDone.Store(now)
	select {
	case cr.wake <- struct{}{}:
	default:
	}
}

// onCalleeA is the answering device: it rings and proceeds at once,
// acknowledges session-initiate and accepts.
func (cr *callRun) onCalleeA(p *callPair, raw []byte) error {
	s := p.calleeA
	switch {
	case hasPrefix(raw, "<message"):
		i, ok := cr.jmiFor(s, raw, "propose")
		if !ok {
			return nil
		}
		c := &cr.calls[i]
		cr.arrived(&cr.propose, &c.proposeSent, &c.proposeRecv)
		to := p.caller.Bare
		if cr.cc.answerTo == "full" {
			to = string(startTagAttr(raw, "from"))
		}
		b := cr.appendJMI(nil, to, "ringing", 'r', i)
		b = cr.appendJMI(b, to, "proceed", 'g', i)
		c.answerSent.Store(cr.now())
		return s.write(b)
	case hasPrefix(raw, "<iq"):
		if cr.errorStanza(s, raw) {
			return nil
		}
		typ := startTagAttr(raw, "type")
		if string(typ) == "result" {
			if i, ok := cr.parseID(startTagAttr(raw, "id"), "a"); ok {
				c := &cr.calls[i]
				now := cr.arrived(&cr.ack, &c.ackSent, &c.setupDone)
				cr.total.Record(now - c.proposeSent.Load())
				cr.hops.Record(c.proposeRecv.Load() - c.proposeSent.Load() +
					c.answerRecv.Load() - c.answerSent.Load() +
					c.initRecv.Load() - c.initSent.Load() +
					c.acceptRecv.Load() - c.acceptSent.Load() +
					now - c.ackSent.Load())
				cr.setup.Add(1)
			}
			return nil
		}
		action, sid := jingleAction(raw)
		if string(typ) != "set" || action == nil {
			_, err := s.defaultHandler(raw)
			return err
		}
		i, ok := cr.parseID(sid, "rb")
		from := startTagAttr(raw, "from")
		b := appendIQResult(nil, from, startTagAttr(raw, "id"))
		if ok && string(action) == "session-initiate" {
			c := &cr.calls[i]
			cr.arrived(&cr.initiate, &c.initSent, &c.initRecv)
			b = cr.appendJingle(b, string(from), string(from), s.JID, "session-accept", 'a', i)
			c.acceptSent.Store(cr.now())
		} else if !ok {
			cr.stale.Add(1)
		}
		return s.write(b)
	}
	return s.handleDefault(raw, cr.errs, "")
}

// onCalleeB is the device that rings but does not answer.
func (cr *callRun) onCalleeB(p *callPair, raw []byte) error {
	s := p.b
	if hasPrefix(raw, "<message") {
		if i, ok := cr.jmiFor(s, raw, "propose"); ok {
			cr.calls[i].rangB.Store(true)
		}
		return nil
	}
	return s.handleDefault(raw, cr.errs, "")
}
