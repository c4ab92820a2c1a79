package turn_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v3"
	pturn "github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringd/ringd/turn"
	"github.com/ringd/ringd/xmpp/extdisco"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

const (
	testRealm  = "localhost"
	testSecret = turn.Secret("test-shared-secret")
	ioTimeout  = 5 * time.Second
)

// quiet silences pion's client logs.
var quiet = &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}

// startRelay starts an embedded relay on a free loopback port; it is
// closed, and a leak check run, when the test ends. Tests that use it must
// not run in parallel.
func startRelay(t testing.TB, cfg turn.Config) (*turn.Server, *prometheus.Registry) {
	t.Helper()
	checkGoroutines(t)
	reg := prometheus.NewRegistry()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Realm == "" {
		cfg.Realm = testRealm
	}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	if cfg.RelayPorts == (turn.PortRange{}) {
		cfg.RelayPorts = turn.PortRange{Min: 40000, Max: 48999}
	}
	cfg.Registerer = reg
	srv, err := turn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv, reg
}

// service is a <service/> of an XEP-0215 answer.
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

func (s service) addr() string { return net.JoinHostPort(s.Host, s.Port) }

// discover asks the server, as jid over XEP-0215, for its services and
// returns them.
func discover(t testing.TB, services []turn.Service, jid string) []service {
	t.Helper()
	local, _, _ := strings.Cut(jid, "@")
	env := routertest.New(t, local)
	h, err := extdisco.New(extdisco.Config{Services: services})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(env.Router)
	sess, conn := env.Bind(t, jid+"/phone", true)
	env.Route(t, sess, `<iq type="get" to="localhost" id="x1"><services xmlns="urn:xmpp:extdisco:2"/></iq>`)
	got := conn.Take()
	if len(got) != 1 {
		t.Fatalf("services request delivered %q, want one result", got)
	}
	var iq struct {
		Type     string `xml:"type,attr"`
		Services struct {
			Service []service `xml:"service"`
		} `xml:"urn:xmpp:extdisco:2 services"`
	}
	if err := xml.Unmarshal([]byte(got[0]), &iq); err != nil || iq.Type != "result" {
		t.Fatalf("services answer %q: type %q, %v", got[0], iq.Type, err)
	}
	return iq.Services.Service
}

// find returns the service of type typ over transport tr.
func find(t testing.TB, svcs []service, typ, tr string) service {
	t.Helper()
	for _, s := range svcs {
		if s.Type == typ && s.Transport == tr {
			return s
		}
	}
	t.Fatalf("no %s/%s service in %+v", typ, tr, svcs)
	return service{}
}

// client is a pion TURN client with (after allocate) its relay.
type client struct {
	*pturn.Client
	conn  net.PacketConn // to the server
	relay net.PacketConn
}

// newClient connects a pion client to the server at addr over transport
// ("udp" or "tcp") with the given credentials; it is closed at the end of
// the test.
func newClient(t testing.TB, addr, transport, username, password string) *client {
	t.Helper()
	var conn net.PacketConn
	switch transport {
	case "udp":
		network, local := "udp4", "127.0.0.1:0"
		if host, _, _ := net.SplitHostPort(addr); strings.Contains(host, ":") {
			network, local = "udp6", "[::1]:0"
		}
		c, err := net.ListenPacket(network, local)
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	case "tcp":
		c, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		conn = pturn.NewSTUNConn(c)
	default:
		t.Fatalf("transport %q", transport)
	}
	pc, err := pturn.NewClient(&pturn.ClientConfig{
		STUNServerAddr: addr,
		TURNServerAddr: addr,
		Username:       username,
		Password:       password,
		Conn:           conn,
		LoggerFactory:  quiet,
	})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	if err := pc.Listen(); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	c := &client{Client: pc, conn: conn}
	t.Cleanup(func() {
		if c.relay != nil {
			c.relay.Close()
		}
		pc.Close()
		conn.Close()
	})
	return c
}

// allocate asks for a relay.
func (c *client) allocate() error {
	relay, err := c.Allocate()
	if err != nil {
		return err
	}
	c.relay = relay
	return nil
}

// turnCode returns the STUN error code in err, or 0.
func turnCode(err error) int {
	var p *stun.TurnError
	if errors.As(err, &p) {
		return int(p.ErrorCodeAttr.Code)
	}
	var v stun.TurnError
	if errors.As(err, &v) {
		return int(v.ErrorCodeAttr.Code)
	}
	return 0
}

// exchange sends payload from a's relay to b's and checks that it arrives
// from a's relay address.
func exchange(t testing.TB, a, b *client, payload string) {
	t.Helper()
	if _, err := a.relay.WriteTo([]byte(payload), b.relay.LocalAddr()); err != nil {
		t.Fatalf("WriteTo(%v): %v", b.relay.LocalAddr(), err)
	}
	b.relay.SetReadDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, 1500)
	n, from, err := b.relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if string(buf[:n]) != payload || from.String() != a.relay.LocalAddr().String() {
		t.Fatalf("ReadFrom = %q from %v, want %q from %v", buf[:n], from, payload, a.relay.LocalAddr())
	}
}

// metric returns the value of the named metric with the given labels (name=value pairs).
func metric(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matchLabels(m, labels) {
				switch {
				case m.Gauge != nil:
					return m.GetGauge().GetValue()
				case m.Counter != nil:
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func matchLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// checkGoroutines fails t if goroutines started during the test still run
// after its cleanups (registered later, so run earlier), allowing them a
// few seconds to end.
func checkGoroutines(t testing.TB) {
	before := goroutines()
	t.Cleanup(func() {
		var leaked []string
		deadline := time.Now().Add(ioTimeout)
		for {
			leaked = leaked[:0]
			for id, stack := range goroutines() {
				if _, ok := before[id]; !ok && !ignoredGoroutine(stack) {
					leaked = append(leaked, stack)
				}
			}
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(leaked) > 0 {
			slices.Sort(leaked)
			t.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	})
}

func goroutines() map[int]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := make(map[int]string)
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, " [")
		if id, err := strconv.Atoi(strings.TrimPrefix(head, "goroutine ")); err == nil {
			out[id] = g
		}
	}
	return out
}

func ignoredGoroutine(stack string) bool {
	for _, s := range []string{
		"testing.(*T).Run", "testing.tRunner", "testing.runTests", "testing.(*M)", "testing.(*B)",
		"runtime.goexit0", "created by runtime.gc", "runtime.ensureSigM", "os/signal.signal_recv",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
