package push_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/offline"
	"github.com/ringd/ringd/xmpp/push"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

var enabledAt = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

const (
	// options is a publish-options form as Conversations sends it.
	options = `<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="secret"><value>s3cr&amp;t</value></field></x>`
	// withBody allows bodies in notifications.
	withBody = `<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="include-body" type="boolean"><value>true</value></field></x>`

	propose = `<message to="bob@localhost" type="chat"><propose xmlns="urn:xmpp:jingle-message:0" id="call1"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"/></propose><store xmlns="urn:xmpp:hints"/></message>`
	chat    = `<message to="bob@localhost" type="chat"><body>wherefore art thou &amp; more</body></message>`
)

type fixture struct {
	env  *routertest.Env
	push *push.Push
	reg  *prometheus.Registry
}

// setup is a router over a fresh store with offline storage and push
// registered; accounts alice, bob (the callee), pushapp and pushapp2 (two
// app servers played by local sessions).
func setup(t *testing.T) *fixture {
	t.Helper()
	return attach(t, routertest.New(t, "alice", "bob", "pushapp", "pushapp2"), push.Config{})
}

// attach registers offline storage and a new Push on env.
func attach(t *testing.T, env *routertest.Env, cfg push.Config) *fixture {
	t.Helper()
	off, err := offline.New(offline.Config{Router: env.Router, Store: env.Store, Domain: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	off.Register(env.Router)
	reg := prometheus.NewRegistry()
	cfg.Router, cfg.Store, cfg.Registerer = env.Router, env.Store, reg
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return enabledAt }
	}
	p, err := push.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Register(env.Router)
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return &fixture{env: env, push: p, reg: reg}
}

// flush waits until every queued notification was published; the Push
// publishes nothing after.
func (f *fixture) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.push.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

