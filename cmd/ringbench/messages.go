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

// messagesConfig is the messages scenario.
type messagesConfig struct {
	pairs, window int
	count         int64
	rate          float64 // messages per second over all pairs; 0 = window-bound
	size          int
	drain         time.Duration
}

func runMessages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	var mc messagesConfig
	fs := c.flagSet("messages", "0", "offered `msgs/s` over all pairs; 0 = as fast as the window allows", stderr)
	fs.IntVar(&mc.pairs, "pairs", 10, "sender→receiver `pairs` (users PREFIX0…PREFIX(2P-1))")
	fs.IntVar(&mc.window, "window", 64, "messages in flight per pair")
	fs.Int64Var(&mc.count, "count", 100000, "messages to send in total")
	fs.IntVar(&mc.size, "size", 575, "approximate stanza size in `bytes`")
	fs.DurationVar(&mc.drain, "drain", 5*time.Second, "how long to wait for the last messages (and the longest a window may stall)")
	var err error
	if mc.rate, err = c.parse(fs, args); err != nil {
		return err
	}
	switch {
	case mc.pairs < 1:
		return usagef("-pairs must be at least 1")
	case mc.window < 1:
		return usagef("-window must be at least 1")
	case mc.count < int64(mc.pairs):
		return usagef("-count must be at least -pairs")
	case mc.size < 0 || mc.size > 100000:
		return usagef("-size must be 0 to 100000")
	case mc.drain <= 0:
		return usagef("-drain must be positive")
	}
	spec := scenarioSpec{
		name: "messages", op: "message", sessions: 2 * mc.pairs, readBuffer: defaultReadBuffer,
		params: map[string]any{
			"pairs": mc.pairs, "window": mc.window, "count": mc.count, "rate": mc.rate, "size": mc.size,
			"drain_s": mc.drain.Seconds(),
		},
	}
	return runScenario(ctx, &c, spec, func(ctx context.Context, d *dialer, s *summary, errs *errorLog) error {
		return messagesRun(ctx, d, &c, mc, s, errs, stderr)
	}, stdout)
}

// msgPair is one sender and its receiver. The sender goroutine owns
// sent's increments and buf; the receiver's Run goroutine owns seen,
// hist and dups; received and lastRecv cross between them.
type msgPair struct {
	idx              int
	sender, receiver *session
	quota            int64
	window           int64
	prefix           []byte // <message to='…' type='chat' id='
	buf              []byte

	sent     atomic.Int64
	received atomic.Int64 // distinct messages of this run received
	lastRecv atomic.Int64 // ns since base of the latest receipt
	wake     chan struct{}

	seen  []uint64
	hist  histogram
	dups  int64
	stale int64
}

