package c2s

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"mellium.im/sasl"

	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/scram"
)

var (
	_ router.Conn  = (*session)(nil)
	_ http.Handler = (*Server)(nil)
)

const (
	testDomain = "ringd.test"
	nsFraming  = "urn:ietf:params:xml:ns:xmpp-framing"
	// ioTimeout bounds every read a test client waits for.
	ioTimeout = 5 * time.Second
)

// testUsers are the accounts every test server has: name → password.
var testUsers = map[string]string{
	"alice": "alice secret",
	"bob":   "bob secret",
	"carol": "carol secret",
}

// testServer is a real c2s server on loopback: a STARTTLS listener, a
// direct TLS listener and a plain-HTTP WebSocket endpoint, over a real
// router and SQLite store.
type testServer struct {
	srv       *Server
	router    *router.Router
	store     *sqlite.Store
	reg       *prometheus.Registry
	starttls  string // address
	directTLS string
	wsURL     string
	clientTLS *tls.Config
	srvCert   *x509.Certificate
	serveErrs chan error
}

type serverOption func(*Config, *router.Config)

// startServer starts a server for t and registers its shutdown, after
// which a leak check runs: every goroutine the test started must be gone.
func startServer(t testing.TB, opts ...serverOption) *testServer {
	t.Helper()
	return startServerWith(t, nil, opts...)
}

// startServerWith is startServer with features: setup registers them on
// the router before the server starts.
func startServerWith(t testing.TB, setup func(testing.TB, *router.Router, *sqlite.Store), opts ...serverOption) *testServer {
	t.Helper()
	checkGoroutines(t)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ringd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for user, pass := range testUsers {
		cred, err := scram.NewCredentials(pass, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CreateUser(ctx, user, cred); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	cfg := Config{
		Domain:     testDomain,
		Users:      store,
		Secret:     []byte("0123456789abcdef0123456789abcdef"),
		Registerer: reg,
	}
	rcfg := router.Config{Domain: testDomain, Users: store, Registerer: reg}
	for _, o := range opts {
		o(&cfg, &rcfg)
	}
	rt, err := router.New(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(t, rt, store)
	}
	cert, pool := selfSigned(t, testDomain)
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	cfg.Router = rt
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{
		srv:       srv,
		router:    rt,
		store:     store,
		reg:       reg,
		clientTLS: &tls.Config{RootCAs: pool, ServerName: testDomain},
		srvCert:   cert.Leaf,
		serveErrs: make(chan error, 3),
	}
	ln1 := listen(t)
	ln2 := listen(t)
	ln3 := listen(t)
	ts.starttls, ts.directTLS = ln1.Addr().String(), ln2.Addr().String()
	ts.wsURL = "ws://" + ln3.Addr().String() + "/xmpp"
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: ioTimeout}
	go func() { ts.serveErrs <- srv.ServeSTARTTLS(ln1) }()
	go func() { ts.serveErrs <- srv.ServeDirectTLS(ln2) }()
	go func() {
		if err := hs.Serve(ln3); !errors.Is(err, http.ErrServerClosed) {
			ts.serveErrs <- err
			return
		}
		ts.serveErrs <- ErrServerClosed
	}()
	t.Cleanup(func() {
		hs.Close()
		ts.shutdown(t)
		for range 3 {
			if err := <-ts.serveErrs; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve = %v, want ErrServerClosed", err)
			}
		}
	})
	return ts
}

// shutdown stops the server; it may run more than once.
func (ts *testServer) shutdown(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// selfSigned makes a certificate for name and a pool that trusts it.
func selfSigned(t testing.TB, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// metric returns the value of the counter or gauge name with the given
// label pairs, 0 when it has not been touched.
func (ts *testServer) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// waitFor polls cond until it holds or timeout passes (NATS checkFor).
func waitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		<-tick.C
	}
}