type iqReply struct {
	Type  string `xml:"type,attr"`
	ID    string `xml:"id,attr"`
	Error *struct {
		Type string                       `xml:"type,attr"`
		Cond []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
}

// iq sends an IQ from a session of bob's that is not available and returns
// the reply.
func (f *fixture) iq(t *testing.T, payload string) iqReply {
	t.Helper()
	s, conn := f.env.Bind(t, "bob@localhost/phone", false)
	defer f.env.Router.Unbind(context.Background(), s)
	f.env.Route(t, s, `<iq type="set" id="q1">`+payload+`</iq>`)
	got := conn.Take()
	if len(got) != 1 {
		t.Fatalf("bob got %q, want one reply", got)
	}
	var r iqReply
	if err := xml.Unmarshal([]byte(got[0]), &r); err != nil {
		t.Fatalf("%q: %v", got[0], err)
	}
	return r
}

func (f *fixture) enable(t *testing.T, jid, node, form string) {
	t.Helper()
	if r := f.iq(t, `<enable xmlns="urn:xmpp:push:0" jid="`+jid+`" node="`+node+`">`+form+`</enable>`); r.Type != "result" {
		t.Fatalf("enable %s %s = %+v, want a result", jid, node, r)
	}
}

func (f *fixture) registrations(t *testing.T) []string {
	t.Helper()
	regs, err := f.env.Store.PushRegistrations(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range regs {
		out = append(out, r.Service+" "+r.Node)
	}
	return out
}

// count reads ringd_push_notifications_total for the labels.
func (f *fixture) count(t *testing.T, priority, result string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ringd_push_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["priority"] == priority && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no ringd_push_notifications_total{priority=%q,result=%q}", priority, result)
	return 0
}

func TestEnableDisable(t *testing.T) {
	type step struct {
		payload string
		want    []string // bob's registrations after it
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"enable then disable the node", []step{
			{`<enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"/>`, []string{"push.example.com abc"}},
			{`<disable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"/>`, []string{}},
			{`<disable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"/>`, []string{}},
		}},
		{"disable without node removes every node of the service", []step{
			{`<enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="a"/>`, []string{"push.example.com a"}},
			{`<enable xmlns="urn:xmpp:push:0" jid="push.example.net" node="a"/>`, []string{"push.example.com a", "push.example.net a"}},
			{`<enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="b"/>`, []string{"push.example.com a", "push.example.com b", "push.example.net a"}}, // same instant: by service, node
			{`<disable xmlns="urn:xmpp:push:0" jid="push.example.com"/>`, []string{"push.example.net a"}},
		}},
		{"jid is normalised", []step{
			{`<enable xmlns="urn:xmpp:push:0" jid="PushApp@LocalHost/Srv" node="n"/>`, []string{"pushapp@localhost/Srv n"}},
			{`<disable xmlns="urn:xmpp:push:0" jid="pushapp@LOCALHOST/Srv" node="n"/>`, []string{}},
		}},
		{"enable again replaces", []step{
			{`<enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"/>`, []string{"push.example.com abc"}},
			{`<enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc">` + options + `</enable>`, []string{"push.example.com abc"}},
		}},
		{"prefixed namespaces", []step{
			{`<p:enable xmlns:p="urn:xmpp:push:0" xmlns:d="jabber:x:data" jid="push.example.com" node="abc"><d:x type="submit"><d:field var="FORM_TYPE"><d:value>http://jabber.org/protocol/pubsub#publish-options</d:value></d:field></d:x></p:enable>`, []string{"push.example.com abc"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			for i, st := range tc.steps {
				if r := f.iq(t, st.payload); r.Type != "result" || r.ID != "q1" {
					t.Fatalf("step %d: reply %+v, want a result", i, r)
				}
				if got := f.registrations(t); !slices.Equal(got, st.want) {
					t.Fatalf("step %d: registrations %q, want %q", i, got, st.want)
				}
			}
		})
	}
}

func TestEnableStoresOptions(t *testing.T) {
	f := setup(t)
	// A form with labels, descriptions and foreign elements is kept as
	// fields and values only.
	f.enable(t, "push.example.com", "abc", `<x xmlns="jabber:x:data" type="submit"><title>t</title><field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="secret" label="Secret"><desc>d</desc><value>s3cr&amp;t</value><foo xmlns="urn:example"/></field></x>`)
	regs, err := f.env.Store.PushRegistrations(context.Background(), "bob")
	if err != nil || len(regs) != 1 {
		t.Fatalf("PushRegistrations(bob) = %v, %v; want one", regs, err)
	}
	want := storage.PushRegistration{
		Service: "push.example.com", Node: "abc", Created: enabledAt,
		Options: []byte(`<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="secret"><value>s3cr&amp;t</value></field></x>`),
	}
	if r := regs[0]; r.Service != want.Service || r.Node != want.Node || string(r.Options) != string(want.Options) || !r.Created.Equal(want.Created) {
		t.Errorf("stored %+v\n(options %s)\nwant %+v\n(options %s)", r, r.Options, want, want.Options)
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name    string
		iq      string // whole IQ; type set unless it says otherwise
		errType string
		cond    string
	}{
		{"get", `<iq type="get" id="q1"><enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"/></iq>`, "modify", "bad-request"},
		{"enable without jid", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" node="abc"/></iq>`, "modify", "bad-request"},
		{"enable with empty jid", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="" node="abc"/></iq>`, "modify", "bad-request"},
		{"enable with malformed jid", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="@push.example.com" node="abc"/></iq>`, "modify", "jid-malformed"},
		{"enable with empty resource", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="push.example.com/" node="abc"/></iq>`, "modify", "jid-malformed"},
		{"enable without node", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="push.example.com"/></iq>`, "modify", "bad-request"},
		{"enable with a huge node", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="` + strings.Repeat("n", 2000) + `"/></iq>`, "modify", "bad-request"},
		{"enable to the account itself", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="bob@localhost/other" node="abc"/></iq>`, "modify", "bad-request"},
		{"form of another type", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"><x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>urn:example</value></field></x></enable></iq>`, "modify", "bad-request"},
		{"form without FORM_TYPE", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"><x xmlns="jabber:x:data" type="submit"><field var="secret"><value>s</value></field></x></enable></iq>`, "modify", "bad-request"},
		{"form not submitted", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"><x xmlns="jabber:x:data" type="form"><field var="FORM_TYPE"><value>http://jabber.org/protocol/pubsub#publish-options</value></field></x></enable></iq>`, "modify", "bad-request"},
		{"two forms", `<iq type="set" id="q1"><enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc">` + options + options + `</enable></iq>`, "modify", "bad-request"},
		{"disable without jid", `<iq type="set" id="q1"><disable xmlns="urn:xmpp:push:0" node="abc"/></iq>`, "modify", "bad-request"},
		{"disable with malformed jid", `<iq type="set" id="q1"><disable xmlns="urn:xmpp:push:0" jid="a@b@c" node="abc"/></iq>`, "modify", "jid-malformed"},
		{"unknown element", `<iq type="set" id="q1"><register xmlns="urn:xmpp:push:0" jid="push.example.com"/></iq>`, "modify", "bad-request"},
		{"another account", `<iq type="set" id="q1" to="alice@localhost"><enable xmlns="urn:xmpp:push:0" jid="push.example.com" node="abc"/></iq>`, "cancel", "service-unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			s, conn := f.env.Bind(t, "bob@localhost/phone", true)
			f.env.Route(t, s, tc.iq)
			got := conn.Take()
			if len(got) != 1 {
				t.Fatalf("bob got %q, want one reply", got)
			}
			var r iqReply
			if err := xml.Unmarshal([]byte(got[0]), &r); err != nil {
				t.Fatal(err)
			}
			if r.Type != "error" || r.Error == nil || r.Error.Type != tc.errType || len(r.Error.Cond) == 0 || r.Error.Cond[0].XMLName.Local != tc.cond {
				t.Errorf("reply %s, want a %s/%s error", got[0], tc.errType, tc.cond)
			}
			if regs := f.registrations(t); len(regs) != 0 {
				t.Errorf("registrations %q after a refused request, want none", regs)
			}
		})
	}
}

func TestDiscoFeatureOnAccount(t *testing.T) {
	f := setup(t)
	if !slices.Contains(f.env.Router.Features(router.ToOwnAccount), push.NS) {
		t.Errorf("account features %q lack %s", f.env.Router.Features(router.ToOwnAccount), push.NS)
	}
	if slices.Contains(f.env.Router.Features(router.ToServer), push.NS) {
		t.Errorf("server features %q have %s; XEP-0357 advertises it on the account", f.env.Router.Features(router.ToServer), push.NS)
	}
}

// published is a publish IQ as the app server decodes it.
type published struct {
	raw    string
	Type   string `xml:"type,attr"`
	From   string `xml:"from,attr"`
	To     string `xml:"to,attr"`
	ID     string `xml:"id,attr"`
	PubSub struct {
		XMLName xml.Name
		Publish struct {
			Node string `xml:"node,attr"`
			Item struct {
				Notification struct {
					XMLName xml.Name
					Form    struct {
						XMLName xml.Name
						Type    string `xml:"type,attr"`
						Fields  []struct {
							Var   string `xml:"var,attr"`
							Value string `xml:"value"`
						} `xml:"field"`
					} `xml:"x"`
					Priority *struct {
						XMLName xml.Name
						Value   string `xml:",chardata"`
					} `xml:"priority"`
				} `xml:"notification"`
			} `xml:"item"`
		} `xml:"publish"`
		Options *struct {
			Inner string `xml:",innerxml"`
		} `xml:"publish-options"`
	} `xml:"pubsub"`
}

func (p published) fields() map[string]string {
	m := map[string]string{}
	for _, fl := range p.PubSub.Publish.Item.Notification.Form.Fields {
		m[fl.Var] = fl.Value
	}
	return m
}

func decodePublished(t *testing.T, raw string) published {
	t.Helper()
	var p published
	if err := xml.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	p.raw = raw
	n := p.PubSub.Publish.Item.Notification
	if p.Type != "set" || p.ID == "" || p.PubSub.XMLName.Space != push.NSPubSub || n.XMLName.Space != push.NS || n.Form.XMLName.Space != push.NSData || n.Form.Type != "submit" {
		t.Fatalf("not a XEP-0357 publish: %s", raw)
	}
	if p.fields()["FORM_TYPE"] != push.NSSummary {
		t.Errorf("FORM_TYPE = %q, want %s", p.fields()["FORM_TYPE"], push.NSSummary)
	}
	return p
}

func TestNotify(t *testing.T) {
	tests := []struct {
		name    string
		form    string // the registration's publish-options
		message string
		// want: nil for no notification, else the summary fields.
		want         map[string]string
		wantPriority string // the tigase priority element, "" for none
	}{
		{"chat is normal and has no body", options, chat, map[string]string{
			"FORM_TYPE": push.NSSummary, "message-count": "1", "last-message-sender": "alice@localhost",
		}, ""},
		{"chat with bodies allowed", withBody, chat, map[string]string{
			"FORM_TYPE": push.NSSummary, "message-count": "1", "last-message-sender": "alice@localhost",
			"last-message-body": "wherefore art thou & more",
		}, ""},
		{"call proposal is urgent", options, propose, map[string]string{
			"FORM_TYPE": push.NSSummary, "message-count": "1", "last-message-sender": "alice@localhost",
			"last-message-body": "Incoming call", "last-message-priority": "high",
		}, "high"},
		{"call proposal of JMI 1", "", strings.ReplaceAll(propose, "jingle-message:0", "jingle-message:1"), map[string]string{
			"FORM_TYPE": push.NSSummary, "message-count": "1", "last-message-sender": "alice@localhost",
			"last-message-body": "Incoming call", "last-message-priority": "high",
		}, "high"},
		{"call proposal with bodies allowed and a body", withBody, strings.Replace(propose, `<store`, `<body>Call me</body><store`, 1), map[string]string{
			"FORM_TYPE": push.NSSummary, "message-count": "1", "last-message-sender": "alice@localhost",
			"last-message-body": "Call me", "last-message-priority": "high",
		}, "high"},
		{"retract is normal", options, `<message to="bob@localhost"><retract xmlns="urn:xmpp:jingle-message:0" id="call1"/></message>`, map[string]string{
			"FORM_TYPE": push.NSSummary, "message-count": "1", "last-message-sender": "alice@localhost",
		}, ""},
		{"store hint", options, `<message to="bob@localhost" type="chat"><x xmlns="urn:example"/><store xmlns="urn:xmpp:hints"/></message>`, map[string]string{
			"FORM_TYPE": push.NSSummary, "message-count": "1", "last-message-sender": "alice@localhost",
		}, ""},
		{"to a resource that is gone", options, `<message to="bob@localhost/laptop" type="chat"><body>hi</body></message>`, map[string]string{
			"FORM_TYPE": push.NSSummary, "message-count": "1", "last-message-sender": "alice@localhost",
		}, ""},
		{"chat state only", options, `<message to="bob@localhost" type="chat"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`, nil, ""},
		{"no-store hint", withBody, `<message to="bob@localhost" type="chat"><body>otr</body><no-store xmlns="urn:xmpp:hints"/></message>`, nil, ""},
		{"headline", options, `<message to="bob@localhost" type="headline"><body>news</body></message>`, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			_, app := f.env.Bind(t, "pushapp@localhost/srv", true)
			f.enable(t, "pushapp@localhost/srv", "abc", tc.form)
			alice, aconn := f.env.Bind(t, "alice@localhost/a", true)
			f.env.Route(t, alice, tc.message)
			f.flush(t)
			if got := aconn.Take(); len(got) != 0 {
				t.Errorf("alice got %q, want nothing", got)
			}
			got := app.Take()
			if tc.want == nil {
				if len(got) != 0 {
					t.Errorf("app server got %q, want nothing", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("app server got %q, want one publish", got)
			}
			p := decodePublished(t, got[0])
			if p.From != "bob@localhost" || p.To != "pushapp@localhost/srv" || p.PubSub.Publish.Node != "abc" {
				t.Errorf("publish from %q to %q node %q, want from bob@localhost to pushapp@localhost/srv node abc", p.From, p.To, p.PubSub.Publish.Node)
			}
			if fs := p.fields(); !mapsEqual(fs, tc.want) {
				t.Errorf("summary %v, want %v", fs, tc.want)
			}
			prio := p.PubSub.Publish.Item.Notification.Priority
			switch {
			case tc.wantPriority == "" && prio != nil:
				t.Errorf("priority element %+v, want none", prio)
			case tc.wantPriority != "" && (prio == nil || prio.Value != tc.wantPriority || prio.XMLName.Space != push.NSPriority):
				t.Errorf("priority element %+v, want %s in %s", prio, tc.wantPriority, push.NSPriority)
			}
			if tc.form != withBody && strings.Contains(p.raw, "wherefore") {
				t.Errorf("publish carries the body without permission: %s", p.raw)
			}
			switch opts := p.PubSub.Options; {
			case tc.form == "" && opts != nil:
				t.Errorf("publish-options %q, want none", opts.Inner)
			case tc.form != "" && (opts == nil || opts.Inner != tc.form):
				t.Errorf("publish-options %+v, want %s", opts, tc.form)
			}
			prioLabel := "normal"
			if tc.wantPriority != "" {
				prioLabel = "urgent"
			}
			if n := f.count(t, prioLabel, "sent"); n != 1 {
				t.Errorf("%s sent = %v, want 1", prioLabel, n)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestNoNotificationWhenOnline(t *testing.T) {
	tests := []struct {
		name    string
		message string
	}{
		{"chat", chat},
		{"call proposal", propose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			_, app := f.env.Bind(t, "pushapp@localhost/srv", true)
			f.enable(t, "pushapp@localhost/srv", "abc", options)
			_, bob := f.env.Bind(t, "bob@localhost/laptop", true)
			alice, _ := f.env.Bind(t, "alice@localhost/a", true)
			f.env.Route(t, alice, tc.message)
			f.flush(t)
			if got := bob.Take(); len(got) != 1 {
				t.Errorf("bob got %q, want the message", got)
			}
			if got := app.Take(); len(got) != 0 {
				t.Errorf("app server got %q, want nothing: bob is online", got)
			}
		})
	}
}

func TestNoRegistrationNoNotification(t *testing.T) {
	f := setup(t)
	_, app := f.env.Bind(t, "pushapp@localhost/srv", true)
	f.enable(t, "pushapp@localhost/srv", "abc", "")
	alice, _ := f.env.Bind(t, "alice@localhost/a", true)
	// alice has no registration; bob is offline but disabled his.
	if r := f.iq(t, `<disable xmlns="urn:xmpp:push:0" jid="pushapp@localhost/srv"/>`); r.Type != "result" {
		t.Fatalf("disable = %+v", r)
	}
	f.env.Route(t, alice, chat)
	f.flush(t)
	if got := app.Take(); len(got) != 0 {
		t.Errorf("app server got %q after disable, want nothing", got)
	}
	if n, _ := f.env.Store.CountOffline(context.Background(), "bob"); n != 1 {
		t.Errorf("bob has %d offline messages, want 1: storage does not depend on push", n)
	}
}

func TestEveryRegistrationGetsOne(t *testing.T) {
	f := setup(t)
	_, app1 := f.env.Bind(t, "pushapp@localhost/srv", true)
	_, app2 := f.env.Bind(t, "pushapp2@localhost/srv", true)
	f.enable(t, "pushapp@localhost/srv", "phone", options)
	f.enable(t, "pushapp@localhost/srv", "tablet", "")
	f.enable(t, "pushapp2@localhost", "watch", "") // bare: its session
	f.enable(t, "push.example.net", "remote", "")  // no federation
	f.enable(t, "nobody@localhost/x", "gone", "")  // nobody bound
	alice, _ := f.env.Bind(t, "alice@localhost/a", true)
	f.env.Route(t, alice, propose)
	f.flush(t)

	var nodes []string
	for _, raw := range append(app1.Take(), app2.Take()...) {
		p := decodePublished(t, raw)
		nodes = append(nodes, p.To+" "+p.PubSub.Publish.Node)
	}
	slices.Sort(nodes)
	want := []string{"pushapp2@localhost watch", "pushapp@localhost/srv phone", "pushapp@localhost/srv tablet"}
	if !slices.Equal(nodes, want) {
		t.Errorf("publishes %q, want %q", nodes, want)
	}
	if n := f.count(t, "urgent", "sent"); n != 3 {
		t.Errorf("urgent sent = %v, want 3", n)
	}
	if n := f.count(t, "urgent", "unreachable"); n != 2 {
		t.Errorf("urgent unreachable = %v, want 2", n)
	}
}

func TestMessageCount(t *testing.T) {
	f := setup(t)
	_, app := f.env.Bind(t, "pushapp@localhost/srv", true)
	f.enable(t, "pushapp@localhost/srv", "abc", "")
	alice, _ := f.env.Bind(t, "alice@localhost/a", true)
	const n = 3
	for i := range n {
		f.env.Route(t, alice, fmt.Sprintf(`<message to="bob@localhost" type="chat"><body>%d</body></message>`, i))
	}
	f.flush(t)
	got := app.Take()
	if len(got) != n {
		t.Fatalf("app server got %d publishes, want %d", len(got), n)
	}
	// Published concurrently, so in any order; each counts the queue as
	// it was then, at least its own message.
	var counts []string
	for _, raw := range got {
		counts = append(counts, decodePublished(t, raw).fields()["message-count"])
	}
	slices.Sort(counts)
	if counts[n-1] != fmt.Sprint(n) || counts[0] < "1" {
		t.Errorf("message-count values %q, want between 1 and %d, the last %d", counts, n, n)
	}
}

// TestRegistrationsPersist plays a restart: a new router and Push on the
// same store still notify.
func TestRegistrationsPersist(t *testing.T) {
	f := setup(t)
	f.enable(t, "pushapp@localhost/srv", "abc", options)
	f.flush(t)

	rt, err := router.New(router.Config{Domain: "localhost", Users: f.env.Store})
	if err != nil {
		t.Fatal(err)
	}
	g := attach(t, &routertest.Env{Router: rt, Store: f.env.Store}, push.Config{})
	_, app := g.env.Bind(t, "pushapp@localhost/srv", true)
	alice, _ := g.env.Bind(t, "alice@localhost/a", true)
	g.env.Route(t, alice, propose)
	g.flush(t)
	got := app.Take()
	if len(got) != 1 {
		t.Fatalf("app server got %q after the restart, want one publish", got)
	}
	if p := decodePublished(t, got[0]); p.PubSub.Options == nil || p.PubSub.Options.Inner != options {
		t.Errorf("publish-options after the restart %+v, want %s", p.PubSub.Options, options)
	}
}

func TestMaxRegistrationsEvictsOldest(t *testing.T) {
	env := routertest.New(t, "alice", "bob")
	clock := enabledAt
	f := attach(t, env, push.Config{MaxRegistrations: 2, Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	for _, node := range []string{"a", "b", "c"} {
		f.enable(t, "push.example.com", node, "")
	}
	if got, want := f.registrations(t), []string{"push.example.com b", "push.example.com c"}; !slices.Equal(got, want) {
		t.Errorf("registrations %q, want %q", got, want)
	}
	// Renewing one that exists evicts nothing.
	f.enable(t, "push.example.com", "b", "")
	if got, want := f.registrations(t), []string{"push.example.com c", "push.example.com b"}; !slices.Equal(got, want) {
		t.Errorf("registrations after renewing b %q, want %q", got, want)
	}
}

func TestDroppedAfterClose(t *testing.T) {
	f := setup(t)
	_, app := f.env.Bind(t, "pushapp@localhost/srv", true)
	f.enable(t, "pushapp@localhost/srv", "abc", "")
	f.flush(t)
	alice, _ := f.env.Bind(t, "alice@localhost/a", true)
	f.env.Route(t, alice, propose)
	if got := app.Take(); len(got) != 0 {
		t.Errorf("app server got %q after Close, want nothing", got)
	}
	if n := f.count(t, "urgent", "dropped"); n != 1 {
		t.Errorf("urgent dropped = %v, want 1", n)
	}
	if n, _ := f.env.Store.CountOffline(context.Background(), "bob"); n != 1 {
		t.Errorf("bob has %d offline messages, want 1: a dropped notification loses no message", n)
	}
}

func TestConfig(t *testing.T) {
	env := routertest.New(t)
	tests := []struct {
		name string
		cfg  push.Config
		ok   bool
	}{
		{"defaults", push.Config{Router: env.Router, Store: env.Store}, true},
		{"no router", push.Config{Store: env.Store}, false},
		{"no store", push.Config{Router: env.Router}, false},
		{"negative queue", push.Config{Router: env.Router, Store: env.Store, QueueSize: -1}, false},
		{"negative workers", push.Config{Router: env.Router, Store: env.Store, Workers: -1}, false},
		{"negative timeout", push.Config{Router: env.Router, Store: env.Store, Timeout: -time.Second}, false},
		{"negative max registrations", push.Config{Router: env.Router, Store: env.Store, MaxRegistrations: -1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := push.New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Errorf("New() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
