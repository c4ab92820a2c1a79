package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Offline messages (XEP-0160) and stored subscription requests (RFC 6121
// §3.1.3): what the server accepts for an account without an available
// resource must survive a kill -9 and come out once, in order, byte-exact,
// at the account's next initial presence, on every storage backend.

// offlineTimeout is the hard timeout of the scripts that move a thousand
// messages (a race-detector build of ringd is several times slower).
const offlineTimeout = 60 * time.Second

// offlineSamples are the texts offlineBodies cycles through: emoji (with
// skin tones, ZWJ sequences and flags), CJK, RTL and combining marks,
// characters outside the BMP, XML markup characters, and white space that
// XML keeps (no CR, which XML parsers turn into LF).
var offlineSamples = []string{
	"héllo wörld 🎉",
	"emoji 😀👍🏽 👩‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️‍🔥",
	"日本語のテキスト、中文，한국어",
	"Привет, мир — Ελληνικά",
	"مرحبا بالعالم / שלום עולם",
	"e\u0301 n\u0303 combining, ﬁ ligature, \u200b zero width",
	`markup <b>&amp;</b> ]]> "double" 'single' &lt;`,
	"tab\tand\nnewline\n  indented  ",
	"math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚 and 🀄🃏",
}

// bigBodyBytes is the size of offlineBodies' large bodies.
const bigBodyBytes = 10 << 10

// offlineBodies returns n message bodies. Body i (counting from 1) starts
// with its sequence number ("#007 ") and goes on with one of
// offlineSamples; every 40th one (5 of 200) is padded with multi-byte text
// to exactly 10 KiB.
func offlineBodies(n int) []string {
	bodies := make([]string, n)
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf("#%03d %s", i, offlineSamples[i%len(offlineSamples)])
		if i%40 == 20 {
			body = padBody(body, bigBodyBytes)
		}
		bodies[i-1] = body
	}
	return bodies
}

// padBody fills body up to exactly size bytes with multi-byte text (and,
// for the last few bytes, dots).
func padBody(body string, size int) string {
	const filler = " 😀 日本語 ÄÖÜ ñ 👩‍👩‍👧‍👦 <&> "
	var b strings.Builder
	b.WriteString(body)
	for b.Len()+len(filler) <= size {
		b.WriteString(filler)
	}
	for b.Len() < size {
		b.WriteByte('.')
	}
	return b.String()
}

// messageIDs returns the ids send_many.py gives n messages: prefix + i.
func messageIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return ids
}

