package c2s

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/sasl"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(benchClientEnv); addr != "" {
		os.Exit(benchClientMain(addr))
	}
	os.Exit(m.Run())
}

// Routing benchmarks: two authenticated sessions over TLS on loopback
// through the real server (reader, router, queue, writer). The sender
// writes a pre-serialised stanza as fast as a window of benchWindow
// unanswered stanzas allows; the receiver counts closing tags without
// parsing, to keep client CPU low.
//
// Three figures per run:
//   - ns/op and msgs/s: end-to-end throughput, one op = one stanza routed.
//   - cpu-µs/msg (in-process variants): the whole process's CPU time per
//     stanza (getrusage RUSAGE_SELF). The two clients run in the same
//     process, so this is an upper bound on the server's cost: it includes
//     the clients' TLS and syscalls, which are about as expensive as the
//     server's own.
//   - server-µs/msg (…Subprocess variants): the clients run in a child
//     process (this test binary re-executed with benchClientEnv set), so the
//     parent's RUSAGE_SELF delta over the run is the server's CPU alone
//     (plus the GC and runtime work the server causes).
//
// Run with, e.g.:
//
//	go test -run '^$' -bench 'Route' -benchmem ./xmpp/c2s/
//
// On the 2-core development VM (Go 1.26, loopback, TLS 1.3 AES-GCM, busy
// neighbours, 5 runs): chat 575 B 4.3–4.8 server-µs/msg (~150k msgs/s),
// Jingle 2.1 KB 10.9–11.7 server-µs/msg (~65k msgs/s); the in-process
// upper bound is 5.2–5.7 and 12–13.5 cpu-µs/msg. All 8 (7) allocations
// per stanza are the router's (jid.Parse of 'to', the rewritten copy);
// c2s's own path allocates nothing (TestDeliverWriteNoAlloc, and with
// stream management TestDeliverWriteAckNoAlloc). Stream management on the
// receiver (…TLSSM) adds about 0.3–0.5 cpu-µs/msg in-process, most of it
// the <r/>/<a/> exchange on both sides.

const (
	benchWindow    = 64
	benchClientEnv = "RINGD_C2S_BENCH_CLIENT" // address: run as benchmark client
	benchKindEnv   = "RINGD_C2S_BENCH_KIND"
	benchCAEnv     = "RINGD_C2S_BENCH_CA" // base64 DER of the server certificate
)

type benchStanza struct {
	raw []byte
	tag []byte // closing tag the receiver counts
	ack bool   // the receiver acks (XEP-0198)
}

// benchStanzas are addressed to bob@ringd.test/bench.
var benchStanzas = map[string]benchStanza{
	"chat": {raw: chat575(), tag: []byte("</message>")},
	"jingle": {raw: []byte(`<iq to="bob@ringd.test/bench" type="set" id="jingle-5f2c9a1e"><jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" initiator="alice@ringd.test/bench" sid="a73sjjvkla37jfea"><content creator="initiator" name="voice" senders="both"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio" ssrc="2821307498">` +
		`<payload-type id="111" name="opus" clockrate="48000" channels="2"><parameter name="minptime" value="10"/><parameter name="useinbandfec" value="1"/><rtcp-fb xmlns="urn:xmpp:jingle:apps:rtp:rtcp-fb:0" type="transport-cc"/></payload-type>` +
		`<payload-type id="9" name="G722" clockrate="8000"/><payload-type id="0" name="PCMU" clockrate="8000"/><payload-type id="8" name="PCMA" clockrate="8000"/><payload-type id="13" name="CN" clockrate="8000"/><payload-type id="126" name="telephone-event" clockrate="8000"/>` +
		`<rtp-hdrext xmlns="urn:xmpp:jingle:apps:rtp:rtp-hdrext:0" id="1" uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"/>` +
		`<source xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" ssrc="2821307498"><parameter name="cname" value="hG2v3Lw0P2Kx7TzQ"/><parameter name="msid" value="stream0 audio0"/></source><rtcp-mux/></description>` +
		`<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" pwd="asd88fgpdd777uzjYhagZg" ufrag="8hhy"><fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">6D:A2:31:5C:E8:67:9C:BE:6B:4F:99:F8:53:C9:AB:0D:2F:F6:39:51:3A:22:B3:7E:04:C1:58:6C:0E:D4:5F:2A</fingerprint>` +
		`<candidate component="1" foundation="1" generation="0" id="el0747fg11" ip="10.0.1.1" network="1" port="8998" priority="2130706431" protocol="udp" type="host"/>` +
		`<candidate component="1" foundation="2" generation="0" id="y3s2b30v3r" ip="192.0.2.3" network="1" port="45664" priority="1694498815" protocol="udp" rel-addr="10.0.1.1" rel-port="8998" type="srflx"/>` +
		`<candidate component="1" foundation="3" generation="0" id="x9f7c2a1b0" ip="203.0.113.7" network="1" port="3478" priority="16777215" protocol="udp" rel-addr="192.0.2.3" rel-port="45664" type="relay"/>` +
		`</transport></content><group xmlns="urn:xmpp:jingle:apps:grouping:0" semantics="BUNDLE"><content name="voice"/></group></jingle></iq>`), tag: []byte("</iq>")},
}

