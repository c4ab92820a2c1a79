package e2e

import (
	"bytes"
	"encoding/xml"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/logging"
	pturn "github.com/pion/turn/v5"
)

// TestTURNCredentialsOverXMPP: a client logs in over XMPP, asks the server
// for STUN/TURN services (XEP-0215), and with the credentials it got a TURN
// client allocates a relay on the embedded server and exchanges datagrams
// with a peer through it.
func TestTURNCredentialsOverXMPP(t *testing.T) {
	requireClients(t)
	s := startServerWith(t, serverOpts{Users: []user{alice}},
		"[turn]\nenabled = true\nlisten = \"127.0.0.1:0\"\nallow_private_peers = true\nttl = \"1h\"")

	c := startClient(t, "iq.py", append(connArgs(t, s.C2S, false), "--jid", alice.JID,
		"--password="+alice.Password, "--payload", "<services xmlns='urn:xmpp:extdisco:2' type='turn'/>")...)
	if st := c.Wait(t); st != 0 {
		t.Fatalf("iq.py exit %d", st)
	}
	var answer string
	for _, e := range c.Events() {
		if e.Event == "iq_result" {
			answer = e.Message
		}
	}
	var res struct {
		Services []struct {
			Type       string `xml:"type,attr"`
			Host       string `xml:"host,attr"`
			Port       string `xml:"port,attr"`
			Transport  string `xml:"transport,attr"`
			Username   string `xml:"username,attr"`
			Password   string `xml:"password,attr"`
			Expires    string `xml:"expires,attr"`
			Restricted string `xml:"restricted,attr"`
		} `xml:"services>service"`
	}
	if err := xml.Unmarshal([]byte(answer), &res); err != nil {
		t.Fatalf("services answer %q: %v", answer, err)
	}
	var addr, username, password string
	for _, svc := range res.Services {
		if svc.Type != "turn" {
			t.Errorf("type filter turn returned a %q service", svc.Type)
		}
		if svc.Transport == "udp" {
			addr = net.JoinHostPort(svc.Host, svc.Port)
			username, password = svc.Username, svc.Password
			if exp, err := time.Parse(time.RFC3339, svc.Expires); err != nil || time.Until(exp) < 50*time.Minute || time.Until(exp) > 61*time.Minute {
				t.Errorf("expires %q, want about an hour from now", svc.Expires)
			}
			if svc.Restricted != "1" {
				t.Errorf("restricted = %q, want 1", svc.Restricted)
			}
		}
	}
	if addr == "" {
		t.Fatalf("no turn/udp service in %s", answer)
	}

	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	quiet := &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}
	client, err := pturn.NewClient(&pturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr,
		Username: username, Password: password,
		Conn: conn, LoggerFactory: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("allocate with credentials from XEP-0215: %v", err)
	}
	defer relay.Close()

	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	deadline := time.Now().Add(10 * time.Second)
	relay.SetDeadline(deadline)
	peer.SetDeadline(deadline)

	ping := []byte("datagram through the relay")
	if _, err := relay.WriteTo(ping, peer.LocalAddr()); err != nil {
		t.Fatalf("send through relay: %v", err)
	}
	buf := make([]byte, 1500)
	n, from, err := peer.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], ping) {
		t.Fatalf("peer got %q, %v; want %q", buf[:n], err, ping)
	}
	if from.String() != relay.LocalAddr().String() {
		t.Errorf("peer got it from %v, want the relay address %v", from, relay.LocalAddr())
	}
	pong := []byte("and back")
	if _, err := peer.WriteTo(pong, from); err != nil {
		t.Fatal(err)
	}
	n, _, err = relay.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], pong) {
		t.Fatalf("client got %q, %v; want %q", buf[:n], err, pong)
	}
	if got := s.Metric(t, "ringd_turn_allocations"); got != 1 {
		t.Errorf("ringd_turn_allocations = %v, want 1", got)
	}
}