// checkGoroutines fails t if goroutines started during the test are still
// running at its end (after the cleanups registered later, such as the
// server's shutdown, have run), allowing them a few seconds to finish.
// Tests that use it must not run in parallel.
func checkGoroutines(t testing.TB) {
	before := goroutines()
	t.Cleanup(func() {
		var leaked []string
		deadline := time.Now().Add(5 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
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
			<-tick.C
		}
		if len(leaked) > 0 {
			slices.Sort(leaked)
			t.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	})
}

// goroutines returns the stack of every goroutine by id.
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
		id, err := strconv.Atoi(strings.TrimPrefix(head, "goroutine "))
		if err == nil {
			out[id] = g
		}
	}
	return out
}

func ignoredGoroutine(stack string) bool {
	for _, s := range []string{
		"testing.(*T).Run", "testing.tRunner", "testing.runTests", "testing.(*M)", // the test framework
		"runtime.goexit0", "created by runtime.gc", "runtime.ensureSigM", "os/signal.signal_recv",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

// client is a raw XMPP client: send writes, expect reads until a pattern
// matches and consumes the input up to the end of the match.
type client struct {
	t     testing.TB
	nc    net.Conn
	tlsc  *tls.Config
	buf   []byte
	wait  time.Duration
	trace bool
}

func dialClient(t testing.TB, addr string, tlsc *tls.Config) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, tlsc: tlsc, wait: ioTimeout}
}

// dialDirectTLS connects to the direct TLS listener.
func dialDirectTLS(t testing.TB, ts *testServer) *client {
	t.Helper()
	c := dialClient(t, ts.directTLS, ts.clientTLS)
	tc := tls.Client(c.nc, ts.clientTLS)
	c.nc.SetDeadline(time.Now().Add(ioTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.nc.SetDeadline(time.Time{})
	c.nc = tc
	return c
}

func (c *client) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(c.wait))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("send %.80q: %v", s, err)
	}
}

// expect reads until re matches the unconsumed input and returns the
// submatches.
func (c *client) expect(re *regexp.Regexp) []string {
	c.t.Helper()
	deadline := time.Now().Add(c.wait)
	c.nc.SetReadDeadline(deadline)
	defer c.nc.SetReadDeadline(time.Time{})
	var tmp [16 << 10]byte
	for {
		if m := re.FindSubmatchIndex(c.buf); m != nil {
			subs := make([]string, len(m)/2)
			for i := range subs {
				if m[2*i] >= 0 {
					subs[i] = string(c.buf[m[2*i]:m[2*i+1]])
				}
			}
			c.buf = c.buf[m[1]:]
			return subs
		}
		n, err := c.nc.Read(tmp[:])
		if c.trace && n > 0 {
			c.t.Logf("recv %s", tmp[:n])
		}
		c.buf = append(c.buf, tmp[:n]...)
		if err != nil && n == 0 {
			c.t.Fatalf("waiting for %s: got %q, then %v", re, c.buf, err)
		}
	}
}

// expectClosed reads until the server closes the connection, ignoring what
// arrives; it fails when the connection stays open.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(c.wait))
	var tmp [16 << 10]byte
	for {
		n, err := c.nc.Read(tmp[:])
		c.buf = append(c.buf, tmp[:n]...)
		if err != nil {
			if isTimeout(err) {
				c.t.Fatalf("connection still open after %v; got %q", c.wait, c.buf)
			}
			break
		}
	}
	// Over TLS that was close_notify; the TCP connection must end too.
	if tc, ok := c.nc.(*tls.Conn); ok {
		for {
			n, err := tc.NetConn().Read(tmp[:])
			if err != nil {
				if isTimeout(err) {
					c.t.Fatalf("TCP connection still open after close_notify")
				}
				return
			}
			if n > 0 {
				c.t.Fatalf("%d bytes after close_notify", n)
			}
		}
	}
}

// expectStreamError reads the stream error cond, the closing tag and the
// close of the connection.
func (c *client) expectStreamError(cond string) {
	c.t.Helper()
	c.expect(regexp.MustCompile(`<stream:error[^>]*><` + regexp.QuoteMeta(cond) + ` xmlns="` + nsStreams + `"/>`))
	c.expect(regexp.MustCompile(`</stream:stream>`))
	c.expectClosed()
}