// chat575 is a 575-byte chat message, the size of a typical one with a
// receipt request, chat state and origin-id.
func chat575() []byte {
	head := `<message to="bob@ringd.test/bench" type="chat" id="5c3e7f0a-8d2b-4c1e-9f6a-2b7d9e0c1a44" xml:lang="en"><body>`
	tail := `</body><request xmlns="urn:xmpp:receipts"/><active xmlns="http://jabber.org/protocol/chatstates"/><origin-id xmlns="urn:xmpp:sid:0" id="5c3e7f0a-8d2b-4c1e-9f6a-2b7d9e0c1a44"/><markable xmlns="urn:xmpp:chat-markers:0"/></message>`
	body := strings.Repeat("Hello from the benchmark! ", 20)[:575-len(head)-len(tail)]
	return []byte(head + body + tail)
}

func TestBenchStanzas(t *testing.T) {
	if n := len(benchStanzas["chat"].raw); n != 575 {
		t.Errorf("chat stanza is %d bytes, want 575", n)
	}
	if n := len(benchStanzas["jingle"].raw); n < 1900 || n > 2200 {
		t.Errorf("Jingle stanza is %d bytes, want about 2 KB", n)
	}
}

func BenchmarkRouteChat575TLS(b *testing.B)  { benchRoute(b, "chat") }
func BenchmarkRouteJingle2KTLS(b *testing.B) { benchRoute(b, "jingle") }

// BenchmarkRouteChat575TLSSM is the chat benchmark with stream management
// (XEP-0198) on the receiving session: every stanza is counted and kept
// until acked, the server asks for acks with <r/>, and the receiver
// answers them (and acks every 256 messages unasked).
func BenchmarkRouteChat575TLSSM(b *testing.B) { benchRouteSM(b, "chat", true) }
func BenchmarkRouteChat575TLSSubprocess(b *testing.B) {
	benchRouteSubprocess(b, "chat")
}
func BenchmarkRouteJingle2KTLSSubprocess(b *testing.B) {
	benchRouteSubprocess(b, "jingle")
}

func benchRoute(b *testing.B, kind string) { benchRouteSM(b, kind, false) }

func benchRouteSM(b *testing.B, kind string, sm bool) {
	st := benchStanzas[kind]
	b.StopTimer()
	ts := startServer(b)
	alice, _ := login(b, ts, "alice", "bench")
	bob, _ := login(b, ts, "bob", "bench")
	if sm {
		bob.enable(false)
		st.ack = true
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(st.raw)))
	cpu0 := cpuTime()
	start := time.Now()
	b.StartTimer()
	if err := pump(alice.nc, bob.nc, st, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/msg")
	alice.closeStream()
	bob.closeStream()
}

