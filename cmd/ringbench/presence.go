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

type presenceConfig struct {
	users, contacts, window int
	rate                    float64
	count                   int64
	drain                   time.Duration
}

func runPresence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	var pc presenceConfig
	fs := c.flagSet("presence", "1000/s", "presence changes per second over all users (`R/s`); 0 = as fast as -window allows", stderr)
	fs.IntVar(&pc.users, "users", 100, "accounts PREFIX0…PREFIX(U-1), each online once")
	fs.IntVar(&pc.contacts, "contacts", 10, "contacts per user (mutual 'both' subscriptions, set up in-band)")
	fs.Int64Var(&pc.count, "count", 10000, "presence changes in total (each fans out to -contacts deliveries)")
	fs.IntVar(&pc.window, "window", 1000, "changes whose fan-out has not fully arrived, at most")
	fs.DurationVar(&pc.drain, "drain", 5*time.Second, "how long to wait for the last deliveries")
	var err error
	if pc.rate, err = c.parse(fs, args); err != nil {
		return err
	}
	if err := pc.validate(); err != nil {
		return err
	}
	spec := scenarioSpec{
		name: "presence", op: "delivery", sessions: pc.users, readBuffer: 8192,
		params: map[string]any{
			"users": pc.users, "contacts": pc.contacts, "rate": pc.rate, "count": pc.count, "window": pc.window,
			"drain_s": pc.drain.Seconds(),
		},
	}
	return runScenario(ctx, &c, spec, func(ctx context.Context, d *dialer, s *summary, errs *errorLog) error {
		return presenceRun(ctx, d, &c, pc, s, errs, stderr)
	}, stdout)
}

func (pc presenceConfig) validate() error {
	switch {
	case pc.contacts < 1:
		return usagef("-contacts must be at least 1")
	case pc.users < pc.contacts+1:
		return usagef("-users must be more than -contacts")
	case pc.contacts%2 == 1 && pc.users%2 == 1:
		return usagef("an odd -contacts needs an even -users (each user's contacts are its K/2 neighbours on either side of a ring, plus the one opposite)")
	case pc.count < 1:
		return usagef("-count must be at least 1")
	case pc.window < 1:
		return usagef("-window must be at least 1")
	case pc.drain <= 0:
		return usagef("-drain must be positive")
	}
	return nil
}

// contactGraph is who is whose contact: user i's contacts are its K/2
// neighbours on each side of a ring of U users, plus, for an odd K, the
// user opposite. The relation is symmetric and every user has exactly K
// contacts, so every presence change fans out to K deliveries.
type contactGraph struct{ users, contacts int }

func (g contactGraph) isContact(i, j int) bool {
	if i == j || i < 0 || j < 0 || i >= g.users || j >= g.users {
		return false
	}
	d := (j - i + g.users) % g.users
	half := g.contacts / 2
	if d <= half || d >= g.users-half {
		return true
	}
	return g.contacts%2 == 1 && d == g.users/2
}

func (g contactGraph) of(i int) []int {
	var out []int
	for j := range g.users {
		if g.isContact(i, j) {
			out = append(out, j)
		}
	}
	return out
}

// userIndex reads N from a JID "PREFIXN@DOMAIN[/…]".
func userIndex(jid []byte, prefix, domain string) (int, bool) {
	rest, ok := bytes.CutPrefix(jid, []byte(prefix))
	if !ok {
		return 0, false
	}
	at := bytes.IndexByte(rest, '@')
	if at <= 0 || at > 9 {
		return 0, false
	}
	host := rest[at+1:]
	if slash := bytes.IndexByte(host, '/'); slash >= 0 {
		host = host[:slash]
	}
	if string(host) != domain {
		return 0, false
	}
	n := 0
	for _, c := range rest[:at] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if at > 1 && rest[0] == '0' {
		return 0, false
	}
	return n, true
}

// presUser is one user's session and what its reader has seen.
type presUser struct {
	idx      int
	s        *session
	contacts []int
	slot     map[int]int // contact index → position in contacts
	// Owned by the reader: which contacts are currently seen available.
	avail []bool
	seen  atomic.Int32 // how many of avail are true
	// Roster removals sent and not yet answered.
	removing atomic.Int32
}

// presenceState is shared by the readers of a run.
type presenceState struct {
	g          contactGraph
	runID      string
	prefix     string
	domain     string
	base       time.Time
	deliveries []atomic.Int32 // per change: contacts that got it
	delivered  atomic.Int64
	completed  atomic.Int64 // changes that reached all K contacts
	extra      atomic.Int64 // deliveries beyond K of a change
	stale      atomic.Int64
	lastRecv   atomic.Int64
	seen       atomic.Int64 // the users' seen, summed, for progress
	hist       lockedHistogram
	wake       chan struct{}
	errs       *errorLog
}

