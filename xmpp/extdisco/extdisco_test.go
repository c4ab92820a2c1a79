package extdisco_test

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/turn"
	"github.com/ringd/ringd/xmpp/extdisco"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

var (
	now = time.Date(2026, 11, 21, 18, 0, 0, 500_000_000, time.UTC)

	services = []turn.Service{
		{Type: "stun", Host: "turn.example.net", Port: 3478, Transport: "udp"},
		{Type: "turn", Host: "turn.example.net", Port: 3478, Transport: "udp", Secret: "embedded"},
		{Type: "turn", Host: "turn.example.net", Port: 3478, Transport: "tcp", Secret: "embedded"},
		{Type: "turn", Host: "coturn.example.net", Port: 3479, Transport: "udp", Secret: "external"},
	}
)

type service struct {
	Type       string `xml:"type,attr"`
	Host       string `xml:"host,attr"`
	Port       string `xml:"port,attr"`
	Transport  string `xml:"transport,attr"`
	Username   string `xml:"username,attr"`
	Password   string `xml:"password,attr"`
	Expires    string `xml:"expires,attr"`
	Restricted string `xml:"restricted,attr"`
}

func (s service) String() string { return s.Type + ":" + s.Host + ":" + s.Port + "/" + s.Transport }

type reply struct {
	Type     string `xml:"type,attr"`
	ID       string `xml:"id,attr"`
	Services *struct {
		Type    string    `xml:"type,attr"`
		Service []service `xml:"service"`
	} `xml:"urn:xmpp:extdisco:2 services"`
	Credentials *struct {
		Service []service `xml:"service"`
	} `xml:"urn:xmpp:extdisco:2 credentials"`
	Error *struct {
		Type  string `xml:"type,attr"`
		Inner []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

func (r reply) condition() string {
	if r.Error == nil || len(r.Error.Inner) == 0 {
		return ""
	}
	return r.Error.Inner[0].XMLName.Local
}

func setup(t *testing.T) (*routertest.Env, *router.Session, *routertest.Conn) {
	t.Helper()
	env := routertest.New(t, "alice")
	h, err := extdisco.New(extdisco.Config{Services: services, TTL: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(env.Router)
	s, c := env.Bind(t, "alice@localhost/phone", true)
	return env, s, c
}

func TestExtdisco(t *testing.T) {
	env, alice, conn := setup(t)
	const wantExpires = "2026-11-21T19:00:00Z"
	wantUsername := "1795287600:alice@localhost" // 2026-11-21T19:00:00Z
	tests := []struct {
		name      string
		in        string
		wantError string   // condition; "" for a result
		want      []string // services listed, by String
	}{
		{"all services", `<iq type="get" to="localhost" id="a"><services xmlns="urn:xmpp:extdisco:2"/></iq>`, "",
			[]string{"stun:turn.example.net:3478/udp", "turn:turn.example.net:3478/udp", "turn:turn.example.net:3478/tcp", "turn:coturn.example.net:3479/udp"}},
		{"turn only", `<iq type="get" to="localhost" id="b"><services xmlns="urn:xmpp:extdisco:2" type="turn"/></iq>`, "",
			[]string{"turn:turn.example.net:3478/udp", "turn:turn.example.net:3478/tcp", "turn:coturn.example.net:3479/udp"}},
		{"stun only", `<iq type="get" to="localhost" id="c"><services xmlns="urn:xmpp:extdisco:2" type="stun"/></iq>`, "",
			[]string{"stun:turn.example.net:3478/udp"}},
		{"unknown type", `<iq type="get" to="localhost" id="d"><services xmlns="urn:xmpp:extdisco:2" type="carrier-pigeon"/></iq>`, "", nil},
		{"credentials", `<iq type="get" to="localhost" id="e"><credentials xmlns="urn:xmpp:extdisco:2"><service host="turn.example.net" type="turn"/></credentials></iq>`, "",
			[]string{"turn:turn.example.net:3478/udp", "turn:turn.example.net:3478/tcp"}},
		{"credentials by port", `<iq type="get" to="localhost" id="f"><credentials xmlns="urn:xmpp:extdisco:2"><service host="coturn.example.net" type="turn" port="3479"/></credentials></iq>`, "",
			[]string{"turn:coturn.example.net:3479/udp"}},
		{"credentials, wrong port", `<iq type="get" to="localhost" id="g"><credentials xmlns="urn:xmpp:extdisco:2"><service host="coturn.example.net" type="turn" port="3478"/></credentials></iq>`, "item-not-found", nil},
		{"credentials, unknown host", `<iq type="get" to="localhost" id="h"><credentials xmlns="urn:xmpp:extdisco:2"><service host="evil.example" type="turn"/></credentials></iq>`, "item-not-found", nil},
		{"credentials for STUN", `<iq type="get" to="localhost" id="i"><credentials xmlns="urn:xmpp:extdisco:2"><service host="turn.example.net" type="stun"/></credentials></iq>`, "item-not-found", nil},
		{"credentials without host", `<iq type="get" to="localhost" id="j"><credentials xmlns="urn:xmpp:extdisco:2"><service type="turn"/></credentials></iq>`, "bad-request", nil},
		{"credentials without service", `<iq type="get" to="localhost" id="k"><credentials xmlns="urn:xmpp:extdisco:2"/></iq>`, "bad-request", nil},
		{"credentials, bad port", `<iq type="get" to="localhost" id="l"><credentials xmlns="urn:xmpp:extdisco:2"><service host="turn.example.net" type="turn" port="x"/></credentials></iq>`, "bad-request", nil},
		{"set", `<iq type="set" to="localhost" id="m"><services xmlns="urn:xmpp:extdisco:2"/></iq>`, "bad-request", nil},
		{"unknown element", `<iq type="get" to="localhost" id="n"><service xmlns="urn:xmpp:extdisco:2"/></iq>`, "feature-not-implemented", nil},
		{"to own account", `<iq type="get" id="o"><services xmlns="urn:xmpp:extdisco:2"/></iq>`, "service-unavailable", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env.Route(t, alice, tc.in)
			got := conn.Take()
			if len(got) != 1 {
				t.Fatalf("Route(%q) delivered %q, want one reply", tc.in, got)
			}
			var r reply
			if err := xml.Unmarshal([]byte(got[0]), &r); err != nil {
				t.Fatalf("reply %q: %v", got[0], err)
			}
			if tc.wantError != "" {
				if r.Type != "error" || r.condition() != tc.wantError {
					t.Fatalf("Route(%q) = %q, want error %s", tc.in, got[0], tc.wantError)
				}
				return
			}
			if r.Type != "result" {
				t.Fatalf("Route(%q) = %q, want a result", tc.in, got[0])
			}
			var svcs []service
			switch {
			case r.Services != nil:
				svcs = r.Services.Service
			case r.Credentials != nil:
				svcs = r.Credentials.Service
			default:
				t.Fatalf("Route(%q) = %q: neither services nor credentials", tc.in, got[0])
			}
			var names []string
			for _, s := range svcs {
				names = append(names, s.String())
				withCreds := s.Type == "turn"
				if withCreds != (s.Username != "") || withCreds != (s.Password != "") || withCreds != (s.Restricted == "1") || withCreds != (s.Expires != "") {
					t.Errorf("service %v: credentials %+v, want them exactly on TURN services", s, s)
				}
				if !withCreds {
					continue
				}
				secret := turn.Secret("embedded")
				if s.Host == "coturn.example.net" {
					secret = "external"
				}
				want := turn.NewCredentials(secret, "alice@localhost", now.Add(time.Hour))
				if s.Username != wantUsername || s.Password != want.Password || s.Expires != wantExpires {
					t.Errorf("service %v: username %q, expires %q, right password %v; want %q, %q, true", s, s.Username, s.Expires, s.Password == want.Password, wantUsername, wantExpires)
				}
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("Route(%q) listed %q, want %q", tc.in, names, tc.want)
			}
		})
	}
}

// TestPerUser: each user gets credentials for its own bare JID, never
// another's, and the feature is advertised on the server only.
func TestPerUser(t *testing.T) {
	env := routertest.New(t, "alice", "bob")
	h, err := extdisco.New(extdisco.Config{Services: services})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(env.Router)
	if !slices.Contains(env.Router.Features(router.ToServer), extdisco.NS) {
		t.Errorf("server features %q lack %s", env.Router.Features(router.ToServer), extdisco.NS)
	}
	if slices.Contains(env.Router.Features(router.ToOwnAccount), extdisco.NS) {
		t.Errorf("account features %q have %s", env.Router.Features(router.ToOwnAccount), extdisco.NS)
	}
	for _, user := range []string{"alice", "bob"} {
		s, c := env.Bind(t, user+"@localhost/r", true)
		env.Route(t, s, `<iq type="get" to="localhost" id="u"><services xmlns="urn:xmpp:extdisco:2" type="turn"/></iq>`)
		got := c.Take()
		if len(got) != 1 || strings.Count(got[0], ":"+user+"@localhost\"") != 3 {
			t.Errorf("%s got %q, want three TURN services with its own bare JID", user, got)
		}
		if user == "bob" && strings.Contains(got[0], "alice") {
			t.Errorf("bob got %q, which names alice", got)
		}
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     extdisco.Config
		wantErr string
	}{
		{"none", extdisco.Config{}, ""},
		{"valid", extdisco.Config{Services: services, TTL: time.Minute}, ""},
		{"short TTL", extdisco.Config{TTL: time.Millisecond}, "TTL"},
		{"TURN without secret", extdisco.Config{Services: []turn.Service{{Type: "turn", Host: "h", Port: 1, Transport: "udp"}}}, "secret"},
		{"bad type", extdisco.Config{Services: []turn.Service{{Type: "relay", Host: "h", Port: 1, Transport: "udp"}}}, "type"},
		{"no host", extdisco.Config{Services: []turn.Service{{Type: "stun", Port: 1, Transport: "udp"}}}, "host"},
		{"bad port", extdisco.Config{Services: []turn.Service{{Type: "stun", Host: "h", Transport: "udp"}}}, "port"},
		{"bad transport", extdisco.Config{Services: []turn.Service{{Type: "stun", Host: "h", Port: 1, Transport: "sctp"}}}, "transport"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extdisco.New(tc.cfg)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("New(%s) = %v, want error containing %q", tc.name, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "embedded") {
				t.Errorf("New error %q shows a secret", err)
			}
		})
	}
}