var (
	reHeader   = regexp.MustCompile(`^(?:<\?xml[^>]*\?>)?<stream:stream [^>]*from="` + testDomain + `"[^>]*id="([a-z0-9]+)"[^>]*>`)
	reFeatures = regexp.MustCompile(`(?s)^<stream:features>(.*?)</stream:features>`)
	reProceed  = regexp.MustCompile(`^<proceed xmlns="` + nsTLS + `"/>`)
	reSASL     = regexp.MustCompile(`^(?:<challenge xmlns="` + nsSASL + `">([^<]*)</challenge>|<success xmlns="` + nsSASL + `"(?:/>|>([^<]*)</success>)|<failure xmlns="` + nsSASL + `"><([a-z-]+)/></failure>)`)
	reBound    = regexp.MustCompile(`^<iq type="result" id="bind1"><bind xmlns="` + nsBind + `"><jid>([^<]+)</jid></bind></iq>`)
)

const clientHeader = `<?xml version='1.0'?><stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="` + testDomain + `" version="1.0">`

// open sends a stream header and returns the features.
func (c *client) open() string {
	c.t.Helper()
	c.send(clientHeader)
	c.expect(reHeader)
	return c.expect(reFeatures)[1]
}

// startTLS negotiates STARTTLS after the first features.
func (c *client) startTLS() {
	c.t.Helper()
	c.send(`<starttls xmlns="` + nsTLS + `"/>`)
	c.expect(reProceed)
	tc := tls.Client(c.nc, c.tlsc)
	c.nc.SetDeadline(time.Now().Add(c.wait))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.nc.SetDeadline(time.Time{})
	c.nc = tc
	c.buf = nil
}

// auth runs one SASL exchange and returns the failure condition, "" on
// success (the server's signature checked).
func (c *client) auth(mech sasl.Mechanism, user, pass string) string {
	c.t.Helper()
	n := sasl.NewClient(mech, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(pass), nil
	}))
	_, resp, err := n.Step(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(`<auth xmlns="` + nsSASL + `" mechanism="` + mech.Name + `">` + base64.StdEncoding.EncodeToString(resp) + `</auth>`)
	for {
		m := c.expect(reSASL)
		switch {
		case m[3] != "":
			return m[3]
		case strings.HasPrefix(m[0], "<success"):
			if m[2] != "" {
				data, _ := base64.StdEncoding.DecodeString(m[2])
				if _, _, err := n.Step(data); err != nil {
					c.t.Fatalf("server signature: %v", err)
				}
			}
			return ""
		}
		data, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			c.t.Fatal(err)
		}
		if _, resp, err = n.Step(data); err != nil {
			c.t.Fatal(err)
		}
		c.send(`<response xmlns="` + nsSASL + `">` + base64.StdEncoding.EncodeToString(resp) + `</response>`)
	}
}

// bind binds resource ("" for a server-chosen one) and returns the full
// JID.
func (c *client) bind(resource string) string {
	c.t.Helper()
	if resource == "" {
		c.send(`<iq type="set" id="bind1"><bind xmlns="` + nsBind + `"/></iq>`)
	} else {
		c.send(`<iq type="set" id="bind1"><bind xmlns="` + nsBind + `"><resource>` + resource + `</resource></bind></iq>`)
	}
	return c.expect(reBound)[1]
}

// login connects over STARTTLS, authenticates with SCRAM-SHA-256 and binds
// resource; it returns the client and its full JID.
func login(t testing.TB, ts *testServer, user, resource string) (*client, string) {
	t.Helper()
	c := dialClient(t, ts.starttls, ts.clientTLS)
	c.open()
	c.startTLS()
	c.open()
	if cond := c.auth(sasl.ScramSha256, user, testUsers[user]); cond != "" {
		t.Fatalf("auth as %s: failure %s", user, cond)
	}
	c.open()
	return c, c.bind(resource)
}

// closeStream ends the stream from the client side and checks the server
// answers with its closing tag and closes the connection.
func (c *client) closeStream() {
	c.t.Helper()
	c.send(`</stream:stream>`)
	c.expect(regexp.MustCompile(`</stream:stream>`))
	c.expectClosed()
}

// attr returns the value of the attribute name in the first start tag of
// s.
func attr(s, name string) string {
	tag, _, _ := strings.Cut(s, ">")
	m := regexp.MustCompile(`\s` + name + `=["']([^"']*)["']`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}
