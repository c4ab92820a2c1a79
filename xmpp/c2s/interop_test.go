package c2s

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"net"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// TestInteropMellium logs in with mellium.im/xmpp's client, an independent
// implementation of stream negotiation, SCRAM and binding, and sends itself
// a message through the router.
func TestInteropMellium(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		name   string
		direct bool
		mech   sasl.Mechanism
	}{
		{name: "STARTTLS SCRAM-SHA-256", mech: sasl.ScramSha256},
		{name: "STARTTLS SCRAM-SHA-1", mech: sasl.ScramSha1},
		{name: "direct TLS SCRAM-SHA-256", direct: true, mech: sasl.ScramSha256},
		{name: "direct TLS PLAIN", direct: true, mech: sasl.Plain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			defer cancel()
			var nc net.Conn
			var err error
			features := []xmpp.StreamFeature{xmpp.SASL("", testUsers["bob"], tc.mech), xmpp.BindResource()}
			if tc.direct {
				nc, err = tls.Dial("tcp", ts.directTLS, ts.clientTLS)
			} else {
				nc, err = net.Dial("tcp", ts.starttls)
				features = append([]xmpp.StreamFeature{xmpp.StartTLS(ts.clientTLS)}, features...)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			sess, err := xmpp.NewClientSession(ctx, jid.MustParse("bob@"+testDomain), nc, features...)
			if err != nil {
				t.Fatalf("NewClientSession: %v", err)
			}
			me := sess.LocalAddr()
			if me.Resourcepart() == "" || me.Bare().String() != "bob@"+testDomain {
				t.Errorf("bound %v, want a full JID of bob", me)
			}
			got := make(chan stanza.Message, 1)
			served := make(chan error, 1)
			go func() {
				served <- sess.Serve(xmpp.HandlerFunc(func(_ xmlstream.TokenReadEncoder, start *xml.StartElement) error {
					if start.Name.Local == "message" {
						m, _ := stanza.NewMessage(*start)
						got <- m
					}
					return nil
				}))
			}()
			if err := sess.Encode(ctx, stanza.Message{To: me, ID: "self", Type: stanza.ChatMessage}); err != nil {
				t.Fatalf("Encode: %v", err)
			}
			select {
			case m := <-got:
				if !m.From.Equal(me) || m.ID != "self" {
					t.Errorf("got message from %v id %q, want from %v id self", m.From, m.ID, me)
				}
			case <-ctx.Done():
				t.Fatal("message to self not delivered")
			}
			if err := sess.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
}
