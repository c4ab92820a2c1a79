package scram

import (
	"bytes"
	"context"
	"crypto/tls"
	"testing"

	"mellium.im/sasl"
)

// runMellium drives a mellium.im/sasl client against s and returns the
// client's first message and the server's error.
func runMellium(t *testing.T, c *sasl.Negotiator, s *Server) (first []byte, err error) {
	t.Helper()
	ctx := context.Background()
	_, resp, err := c.Step(nil)
	if err != nil {
		t.Fatalf("client Step(nil) = %v", err)
	}
	first = resp
	for range 4 {
		out, done, err := s.Step(ctx, resp)
		if err != nil {
			return first, err
		}
		if done {
			if out != nil {
				// SCRAM: the client checks the server signature.
				if _, _, err := c.Step(out); err != nil {
					t.Fatalf("client rejects server-final %q: %v", out, err)
				}
			}
			return first, nil
		}
		if _, resp, err = c.Step(out); err != nil {
			t.Fatalf("client Step(%q) = %v", out, err)
		}
	}
	t.Fatal("exchange did not finish")
	return first, nil
}

func TestInteropMellium(t *testing.T) {
	users := testUsers{
		"alice": mustCredentials(t, "correct horse", nil),
		"bob":   mustCredentials(t, "battery staple", nil),
	}
	tests := []struct {
		name     string
		user     string
		password string
		authzid  string
		plusTLS  bool   // use the -PLUS client on TLS: it sends the "y" flag
		want     string // condition; "" for success
		wantUser string
	}{
		{name: "good", user: "alice", password: "correct horse", wantUser: "alice"},
		{name: "uppercase username", user: "Alice", password: "correct horse", wantUser: "alice"},
		{name: "authzid", user: "bob", password: "battery staple", authzid: "bob@example.com", wantUser: "bob"},
		{name: "y flag", user: "alice", password: "correct horse", plusTLS: true, wantUser: "alice"},
		{name: "wrong password", user: "alice", password: "battery staple", want: "not-authorized"},
		{name: "unknown user", user: "carol", password: "correct horse", want: "not-authorized"},
		{name: "other authzid", user: "bob", password: "battery staple", authzid: "alice@example.com", want: "invalid-authzid"},
	}
	mechs := []struct {
		name   Mechanism
		client sasl.Mechanism
		plus   sasl.Mechanism
	}{
		{SHA256, sasl.ScramSha256, sasl.ScramSha256Plus},
		{SHA1, sasl.ScramSha1, sasl.ScramSha1Plus},
		{Plain, sasl.Plain, sasl.Plain},
	}
	for _, m := range mechs {
		for _, tc := range tests {
			if tc.plusTLS && m.name == Plain {
				continue
			}
			t.Run(string(m.name)+"/"+tc.name, func(t *testing.T) {
				opts := []sasl.Option{sasl.Credentials(func() (u, p, i []byte) {
					return []byte(tc.user), []byte(tc.password), []byte(tc.authzid)
				})}
				mech := m.client
				if tc.plusTLS {
					mech = m.plus
					opts = append(opts, sasl.TLSState(tls.ConnectionState{}))
				}
				s, err := NewServer(m.name, users.lookup, WithSecret(testSecret), WithDomain("example.com"), WithTLS(true))
				if err != nil {
					t.Fatal(err)
				}
				first, err := runMellium(t, sasl.NewClient(mech, opts...), s)
				if tc.plusTLS && m.name != Plain && !bytes.HasPrefix(first, []byte("y,")) {
					t.Errorf("client-first %q: want the y flag", first)
				}
				wantCondition(t, "exchange", err, tc.want)
				if got := s.Username(); got != tc.wantUser {
					t.Errorf("Username() = %q, want %q", got, tc.wantUser)
				}
			})
		}
	}
}