func messagesRun(ctx context.Context, d *dialer, c *commonFlags, mc messagesConfig, s *summary, errs *errorLog, stderr io.Writer) error {
	runID := newRunID()
	users := make([]string, 2*mc.pairs)
	for i := range users {
		users[i] = userName(c.prefix, i)
	}
	setup := time.Now()
	sessions, err := loginShowing(ctx, d, c, "messages", users, func(int) loginOpts {
		return loginOpts{Resource: "rb", Presence: []byte(`<presence/>`)}
	}, stderr)
	if err != nil {
		return err
	}
	s.SetupS = round3(time.Since(setup).Seconds())

	base := time.Now()
	pairs := make([]*msgPair, mc.pairs)
	per, extra := mc.count/int64(mc.pairs), mc.count%int64(mc.pairs)
	for i := range pairs {
		q := per
		if int64(i) < extra {
			q++
		}
		p := &msgPair{
			idx: i, sender: sessions[2*i], receiver: sessions[2*i+1], quota: q, window: int64(mc.window),
			wake: make(chan struct{}, 1), seen: make([]uint64, (q+63)/64),
		}
		p.prefix = append(p.prefix, `<message to='`...)
		p.prefix = appendEscaped(p.prefix, p.receiver.JID)
		p.prefix = append(p.prefix, `' type='chat' id='`...)
		pairs[i] = p
	}

	var readers sync.WaitGroup
	for _, p := range pairs {
		readers.Go(func() {
			if err := p.sender.Run(func(raw []byte) error { return p.sender.handleDefault(raw, errs, "sender ") }); err != nil {
				errs.Add(err)
			}
		})
		readers.Go(func() {
			if err := p.receiver.Run(func(raw []byte) error { return p.receive(raw, runID, base, errs) }); err != nil {
				errs.Add(err)
			}
		})
	}

	totals := func() (sent, recv int64) {
		for _, p := range pairs {
			sent += p.sent.Load()
			recv += p.received.Load()
		}
		return sent, recv
	}
	var lastRecv int64
	stop := progress(c.quiet, stderr, "messages", func() string {
		sent, recv := totals()
		r := perSecond(recv-lastRecv, time.Second)
		lastRecv = recv
		return fmt.Sprintf("sent=%d received=%d (%.0f/s) in-flight=%d errors=%d", sent, recv, r, sent-recv, errs.Count())
	})

	m, err := startMeter(c.serverPID)
	if err != nil {
		stop()
		closeAll(sessions, true)
		readers.Wait()
		return err
	}
	first := time.Since(base)
	var senders sync.WaitGroup
	for _, p := range pairs {
		senders.Go(func() {
			if err := p.sendLoop(ctx, runID, base, mc.rate/float64(mc.pairs), mc.size, mc.drain); err != nil {
				errs.Add(err)
			}
		})
	}
	senders.Wait()
	waitDrain(ctx, mc.drain, func() (int64, int64) {
		sent, recv := totals()
		return recv, sent
	})
	var last int64
	for _, p := range pairs {
		last = max(last, p.lastRecv.Load())
	}
	elapsed := max(time.Duration(last)-first, 0)
	sentN, recvN := totals()
	if err := m.finish(s, recvN, false, elapsed); err != nil {
		errs.Add(err)
	}
	stop()
	closeAll(sessions, ctx.Err() == nil)
	readers.Wait()

	var hist histogram
	var dups, stale int64
	for _, p := range pairs {
		hist.Merge(&p.hist)
		dups += p.dups
		stale += p.stale
	}
	s.ElapsedS = round3(elapsed.Seconds())
	s.Counts = map[string]int64{
		"planned": mc.count, "sent": sentN, "not_sent": mc.count - sentN, "received": recvN, "duplicates": dups, "stale": stale,
	}
	s.Rate = perSecond(recvN, elapsed)
	s.OfferedRate = mc.rate
	s.Latency = hist.Summary()
	s.Loss = sentN - recvN
	if dups > 0 {
		errs.Add(fmt.Errorf("%d messages arrived more than once", dups))
	}
	return nil
}

// maxBatch bounds the messages written in one go.
const maxBatch = 64

// sendLoop sends the pair's quota, keeping at most window in flight and,
// with a rate, pacing to it. Messages of one write share a timestamp.
func (p *msgPair) sendLoop(ctx context.Context, runID string, base time.Time, rate float64, size int, stall time.Duration) error {
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for sent := int64(0); sent < p.quota; {
		n := min(p.window-(sent-p.received.Load()), p.quota-sent, maxBatch)
		if n <= 0 {
			timer.Reset(stall)
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				return nil
			case <-timer.C:
				return fmt.Errorf("pair %d: no message arrived for %v with %d in flight", p.idx, stall, p.window)
			}
		}
		if rate > 0 {
			due := int64(time.Since(start).Seconds()*rate) + 1 - sent
			if due <= 0 {
				if !sleepCtx(ctx, timer, max(dueIn(sent, rate, start), 50*time.Microsecond)) {
					return nil
				}
				continue
			}
			n = min(n, due)
		}
		ts := int64(time.Since(base))
		p.buf = p.buf[:0]
		for i := range n {
			p.buf = p.appendMessage(p.buf, runID, sent+i, ts, size)
		}
		sent += n
		p.sent.Store(sent)
		if err := p.sender.write(p.buf); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("pair %d: send: %w", p.idx, err)
		}
	}
	return nil
}

// padding fills bodies up to the requested stanza size.
const padding = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