// writeBodies writes bodies as the JSON file send_many.py reads.
func writeBodies(t *testing.T, bodies []string) string {
	t.Helper()
	b, err := json.Marshal(bodies)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bodies.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sendMany runs send_many.py: u sends bodies to bare JID to, ids prefix +
// 1…, then pings the server. It returns the script's events and the time
// window in which the server must have stored what it kept.
func sendMany(t *testing.T, s *Server, u user, to string, bodies []string, prefix string) (events []Event, begin, end time.Time) {
	t.Helper()
	file := writeBodies(t, bodies)
	begin = time.Now()
	c := startClientTimeout(t, offlineTimeout, "send_many.py", loginArgs(t, s.C2S, false, u,
		"--presence", "--to", to, "--bodies", file, "--id-prefix", prefix)...)
	events = c.Finish(t)
	end = time.Now()
	if e := c.MustFind(t, Event{Event: "sent"}); e.Count != len(bodies) {
		t.Fatalf("send_many.py sent %d messages, want %d", e.Count, len(bodies))
	}
	return events, begin, end
}

// messageErrors are the message errors among events.
func messageErrors(events []Event) []Event {
	var errs []Event
	for _, e := range events {
		if e.Event == "message" && e.Type == "error" {
			errs = append(errs, e)
		}
	}
	return errs
}

// delivery is what an offline recipient must get: bodies with ids, in
// that order, each once, from the sender's full JID to the recipient's
// bare JID, each with one delay stamped by the server in [begin, end].
type delivery struct {
	bodies, ids []string
	from, to    string
	begin, end  time.Time
}

// check checks the messages client got (events of receive.py). Each is
// matched to what was sent by its id (by its body if the id is unknown),
// so that one lost message is reported once, not as a shift of all after.
func (d delivery) check(t *testing.T, events []Event, client string) {
	t.Helper()
	var got []Event
	for _, e := range events {
		if e.Event == "message" && e.Client == client {
			got = append(got, e)
		}
	}
	byID := make(map[string]int, len(d.ids))
	byBody := make(map[string]int, len(d.bodies))
	for i := range d.ids {
		byID[d.ids[i]], byBody[d.bodies[i]] = i, i
	}

	const maxReports = 10
	bad := 0
	report := func(format string, args ...any) {
		t.Helper()
		if bad++; bad <= maxReports {
			t.Errorf(format, args...)
		}
	}
	lo := d.begin.Truncate(time.Millisecond) // stamps have millisecond precision
	times := make([]int, len(d.bodies))
	last := -1
	for k, e := range got {
		at := fmt.Sprintf("%s's message %d of %d (id %q)", client, k+1, len(got), e.ID)
		i, ok := byID[e.ID]
		if !ok {
			i, ok = byBody[e.Body]
		}
		if !ok {
			report("%s: matches no message sent: %d-byte body %.40q…", at, len(e.Body), e.Body)
			continue
		}
		if times[i]++; times[i] > 1 {
			continue // reported below
		}
		if i < last {
			report("%s: out of order: it was sent as message %d, before message %d, which came earlier", at, i+1, last+1)
		}
		last = max(last, i)
		if e.Body != d.bodies[i] {
			report("%s: body %s", at, stringDiff(e.Body, d.bodies[i]))
		}
		if e.ID != d.ids[i] {
			report("%s: id %q, want %q", at, e.ID, d.ids[i])
		}
		if e.Type != "chat" || e.From != d.from || e.To != d.to {
			report("%s: type %q from %q to %q, want chat from %q to %q", at, e.Type, e.From, e.To, d.from, d.to)
		}
		if len(e.Delays) != 1 {
			report("%s: %d delay elements %v, want 1 (XEP-0203)", at, len(e.Delays), e.Delays)
			continue
		}
		dl := e.Delays[0]
		if dl.From != domain {
			report("%s: delay from %q, want %q", at, dl.From, domain)
		}
		stamp, err := time.Parse(time.RFC3339Nano, dl.Stamp)
		switch {
		case err != nil:
			report("%s: delay stamp %q: %v", at, dl.Stamp, err)
		case !strings.HasSuffix(dl.Stamp, "Z"):
			report("%s: delay stamp %q, want UTC (XEP-0082: ending in Z)", at, dl.Stamp)
		case stamp.Before(lo) || stamp.After(d.end):
			report("%s: delay stamp %s, want between %s and %s, while it was sent",
				at, dl.Stamp, lo.UTC().Format(time.RFC3339Nano), d.end.UTC().Format(time.RFC3339Nano))
		}
	}
	if bad > maxReports {
		t.Errorf("… and %d more problems like these", bad-maxReports)
	}

	var missing, twice []int
	for i, n := range times {
		switch {
		case n == 0:
			missing = append(missing, i+1)
		case n > 1:
			twice = append(twice, i+1)
		}
	}
	if len(got) != len(d.bodies) || len(missing) > 0 || len(twice) > 0 {
		t.Errorf("%s got %d messages, want %d; missing (by sequence number): %s; more than once: %s",
			client, len(got), len(d.bodies), seqList(missing), seqList(twice))
	}
}

// stringDiff describes how got differs from want without printing 10 KiB.
func stringDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	excerpt := func(s string) string {
		lo, hi := max(0, i-16), min(len(s), i+16)
		return fmt.Sprintf("%q", s[lo:hi])
	}
	return fmt.Sprintf("differs at byte %d (got %d bytes, want %d): got …%s…, want …%s…",
		i, len(got), len(want), excerpt(got), excerpt(want))
}

// seqList prints sequence numbers compactly: "none", or the first few.
func seqList(seqs []int) string {
	if len(seqs) == 0 {
		return "none"
	}
	const show = 20
	s := fmt.Sprint(seqs[:min(len(seqs), show)])
	if len(seqs) > show {
		s += fmt.Sprintf(" and %d more", len(seqs)-show)
	}
	return s
}

// finishReceive waits for receive.py, runs check on its events whatever
// happened (so a timeout still says which messages were missing), and then
// fails the test unless the script ran to the end.
func finishReceive(t *testing.T, c *Client, check func(events []Event)) []Event {
	t.Helper()
	status := c.Wait(t)
	events := c.Events()
	check(events)
	if status != exitOK {
		c.FinishWith(t, exitOK) // fails with the reason and the events
	}
	return events
}

