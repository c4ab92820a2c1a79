package disco_test

import (
	"encoding/xml"
	"slices"
	"testing"

	"github.com/ringd/ringd/xmpp/disco"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

type result struct {
	Type  string `xml:"type,attr"`
	From  string `xml:"from,attr"`
	Query struct {
		XMLName    xml.Name
		Identities []struct {
			Category string `xml:"category,attr"`
			Type     string `xml:"type,attr"`
		} `xml:"identity"`
		Features []struct {
			Var string `xml:"var,attr"`
		} `xml:"feature"`
	} `xml:"query"`
	Error *struct {
		Cond []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
}

func TestDisco(t *testing.T) {
	env := routertest.New(t, "alice", "bob")
	disco.Register(env.Router, "ringd")
	env.Router.AddFeature(router.ToServer, "urn:test:server-only")
	env.Router.AddFeature(router.ToAccount, "urn:test:account-only")
	alice, conn := env.Bind(t, "alice@localhost/a", true)

	tests := []struct {
		name         string
		in           string
		wantType     string
		wantFrom     string
		wantIdentity string
		wantFeature  string
		notFeature   string
		wantCond     string
	}{
		{
			name:         "info on the server",
			in:           `<iq type="get" to="localhost" id="1"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`,
			wantType:     "result",
			wantFrom:     "localhost",
			wantIdentity: "server/im",
			wantFeature:  "urn:test:server-only",
			notFeature:   "urn:test:account-only",
		},
		{
			name:         "info on another account",
			in:           `<iq type="get" to="bob@localhost" id="2"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`,
			wantType:     "result",
			wantFrom:     "bob@localhost",
			wantIdentity: "account/registered",
			wantFeature:  "urn:test:account-only",
			notFeature:   "urn:test:server-only",
		},
		{
			name:         "info on the own account",
			in:           `<iq type="get" id="3"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`,
			wantType:     "result",
			wantIdentity: "account/registered",
			wantFeature:  disco.NSInfo,
		},
		{
			name:     "unknown node",
			in:       `<iq type="get" to="localhost" id="4"><query xmlns="http://jabber.org/protocol/disco#info" node="nope"/></iq>`,
			wantType: "error",
			wantFrom: "localhost",
			wantCond: "item-not-found",
		},
		{
			name:     "set is not implemented",
			in:       `<iq type="set" to="localhost" id="5"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`,
			wantType: "error",
			wantFrom: "localhost",
			wantCond: "feature-not-implemented",
		},
		{
			name:     "items on the server",
			in:       `<iq type="get" to="localhost" id="6"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`,
			wantType: "result",
			wantFrom: "localhost",
		},
		{
			name:     "info on an account that does not exist",
			in:       `<iq type="get" to="nobody@localhost" id="7"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`,
			wantType: "error",
			wantFrom: "nobody@localhost",
			wantCond: "service-unavailable",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env.Route(t, alice, tc.in)
			got := conn.Take()
			if len(got) != 1 {
				t.Fatalf("got %d replies %q, want 1", len(got), got)
			}
			var r result
			if err := xml.Unmarshal([]byte(got[0]), &r); err != nil {
				t.Fatalf("reply %q: %v", got[0], err)
			}
			if r.Type != tc.wantType || r.From != tc.wantFrom {
				t.Errorf("reply type=%q from=%q, want %q %q: %s", r.Type, r.From, tc.wantType, tc.wantFrom, got[0])
			}
			var ids, feats []string
			for _, id := range r.Query.Identities {
				ids = append(ids, id.Category+"/"+id.Type)
			}
			for _, f := range r.Query.Features {
				feats = append(feats, f.Var)
			}
			if tc.wantIdentity != "" && !slices.Contains(ids, tc.wantIdentity) {
				t.Errorf("identities %q, want %q", ids, tc.wantIdentity)
			}
			if tc.wantFeature != "" && !slices.Contains(feats, tc.wantFeature) {
				t.Errorf("features %q, want %q", feats, tc.wantFeature)
			}
			if tc.notFeature != "" && slices.Contains(feats, tc.notFeature) {
				t.Errorf("features %q include %q", feats, tc.notFeature)
			}
			cond := ""
			if r.Error != nil && len(r.Error.Cond) > 0 {
				cond = r.Error.Cond[0].XMLName.Local
			}
			if cond != tc.wantCond {
				t.Errorf("condition %q, want %q", cond, tc.wantCond)
			}
		})
	}
}
