package roster

import (
	"strings"
	"testing"
)

func TestRosterGetVersioning(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob")
	phone := h.bind("alice@example.com/phone")
	tablet := h.bind("alice@example.com/tablet")

	phone.send(`<iq type="get" id="g0"><query xmlns="jabber:iq:roster"/></iq>`)
	phone.expect("result id=g0 ver=0")

	// The phone asked for the roster, so it is interested; the tablet is
	// not yet (RFC 6121 §2.2).
	phone.send(`<iq type="set" id="s1"><query xmlns="jabber:iq:roster"><item jid="bob@example.com" name="Bob"><group>Friends</group></item></query></iq>`)
	phone.expect(
		"push ver=1 [bob@example.com none name=Bob groups=Friends]",
		"result id=s1",
	)
	tablet.expect()

	tests := []struct {
		name string
		x    string
		want string
	}{
		{"current version: empty result", `<iq type="get" id="g"><query xmlns="jabber:iq:roster" ver="1"/></iq>`,
			"result id=g"},
		{"older version: whole roster", `<iq type="get" id="g"><query xmlns="jabber:iq:roster" ver="0"/></iq>`,
			"result id=g ver=1 [bob@example.com none name=Bob groups=Friends]"},
		{"empty version: whole roster", `<iq type="get" id="g"><query xmlns="jabber:iq:roster" ver=""/></iq>`,
			"result id=g ver=1 [bob@example.com none name=Bob groups=Friends]"},
		{"unknown version: whole roster", `<iq type="get" id="g"><query xmlns="jabber:iq:roster" ver="ver11"/></iq>`,
			"result id=g ver=1 [bob@example.com none name=Bob groups=Friends]"},
		{"no versioning: whole roster", `<iq type="get" id="g"><query xmlns="jabber:iq:roster"/></iq>`,
			"result id=g ver=1 [bob@example.com none name=Bob groups=Friends]"},
		{"addressed to the own bare JID", `<iq type="get" id="g" to="alice@example.com"><query xmlns="jabber:iq:roster"/></iq>`,
			"result id=g ver=1 [bob@example.com none name=Bob groups=Friends]"},
		{"prefixed namespace", `<iq type="get" id="g" xmlns:r="jabber:iq:roster"><r:query ver="1"/></iq>`,
			"result id=g"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tablet.send(tc.x)
			tablet.expect(tc.want)
		})
	}

	// Now both are interested: a change reaches both, the result only
	// the sender.
	tablet.send(`<iq type="set" id="s2"><query xmlns="jabber:iq:roster"><item jid="carol@example.net"/></query></iq>`)
	tablet.expect("push ver=2 [carol@example.net none]", "result id=s2")
	phone.expect("push ver=2 [carol@example.net none]")
}