// TestOfflineDeliveryAfterKill: alice sends 200 chat messages (emoji,
// multi-byte text, markup characters, five 10 KiB bodies) to bob, who has
// been online before but is not now. Once her ping is answered, ringd has
// stored them all; it is killed with SIGKILL and started again on the
// same store. bob logs in and must get all 200, in order, byte-exact, from
// alice's full JID, each once and with a delay from the server stamped
// while alice was sending. After bob logs out and in again, nothing comes.
func TestOfflineDeliveryAfterKill(t *testing.T) {
	requireClients(t)
	t.Parallel()
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{Users: []user{alice, bob}, Backend: backend})

			// bob was online once: logged in, available, logged out. Once
			// the server has dropped his session, he has no resource at all.
			startClient(t, "login.py", loginArgs(t, s.C2S, false, bob, "--presence")...).Finish(t)
			waitFor(t, 10*time.Second, func() bool { return s.Metric(t, "ringd_router_sessions") == 0 })

			const n = 200
			bodies := offlineBodies(n)
			ids := messageIDs("kill-", n)
			sent, begin, end := sendMany(t, s, alice, bob.JID, bodies, "kill-")
			if errs := messageErrors(sent); len(errs) > 0 {
				t.Fatalf("alice got %d message errors, want none: %v", len(errs), errs)
			}
			if got := s.Metric(t, "ringd_offline_stored_total"); got != n {
				t.Errorf("ringd_offline_stored_total after the ping: got %v, want %d", got, n)
			}
			aliceFull := findSession(t, sent, "c").JID

			s.Kill9(t)
			s.restart(t)

			recv := startClientTimeout(t, offlineTimeout, "receive.py", loginArgs(t, s.C2S, false, bob,
				"--expect", fmt.Sprint(n), "--relogin")...)
			want := delivery{bodies: bodies, ids: ids, from: aliceFull, to: bob.JID, begin: begin, end: end}
			finishReceive(t, recv, func(events []Event) {
				want.check(t, events, "first")
				// The second login gets nothing: all were deleted.
				want.bodies, want.ids = nil, nil
				want.check(t, events, "second")
			})
			if got := s.Metric(t, "ringd_offline_delivered_total"); got != n {
				t.Errorf("ringd_offline_delivered_total after the restart: got %v, want %d", got, n)
			}
		})
	}
}

// findSession returns client's session_start event among events.
func findSession(t *testing.T, events []Event, client string) Event {
	t.Helper()
	for _, e := range events {
		if e.Event == "session_start" && e.Client == client {
			return e
		}
	}
	t.Fatalf("no session_start for client %q", client)
	return Event{}
}

// TestOfflineQuota: with the quota at Q (ringd's default 1000, and a
// configured one), alice sends Q+1 messages to bob, who never logged in.
// Exactly the last one is refused with resource-constraint (type wait,
// from bob's bare JID); bob then gets exactly the first Q, in order, and
// nothing more when he logs in again.
func TestOfflineQuota(t *testing.T) {
	requireClients(t)
	t.Parallel()
	quotas := []struct {
		name   string
		config int // serverOpts.OfflineQuota; 0 = ringd's default
		quota  int // what applies
	}{
		{"default-1000", 0, 1000},
		{"configured-25", 25, 25},
	}
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			for _, tc := range quotas {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := startServer(t, serverOpts{Users: []user{alice, bob}, Backend: backend, OfflineQuota: tc.config})
					bodies := make([]string, tc.quota+1)
					for i := range bodies {
						bodies[i] = fmt.Sprintf("quota #%04d ✓ 📨", i+1)
					}
					ids := messageIDs("q-", len(bodies))

					sent, begin, end := sendMany(t, s, alice, bob.JID, bodies, "q-")
					errs := messageErrors(sent)
					over := ids[tc.quota]
					switch {
					case len(errs) != 1:
						t.Errorf("alice got %d message errors, want exactly 1 (for %s): %v", len(errs), over, errs)
					case errs[0].ID != over || errs[0].Condition != "resource-constraint" || errs[0].ErrorType != "wait" || errs[0].From != bob.JID:
						t.Errorf("message error: got id %q condition %q type %q from %q, want id %q resource-constraint wait from %s",
							errs[0].ID, errs[0].Condition, errs[0].ErrorType, errs[0].From, over, bob.JID)
					}
					aliceFull := findSession(t, sent, "c").JID

					recv := startClientTimeout(t, offlineTimeout, "receive.py", loginArgs(t, s.C2S, false, bob,
						"--expect", fmt.Sprint(tc.quota), "--relogin")...)
					want := delivery{bodies: bodies[:tc.quota], ids: ids[:tc.quota], from: aliceFull, to: bob.JID, begin: begin, end: end}
					finishReceive(t, recv, func(events []Event) {
						want.check(t, events, "first")
						want.bodies, want.ids = nil, nil
						want.check(t, events, "second")
					})
				})
			}
		})
	}
}

// TestOfflineSubscriptionRequest: alice asks for bob's presence while bob
// has no session (RFC 6121 §3.1.3: his server keeps the request). ringd is
// then killed with SIGKILL and started again; bob logs in and gets the
// request, once, from alice's bare JID.
func TestOfflineSubscriptionRequest(t *testing.T) {
	requireClients(t)
	t.Parallel()
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{Users: []user{alice, bob}, Backend: backend})
			startClient(t, "login.py", loginArgs(t, s.C2S, false, alice,
				"--presence", "--subscribe", bob.JID, "--ping")...).Finish(t)

			s.Kill9(t)
			s.restart(t)

			recv := startClient(t, "receive.py", loginArgs(t, s.C2S, false, bob)...)
			var got []Event
			for _, e := range recv.Finish(t) {
				if e.Event == "presence" && e.Type == "subscribe" {
					got = append(got, e)
				}
			}
			if len(got) != 1 || got[0].From != alice.JID || got[0].To != bob.JID {
				t.Errorf("bob got subscription requests %v, want one from %s to %s", got, alice.JID, bob.JID)
			}
		})
	}
}