func presenceRun(ctx context.Context, d *dialer, c *commonFlags, pc presenceConfig, s *summary, errs *errorLog, stderr io.Writer) error {
	g := contactGraph{pc.users, pc.contacts}
	st := &presenceState{
		g: g, runID: newRunID(), prefix: c.prefix, domain: c.domain, errs: errs,
		deliveries: make([]atomic.Int32, pc.count), wake: make(chan struct{}, 1),
	}
	names := make([]string, pc.users)
	for i := range names {
		names[i] = userName(c.prefix, i)
	}
	setup := time.Now()
	var loggedIn atomic.Int64
	users := make([]*presUser, pc.users)
	stopSetup := progress(c.quiet, stderr, "presence", func() string {
		return fmt.Sprintf("set-up: logged in %d/%d, contacts available %d/%d", loggedIn.Load(), pc.users, st.seen.Load(), int64(pc.users)*int64(pc.contacts))
	})
	sessions, err := loginAll(ctx, d, names, func(int) loginOpts {
		return loginOpts{Resource: "rb", Roster: true, Presence: []byte(`<presence/>`)}
	}, 32, func() { loggedIn.Add(1) })
	if err != nil {
		stopSetup()
		return err
	}
	for i, sess := range sessions {
		u := &presUser{idx: i, s: sess, contacts: g.of(i), slot: make(map[int]int)}
		for k, j := range u.contacts {
			u.slot[j] = k
		}
		u.avail = make([]bool, len(u.contacts))
		users[i] = u
	}
	var readers sync.WaitGroup
	for _, u := range users {
		readers.Go(func() {
			if err := u.s.Run(func(raw []byte) error { return st.handle(u, raw) }); err != nil {
				errs.Add(err)
			}
		})
	}
	finish := func() {
		closeAll(sessions, ctx.Err() == nil)
		readers.Wait()
	}
	// Make the rosters what the graph says: subscribe where we lack a
	// subscription to a contact, remove benchmark accounts that are not
	// contacts. The readers approve the contacts' requests.
	for _, u := range users {
		if err := u.fixRoster(st); err != nil {
			stopSetup()
			finish()
			return fmt.Errorf("set up roster of %s: %w", u.s.JID, err)
		}
	}
	want := int64(pc.users) * int64(pc.contacts)
	for {
		var seen, removing int64
		for _, u := range users {
			seen += int64(u.seen.Load())
			removing += int64(u.removing.Load())
		}
		if seen == want && removing == 0 {
			break
		}
		if ctx.Err() != nil {
			stopSetup()
			finish()
			return fmt.Errorf("set-up: only %d of %d contact presences arrived: %w", seen, want, ctx.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopSetup()
	s.SetupS = round3(time.Since(setup).Seconds())

	var prev int64
	stop := progress(c.quiet, stderr, "presence", func() string {
		n := st.delivered.Load()
		r := perSecond(n-prev, time.Second)
		prev = n
		return fmt.Sprintf("deliveries=%d (%.0f/s) changes completed=%d errors=%d", n, r, st.completed.Load(), errs.Count())
	})
	m, err := startMeter(c.serverPID)
	if err != nil {
		stop()
		finish()
		return err
	}
	st.base = time.Now()
	sent, err := st.sendChanges(ctx, users, pc)
	if err != nil {
		errs.Add(err)
	}
	want = sent * int64(pc.contacts)
	waitDrain(ctx, pc.drain, func() (int64, int64) { return st.delivered.Load(), want })
	elapsed := time.Duration(st.lastRecv.Load())
	got := st.delivered.Load()
	if err := m.finish(s, got, false, elapsed); err != nil {
		errs.Add(err)
	}
	stop()
	finish()

	hist := st.hist.Snapshot()
	s.ElapsedS = round3(elapsed.Seconds())
	s.Counts = map[string]int64{
		"planned_changes": pc.count, "changes": sent, "changes_not_sent": pc.count - sent, "changes_completed": st.completed.Load(),
		"expected_deliveries": want, "deliveries": got, "extra_deliveries": st.extra.Load(), "stale": st.stale.Load(),
	}
	s.Rate = perSecond(got, elapsed)
	s.OfferedRate = pc.rate * float64(pc.contacts)
	s.Latency = hist.Summary()
	s.Loss = want - got
	if x := st.extra.Load(); x > 0 {
		errs.Add(fmt.Errorf("%d deliveries more than once", x))
	}
	return nil
}

// fixRoster sends the roster changes that make u's roster match the
// graph.
func (u *presUser) fixRoster(st *presenceState) error {
	have := make(map[int]string) // contact → subscription
	var b []byte
	for _, item := range u.s.Roster.Children {
		if item.Local != "item" {
			continue
		}
		j, ok := userIndex([]byte(item.Attr("jid")), st.prefix, st.domain)
		if !ok {
			continue // not a benchmark account: leave it alone
		}
		if _, contact := u.slot[j]; !contact {
			b = append(b, `<iq type='set' id='rbrm`...)
			b = strconv.AppendInt(b, int64(j), 10)
			b = append(b, `'><query xmlns='`+nsRoster+`'><item jid='`...)
			b = appendEscaped(b, item.Attr("jid"))
			b = append(b, `' subscription='remove'/></query></iq>`...)
			u.removing.Add(1)
			continue
		}
		have[j] = item.Attr("subscription")
	}
	for _, j := range u.contacts {
		if sub := have[j]; sub == "to" || sub == "both" {
			continue
		}
		b = append(b, `<presence type='subscribe' to='`...)
		b = appendEscaped(b, userName(st.prefix, j)+"@"+st.domain)
		b = append(b, `'/>`...)
	}
	if len(b) == 0 {
		return nil
	}
	return u.s.write(b)
}

// handle is a presence user's reader.
func (st *presenceState) handle(u *presUser, raw []byte) error {
	if hasPrefix(raw, "<iq") && bytes.HasPrefix(startTagAttr(raw, "id"), []byte("rbrm")) {
		if typ := string(startTagAttr(raw, "type")); typ == "result" || typ == "error" {
			if typ == "error" {
				st.errs.Add(fmt.Errorf("%s: roster removal failed: %.300s", u.s.JID, raw))
			}
			u.removing.Add(-1)
			return nil
		}
	}
	if !hasPrefix(raw, "<presence") {
		return u.s.handleDefault(raw, st.errs, "")
	}
	from := startTagAttr(raw, "from")
	j, ok := userIndex(from, st.prefix, st.domain)
	if !ok || j == u.idx {
		return nil // the server, or our own presence reflected
	}
	k, contact := u.slot[j]
	switch typ := string(startTagAttr(raw, "type")); typ {
	case "":
		if !contact {
			return nil // a leftover subscription that is being removed
		}
		if !u.avail[k] {
			u.avail[k] = true
			u.seen.Add(1)
			st.seen.Add(1)
		}
		st.delivery(j, raw)
	case "unavailable":
		if contact && u.avail[k] {
			u.avail[k] = false
			u.seen.Add(-1)
			st.seen.Add(-1)
		}
	case "subscribe":
		answer := "subscribed"
		if !contact {
			answer = "unsubscribed"
		}
		bare, _, _ := cutResource(string(from))
		b := append([]byte(`<presence type='`), answer...)
		b = append(b, `' to='`...)
		b = appendEscaped(b, bare)
		b = append(b, `'/>`...)
		return u.s.write(b)
	case "error":
		st.errs.Add(fmt.Errorf("%s got a presence error: %.300s", u.s.JID, raw))
	}
	return nil
}

// delivery accounts for an available presence from contact j carrying a
// mark of this run.
func (st *presenceState) delivery(j int, raw []byte) {
	status := childText(raw, "status")
	if status == nil {
		return // the contact's initial presence
	}
	now := int64(time.Since(st.base))
	m, ok := parseMark(status, st.runID)
	if !ok {
		st.stale.Add(1)
		return
	}
	if m.seq < 0 || m.seq >= int64(len(st.deliveries)) || m.pair != int64(j) {
		st.errs.Add(fmt.Errorf("presence change %d of user %d arrived from user %d", m.seq, m.pair, j))
		return
	}
	n := st.deliveries[m.seq].Add(1)
	if n > int32(st.g.contacts) {
		st.extra.Add(1)
		return
	}
	st.hist.Record(now - m.ts)
	st.delivered.Add(1)
	st.lastRecv.Store(now)
	if n == int32(st.g.contacts) {
		st.completed.Add(1)
		select {
		case st.wake <- struct{}{}:
		default:
		}
	}
}

// sendChanges sends the presence changes round robin over the users, at
// the rate and within the window. It returns how many it sent.
func (st *presenceState) sendChanges(ctx context.Context, users []*presUser, pc presenceConfig) (int64, error) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	var b []byte
	for seq := int64(0); seq < pc.count; {
		if seq-st.completed.Load() >= int64(pc.window) {
			timer.Reset(pc.drain)
			select {
			case <-st.wake:
				continue
			case <-ctx.Done():
				return seq, nil
			case <-timer.C:
				return seq, fmt.Errorf("no presence change completed for %v with %d in flight", pc.drain, pc.window)
			}
		}
		if pc.rate > 0 {
			if wait := dueIn(seq, pc.rate, start); wait > 0 {
				if !sleepCtx(ctx, timer, max(wait, 50*time.Microsecond)) {
					return seq, nil
				}
				continue
			}
		}
		u := users[seq%int64(len(users))]
		b = append(b[:0], `<presence><status>`...)
		b = appendMark(b, st.runID, mark{pair: int64(u.idx), seq: seq, ts: int64(time.Since(st.base))})
		b = append(b, `</status></presence>`...)
		if err := u.s.write(b); err != nil {
			if ctx.Err() != nil {
				return seq, nil
			}
			return seq, fmt.Errorf("send presence of %s: %w", u.s.JID, err)
		}
		seq++
	}
	return pc.count, nil
}