func benchRouteSubprocess(b *testing.B, kind string) {
	st := benchStanzas[kind]
	b.StopTimer()
	ts := startServer(b)
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(),
		benchClientEnv+"="+ts.directTLS,
		benchKindEnv+"="+kind,
		benchCAEnv+"="+base64.StdEncoding.EncodeToString(ts.srvCert.Raw),
	)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	next := func() string {
		if !lines.Scan() {
			cmd.Wait()
			b.Fatalf("benchmark client ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); l != "ready" {
		b.Fatalf("benchmark client said %q", l)
	}
	b.SetBytes(int64(len(st.raw)))
	cpu0 := cpuTime()
	start := time.Now()
	b.StartTimer()
	fmt.Fprintf(stdin, "go %d\n", b.N)
	if l := next(); l != "done" {
		b.Fatalf("benchmark client said %q", l)
	}
	b.StopTimer()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("benchmark client: %v", err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "server-µs/msg")
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pump sends n copies of st on send, at most benchWindow ahead of what
// recv has read, and returns when recv has read all n.
func pump(send, recv net.Conn, st benchStanza, n int) error {
	send.SetDeadline(time.Time{}) // the login helpers leave deadlines behind
	recv.SetDeadline(time.Time{})
	slots := make(chan struct{}, benchWindow)
	for range benchWindow {
		slots <- struct{}{}
	}
	errc := make(chan error, 1)
	go func() {
		if st.ack {
			errc <- countTags(recv, st.tag, n, slots, recv)
		} else {
			errc <- countTags(recv, st.tag, n, slots, nil)
		}
	}()
	for range n {
		select {
		case <-slots:
		case err := <-errc:
			return fmt.Errorf("receiver ended early: %v", err)
		}
		if _, err := send.Write(st.raw); err != nil {
			return err
		}
	}
	return <-errc
}

// countTags reads until it has seen n closing tags, returning a slot for
// each. With ack set it acks (XEP-0198) what it has read when a read
// brought an <r/>, and every 256 tags: every stanza counts, and all it
// received are the counted tags.
func countTags(r io.Reader, tag []byte, n int, slots chan<- struct{}, ack io.Writer) error {
	buf := make([]byte, 64<<10)
	carry, got, acked := 0, 0, 0
	var abuf []byte
	for got < n {
		m, err := r.Read(buf[carry:])
		if err != nil {
			return fmt.Errorf("after %d of %d: %w", got, n, err)
		}
		data := buf[:carry+m]
		requested := ack != nil && bytes.Contains(data, smRequest[:8]) // `<r xmlns`
		i := 0
		for {
			j := bytes.Index(data[i:], tag)
			if j < 0 {
				break
			}
			i += j + len(tag)
			got++
			slots <- struct{}{}
		}
		if ack != nil && got > acked && (requested || got-acked >= 256) {
			abuf = appendAck(abuf[:0], uint32(got))
			if _, err := ack.Write(abuf); err != nil {
				return err
			}
			acked = got
		}
		// Keep what could be the start of a tag split across reads.
		keep := min(len(tag)-1, len(data)-i)
		copy(buf, data[len(data)-keep:])
		carry = keep
	}
	return nil
}

// processTB lets the login helpers run in the benchmark client process,
// which has no testing.T; only the methods they call are implemented.
type processTB struct{ testing.TB }

func (processTB) Helper()                   {}
func (processTB) Cleanup(func())            {}
func (processTB) Logf(f string, a ...any)   { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (processTB) Fatal(a ...any)            { fmt.Fprintln(os.Stderr, a...); os.Exit(2) }
func (processTB) Fatalf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...); os.Exit(2) }
func (processTB) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...); os.Exit(2) }

// benchClientMain is the benchmark client process: it logs in alice and
// bob, says "ready", and on "go N" routes N stanzas, says "done" and
// closes both streams when stdin closes.
func benchClientMain(addr string) int {
	var t processTB
	st, ok := benchStanzas[os.Getenv(benchKindEnv)]
	if !ok {
		t.Fatalf("bench client: unknown kind %q", os.Getenv(benchKindEnv))
	}
	der, err := base64.StdEncoding.DecodeString(os.Getenv(benchCAEnv))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ts := &testServer{directTLS: addr, clientTLS: &tls.Config{RootCAs: pool, ServerName: testDomain}}
	alice := loginDirect(t, ts, "alice", "bench")
	bob := loginDirect(t, ts, "bob", "bench")
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(in.Text(), "go "))
		if err != nil {
			t.Fatalf("bench client: %q", in.Text())
		}
		if err := pump(alice.nc, bob.nc, st, n); err != nil {
			t.Fatal(err)
		}
		fmt.Println("done")
	}
	alice.closeStream()
	bob.closeStream()
	return 0
}

// loginDirect logs in over direct TLS with SCRAM-SHA-256 and binds.
func loginDirect(t testing.TB, ts *testServer, user, resource string) *client {
	c := dialDirectTLS(t, ts)
	c.open()
	if cond := c.auth(sasl.ScramSha256, user, testUsers[user]); cond != "" {
		t.Fatalf("auth %s: %s", user, cond)
	}
	c.open()
	c.bind(resource)
	return c
}
