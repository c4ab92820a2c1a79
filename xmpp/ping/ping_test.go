package ping_test

import (
	"strings"
	"testing"

	"github.com/ringd/ringd/xmpp/ping"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

func TestPing(t *testing.T) {
	env := routertest.New(t, "alice")
	ping.Register(env.Router)
	alice, conn := env.Bind(t, "alice@localhost/a", true)
	tests := []struct {
		name, in, want string
	}{
		{"server", `<iq type="get" to="localhost" id="p1"><ping xmlns="urn:xmpp:ping"/></iq>`, `<iq type="result" id="p1" from="localhost" to="alice@localhost/a"/>`},
		{"own account", `<iq type="get" id="p2"><ping xmlns="urn:xmpp:ping"/></iq>`, `<iq type="result" id="p2" to="alice@localhost/a"/>`},
		{"set", `<iq type="set" to="localhost" id="p3"><ping xmlns="urn:xmpp:ping"/></iq>`, `feature-not-implemented`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env.Route(t, alice, tc.in)
			got := conn.Take()
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Errorf("Route(%q) delivered %q, want one reply containing %q", tc.in, got, tc.want)
			}
		})
	}
}