func TestRosterSet(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob")
	a := h.bind("alice@example.com/phone")
	a.send(`<iq type="get" id="g0"><query xmlns="jabber:iq:roster"/></iq>`)
	a.take()

	set := func(id, item string) string {
		return `<iq type="set" id="` + id + `"><query xmlns="jabber:iq:roster">` + item + `</query></iq>`
	}
	tests := []struct {
		name string
		x    string
		want []string
	}{
		{"add", set("a1", `<item jid="bob@example.com" name="Bob"><group>Friends</group><group>Work</group></item>`),
			[]string{"push ver=1 [bob@example.com none name=Bob groups=Friends,Work]", "result id=a1"}},
		{"update name and groups", set("a2", `<item jid="bob@example.com" name="Robert"><group>Work</group></item>`),
			[]string{"push ver=2 [bob@example.com none name=Robert groups=Work]", "result id=a2"}},
		{"same again: no new version, no push", set("a3", `<item jid="bob@example.com" name="Robert"><group>Work</group></item>`),
			[]string{"result id=a3"}},
		{"client subscription and ask are ignored", set("a4", `<item jid="bob@example.com" subscription="both" ask="subscribe" approved="true"/>`),
			[]string{"push ver=3 [bob@example.com none]", "result id=a4"}},
		{"JID is normalised", set("a5", `<item jid="Carol@EXAMPLE.com" name="C"/>`),
			[]string{"push ver=4 [carol@example.com none name=C]", "result id=a5"}},
		{"escaping", set("a6", `<item jid="dave@example.com" name="&lt;D&amp;&quot;&gt;"><group>a&apos;b</group></item>`),
			[]string{`push ver=5 [dave@example.com none name=<D&"> groups=a'b]`, "result id=a6"}},
		{"name of 1023 bytes", set("a7", `<item jid="erin@example.com" name="`+strings.Repeat("n", 1023)+`"/>`),
			[]string{"push ver=6 [erin@example.com none name=" + strings.Repeat("n", 1023) + "]", "result id=a7"}},
		{"remove", set("a8", `<item jid="erin@example.com" subscription="remove"/>`),
			[]string{"push ver=7 [erin@example.com remove]", "result id=a8"}},

		// RFC 6121 §2.3.3 and §2.5.3 error cases: an error, no change.
		{"two items", set("e1", `<item jid="x@example.com"/><item jid="y@example.com"/>`),
			[]string{"error id=e1 modify bad-request"}},
		{"no item", set("e2", ``),
			[]string{"error id=e2 modify bad-request"}},
		{"item without jid", set("e3", `<item name="x"/>`),
			[]string{"error id=e3 modify bad-request"}},
		{"malformed jid", set("e4", `<item jid="x@"/>`),
			[]string{"error id=e4 modify jid-malformed"}},
		{"full jid", set("e5", `<item jid="x@example.com/res"/>`),
			[]string{"error id=e5 modify bad-request"}},
		{"own jid", set("e6", `<item jid="alice@example.com"/>`),
			[]string{"error id=e6 cancel not-allowed"}},
		{"empty group", set("e7", `<item jid="x@example.com"><group/></item>`),
			[]string{"error id=e7 modify not-acceptable"}},
		{"duplicate groups", set("e8", `<item jid="x@example.com"><group>g</group><group>g</group></item>`),
			[]string{"error id=e8 modify bad-request"}},
		{"name too long", set("e9", `<item jid="x@example.com" name="`+strings.Repeat("n", 1024)+`"/>`),
			[]string{"error id=e9 modify not-acceptable"}},
		{"group too long", set("e10", `<item jid="x@example.com"><group>`+strings.Repeat("g", 1024)+`</group></item>`),
			[]string{"error id=e10 modify not-acceptable"}},
		{"too many groups", set("e11", `<item jid="x@example.com">`+groups(101)+`</item>`),
			[]string{"error id=e11 modify not-acceptable"}},
		{"remove an absent item", set("e12", `<item jid="x@example.com" subscription="remove"/>`),
			[]string{"error id=e12 cancel item-not-found"}},
		{"set another account's roster", `<iq type="set" id="e13" to="bob@example.com"><query xmlns="jabber:iq:roster"><item jid="x@example.com"/></query></iq>`,
			[]string{"error id=e13 auth forbidden"}},
		{"get another account's roster", `<iq type="get" id="e14" to="bob@example.com"><query xmlns="jabber:iq:roster"/></iq>`,
			[]string{"error id=e14 auth forbidden"}},
		{"100 groups are fine", set("a9", `<item jid="x@example.com">`+groups(100)+`</item>`),
			[]string{"push ver=8 [x@example.com none groups=" + groupList(100) + "]", "result id=a9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.send(tc.x)
			a.expect(tc.want...)
		})
	}
}

func groups(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("<group>g")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("</group>")
	}
	return b.String()
}

func groupList(n int) string {
	var gs []string
	for i := range n {
		gs = append(gs, "g"+strings.Repeat("x", i))
	}
	return strings.Join(gs, ",")
}

func TestRosterFull(t *testing.T) {
	h := newHarness(t, Config{MaxItems: 2}, "alice", "bob", "carol", "dave")
	a := h.login("alice@example.com/phone")
	a.send(`<iq type="set" id="s1"><query xmlns="jabber:iq:roster"><item jid="bob@example.com"/></query></iq>`)
	a.send(`<iq type="set" id="s2"><query xmlns="jabber:iq:roster"><item jid="carol@example.com"/></query></iq>`)
	a.take()

	tests := []struct {
		name string
		x    string
		want []string
	}{
		{"roster set of a new item", `<iq type="set" id="s3"><query xmlns="jabber:iq:roster"><item jid="dave@example.com"/></query></iq>`,
			[]string{"error id=s3 cancel resource-constraint"}},
		{"subscribe to a new contact", `<presence type="subscribe" to="dave@example.com" id="p1"/>`,
			[]string{"presence error from=dave@example.com cancel resource-constraint"}},
		{"update of an existing item", `<iq type="set" id="s4"><query xmlns="jabber:iq:roster"><item jid="bob@example.com" name="B"/></query></iq>`,
			[]string{"push ver=3 [bob@example.com none name=B]", "result id=s4"}},
		{"subscribe to an existing item", `<presence type="subscribe" to="carol@example.com"/>`,
			[]string{"push ver=4 [carol@example.com none ask=subscribe]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.send(tc.x)
			a.expect(tc.want...)
		})
	}
	if got := h.pending("dave"); len(got) != 0 {
		t.Errorf("dave's pending requests = %v, want none", got)
	}
}