// appendMessage writes one chat message. Its body starts with the mark
// "rb RUN PAIR SEQ NANOS " that the receiver reads; the id is RUN-SEQ.
func (p *msgPair) appendMessage(b []byte, runID string, seq, ts int64, size int) []byte {
	start := len(b)
	b = append(b, p.prefix...)
	b = append(b, runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `'><body>rb `...)
	b = append(b, runID...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(p.idx), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, ' ')
	const tail = len(`</body></message>`)
	for pad := size - (len(b) - start) - tail; pad > 0; {
		k := min(pad, len(padding))
		b = append(b, padding[:k]...)
		pad -= k
	}
	return append(b, `</body></message>`...)
}

// receive handles one stanza at the receiver: the hot path, so it reads
// the mark straight from the bytes.
func (p *msgPair) receive(raw []byte, runID string, base time.Time, errs *errorLog) error {
	if !hasPrefix(raw, "<message") {
		return p.receiver.handleDefault(raw, errs, "receiver ")
	}
	now := int64(time.Since(base))
	if bytes.Equal(startTagAttr(raw, "type"), []byte("error")) {
		errs.Add(fmt.Errorf("receiver %s got an error: %.300s", p.receiver.JID, raw))
		return nil
	}
	m, ok := parseMark(childText(raw, "body"), runID)
	if !ok {
		p.stale++ // not ours, or from an earlier run
		return nil
	}
	if m.pair != int64(p.idx) || m.seq < 0 || m.seq >= p.quota {
		errs.Add(fmt.Errorf("receiver %s got message %d of pair %d", p.receiver.JID, m.seq, m.pair))
		return nil
	}
	w, bit := m.seq/64, uint64(1)<<(m.seq%64)
	if p.seen[w]&bit != 0 {
		p.dups++
		return nil
	}
	p.seen[w] |= bit
	p.hist.Record(now - m.ts)
	p.lastRecv.Store(now)
	recv := p.received.Add(1)
	if p.sent.Load()-recv <= p.window/2 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// childText is the character data of the first child element called
// name (a <body/> or a <status/>), raw: the tool's own marks need no
// unescaping. It returns nil when there is none.
func childText(raw []byte, name string) []byte {
	open := []byte("<" + name)
	for off := 0; ; {
		i := bytes.Index(raw[off:], open)
		if i < 0 {
			return nil
		}
		rest := raw[off+i+len(open):]
		off += i + len(open)
		if len(rest) == 0 || (rest[0] != '>' && !isSpace(rest[0])) {
			continue // <bodyx…>
		}
		j := bytes.IndexByte(rest, '>')
		if j < 0 || (j > 0 && rest[j-1] == '/') {
			return nil
		}
		rest = rest[j+1:]
		k := bytes.Index(rest, []byte("</"+name+">"))
		if k < 0 {
			return nil
		}
		return rest[:k]
	}
}

// mark is what a benchmark body or status starts with.
type mark struct{ pair, seq, ts int64 }

// parseMark reads "rb RUN PAIR SEQ NANOS" (anything may follow a space
// after NANOS) and checks RUN.
func parseMark(b []byte, runID string) (mark, bool) {
	var m mark
	rest, ok := bytes.CutPrefix(b, []byte("rb "))
	if !ok {
		return m, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(runID)); !ok || len(rest) == 0 || rest[0] != ' ' {
		return m, false
	}
	for _, dst := range []*int64{&m.pair, &m.seq, &m.ts} {
		rest = rest[1:]
		n, i := int64(0), 0
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			if i >= 18 {
				return m, false
			}
			n = n*10 + int64(rest[i]-'0')
		}
		if i == 0 || (i < len(rest) && rest[i] != ' ') {
			return m, false
		}
		*dst = n
		rest = rest[i:]
		if len(rest) == 0 && dst != &m.ts {
			return m, false
		}
	}
	return m, true
}

// appendMark writes "rb RUN PAIR SEQ NANOS".
func appendMark(b []byte, runID string, m mark) []byte {
	b = append(b, "rb "...)
	b = append(b, runID...)
	for _, v := range []int64{m.pair, m.seq, m.ts} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, v, 10)
	}
	return b
}
