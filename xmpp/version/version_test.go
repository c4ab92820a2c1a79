package version_test

import (
	"encoding/xml"
	"testing"

	"github.com/ringd/ringd/xmpp/router/routertest"
	"github.com/ringd/ringd/xmpp/version"
)

func TestVersion(t *testing.T) {
	env := routertest.New(t, "alice")
	version.Register(env.Router, "ringd", "1.2.3<dev>")
	alice, conn := env.Bind(t, "alice@localhost/a", true)
	env.Route(t, alice, `<iq type="get" to="localhost" id="v1"><query xmlns="jabber:iq:version"/></iq>`)
	got := conn.Take()
	if len(got) != 1 {
		t.Fatalf("got %q, want one reply", got)
	}
	var r struct {
		Type  string `xml:"type,attr"`
		Query struct {
			Name    string `xml:"name"`
			Version string `xml:"version"`
			OS      string `xml:"os"`
		} `xml:"jabber:iq:version query"`
	}
	if err := xml.Unmarshal([]byte(got[0]), &r); err != nil {
		t.Fatalf("reply %q: %v", got[0], err)
	}
	if r.Type != "result" || r.Query.Name != "ringd" || r.Query.Version != "1.2.3<dev>" || r.Query.OS != "" {
		t.Errorf("reply %+v, want result ringd 1.2.3<dev> without os", r)
	}
}
