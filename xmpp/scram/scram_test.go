package scram

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/ringd/ringd/storage"
)

// TestRFCExamples replays the example exchanges of RFC 5802 §5 (SCRAM-SHA-1)
// and RFC 7677 §3 (SCRAM-SHA-256) byte for byte, with credentials derived
// from "pencil" and the RFC's salt.
func TestRFCExamples(t *testing.T) {
	tests := []struct {
		name        string
		mech        Mechanism
		salt        string
		serverNonce string
		clientFirst string
		serverFirst string
		clientFinal string
		serverFinal string
	}{
		{
			name:        "RFC5802/SCRAM-SHA-1",
			mech:        SHA1,
			salt:        "QSXCR+Q6sek8bf92",
			serverNonce: "3rfcNHYJY1ZVvWVs7j",
			clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name:        "RFC7677/SCRAM-SHA-256",
			mech:        SHA256,
			salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
			serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users := testUsers{"user": mustCredentials(t, "pencil", mustB64(t, tc.salt))}
			s, err := NewServer(tc.mech, users.lookup, WithSecret(testSecret), withNonce(tc.serverNonce))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			out, done, err := s.Step(ctx, []byte(tc.clientFirst))
			if err != nil || done || string(out) != tc.serverFirst {
				t.Fatalf("Step(%q) = %q, %v, %v, want %q, false, nil", tc.clientFirst, out, done, err, tc.serverFirst)
			}
			// Our own client derives the same client-final from the password.
			c := scramClient{h: hashOf(tc.mech), password: "pencil", clientFirstBare: tc.clientFirst[3:]}
			if got := c.final(t, tc.serverFirst, "biws", ""); got != tc.clientFinal {
				t.Fatalf("client-final = %q, want %q", got, tc.clientFinal)
			}
			out, done, err = s.Step(ctx, []byte(tc.clientFinal))
			if err != nil || !done || string(out) != tc.serverFinal {
				t.Fatalf("Step(%q) = %q, %v, %v, want %q, true, nil", tc.clientFinal, out, done, err, tc.serverFinal)
			}
			if got := s.Username(); got != "user" {
				t.Errorf("Username() = %q, want %q", got, "user")
			}
		})
	}
}

// TestSCRAM runs whole exchanges, good and bad, for both hashes.
func TestSCRAM(t *testing.T) {
	users := testUsers{
		"user":  mustCredentials(t, "pencil", nil),
		"a,b=c": mustCredentials(t, "pencil", nil),
		"sha256only": func() storage.Credentials {
			c := mustCredentials(t, "pencil", nil)
			c.StoredKey1, c.ServerKey1 = nil, nil
			return c
		}(),
	}
	const cnonce = "fyko+d2lbbFgONRv9qkxdawL"
	tests := []struct {
		name        string
		opts        []Option
		clientFirst string
		password    string // for client-final
		cbind       string // client-final c=; base64(gs2 header) when empty
		nonce       string // client-final r=; server-first's when empty
		final       string // literal client-final, overriding the above
		want        string // condition; "" for success
		wantFirst   bool   // the failure comes at client-first
		wantUser    string
		only        Mechanism // run for this mechanism only
	}{
		{name: "good", clientFirst: "n,,n=user,r=" + cnonce, password: "pencil", wantUser: "user"},
		{name: "y flag", clientFirst: "y,,n=user,r=" + cnonce, password: "pencil", wantUser: "user"},
		{name: "uppercase username", clientFirst: "n,,n=USER,r=" + cnonce, password: "pencil", wantUser: "user"},
		{name: "escaped username", clientFirst: "n,,n=a=2Cb=3Dc,r=" + cnonce, password: "pencil", wantUser: "a,b=c"},
		{name: "authzid localpart", clientFirst: "n,a=user,n=user,r=" + cnonce, password: "pencil", wantUser: "user"},
		{name: "authzid bare JID", opts: []Option{WithDomain("example.com")}, clientFirst: "n,a=User@Example.COM,n=user,r=" + cnonce, password: "pencil", wantUser: "user"},
		{name: "extension ignored", clientFirst: "n,,n=user,r=" + cnonce + ",x=1", password: "pencil", wantUser: "user"},
		{name: "extension in final ignored", clientFirst: "n,,n=user,r=" + cnonce, password: "pencil", cbind: "biws", final: "ext", wantUser: "user"},

		{name: "wrong password", clientFirst: "n,,n=user,r=" + cnonce, password: "pencil2", want: "not-authorized"},
		{name: "unknown user", clientFirst: "n,,n=nobody,r=" + cnonce, password: "pencil", want: "not-authorized"},
		{name: "impossible username", clientFirst: "n,,n=a@b,r=" + cnonce, password: "pencil", want: "not-authorized"},
		{name: "no keys for hash", only: SHA1, clientFirst: "n,,n=sha256only,r=" + cnonce, password: "pencil", want: "not-authorized"},
		{name: "keys for one hash", only: SHA256, clientFirst: "n,,n=sha256only,r=" + cnonce, password: "pencil", wantUser: "sha256only"},
		{name: "tampered nonce", clientFirst: "n,,n=user,r=" + cnonce, password: "pencil", nonce: cnonce + "forged", want: "not-authorized"},
		{name: "client nonce only", clientFirst: "n,,n=user,r=" + cnonce, password: "pencil", nonce: cnonce, want: "not-authorized"},
		{name: "channel binding of y flag", clientFirst: "n,,n=user,r=" + cnonce, password: "pencil", cbind: "eSws", want: "not-authorized"},
		{name: "channel binding with data", clientFirst: "n,,n=user,r=" + cnonce, password: "pencil", cbind: base64.StdEncoding.EncodeToString([]byte("n,,tls-unique-data")), want: "not-authorized"},
		{name: "short proof", clientFirst: "n,,n=user,r=" + cnonce, final: "c=biws,r=NONCE,p=AAAA", want: "not-authorized"},
		{name: "proof not base64", clientFirst: "n,,n=user,r=" + cnonce, final: "c=biws,r=NONCE,p=!!!!", want: "malformed-request"},
		{name: "proof missing", clientFirst: "n,,n=user,r=" + cnonce, final: "c=biws,r=NONCE", want: "malformed-request"},
		{name: "proof not last", clientFirst: "n,,n=user,r=" + cnonce, final: "c=biws,p=AAAA,r=NONCE", want: "malformed-request"},
		{name: "final garbage", clientFirst: "n,,n=user,r=" + cnonce, final: "hello", want: "malformed-request"},
		{name: "final empty", clientFirst: "n,,n=user,r=" + cnonce, final: "", want: "malformed-request"},
		{name: "final bad extension", clientFirst: "n,,n=user,r=" + cnonce, final: "c=biws,r=NONCE,1=x,p=AAAA", want: "malformed-request"},
		{name: "final oversized", clientFirst: "n,,n=user,r=" + cnonce, final: "c=biws,r=NONCE,x=" + strings.Repeat("a", MaxMessageSize) + ",p=AAAA", want: "malformed-request"},

		{name: "p flag", clientFirst: "p=tls-unique,,n=user,r=" + cnonce, want: "not-authorized", wantFirst: true},
		{name: "mandatory extension", clientFirst: "n,,m=ext,n=user,r=" + cnonce, want: "not-authorized", wantFirst: true},
		{name: "authzid other user", clientFirst: "n,a=bob,n=user,r=" + cnonce, want: "invalid-authzid", wantFirst: true},
		{name: "authzid other domain", opts: []Option{WithDomain("example.com")}, clientFirst: "n,a=user@example.org,n=user,r=" + cnonce, want: "invalid-authzid", wantFirst: true},
		{name: "authzid without WithDomain", clientFirst: "n,a=user@example.com,n=user,r=" + cnonce, want: "invalid-authzid", wantFirst: true},
		{name: "authzid full JID", opts: []Option{WithDomain("example.com")}, clientFirst: "n,a=user@example.com/res,n=user,r=" + cnonce, want: "invalid-authzid", wantFirst: true},
		{name: "bad cbind flag", clientFirst: "x,,n=user,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "gs2 header unterminated", clientFirst: "n,n=user", want: "malformed-request", wantFirst: true},
		{name: "authzid without a=", clientFirst: "n,user,n=user,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "authzid empty", clientFirst: "n,a=,n=user,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "no gs2 header", clientFirst: "n=user,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "attributes swapped", clientFirst: "n,,r=" + cnonce + ",n=user", want: "malformed-request", wantFirst: true},
		{name: "nonce missing", clientFirst: "n,,n=user", want: "malformed-request", wantFirst: true},
		{name: "nonce empty", clientFirst: "n,,n=user,r=", want: "malformed-request", wantFirst: true},
		{name: "nonce not printable", clientFirst: "n,,n=user,r=ab\tc", want: "malformed-request", wantFirst: true},
		{name: "username empty", clientFirst: "n,,n=,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "username bad escape", clientFirst: "n,,n=us=er,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "username truncated escape", clientFirst: "n,,n=user=2,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "trailing comma", clientFirst: "n,,n=user,r=" + cnonce + ",", want: "malformed-request", wantFirst: true},
		{name: "invalid UTF-8", clientFirst: "n,,n=us\xffer,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "NUL", clientFirst: "n,,n=us\x00er,r=" + cnonce, want: "malformed-request", wantFirst: true},
		{name: "oversized", clientFirst: "n,,n=user,r=" + cnonce + ",x=" + strings.Repeat("a", MaxMessageSize), want: "malformed-request", wantFirst: true},
		{name: "lookup error", clientFirst: "n,,n=broken,r=" + cnonce, want: "temporary-auth-failure", wantFirst: true},
	}
	ctx := context.Background()
	for _, mech := range []Mechanism{SHA256, SHA1} {
		for _, tc := range tests {
			if tc.only != "" && tc.only != mech {
				continue
			}
			t.Run(string(mech)+"/"+tc.name, func(t *testing.T) {
				opts := append([]Option{WithSecret(testSecret)}, tc.opts...)
				s, err := NewServer(mech, users.lookup, opts...)
				if err != nil {
					t.Fatal(err)
				}
				serverFirst, done, err := s.Step(ctx, []byte(tc.clientFirst))
				if tc.wantFirst {
					wantCondition(t, "Step(client-first)", err, tc.want)
					if serverFirst != nil || done {
						t.Errorf("Step(client-first) = %q, %v, want nil, false", serverFirst, done)
					}
					return
				}
				if err != nil || done {
					t.Fatalf("Step(%q) = %q, %v, %v, want server-first", tc.clientFirst, serverFirst, done, err)
				}
				nonce, _, _ := strings.Cut(strings.TrimPrefix(string(serverFirst), "r="), ",")
				if !strings.HasPrefix(nonce, cnonce) || len(nonce) < len(cnonce)+24 {
					t.Errorf("server nonce %q: want client nonce plus 24+ characters", nonce)
				}

				gs2, bare, _ := strings.Cut(tc.clientFirst, ",n=")
				c := scramClient{h: hashOf(mech), password: tc.password, clientFirstBare: "n=" + bare}
				cbind := tc.cbind
				if cbind == "" {
					cbind = base64.StdEncoding.EncodeToString([]byte(gs2 + ","))
				}
				var final string
				switch tc.final {
				case "ext":
					f := c.final(t, string(serverFirst), cbind, tc.nonce)
					// Rebuild with an extension before the proof; the proof
					// covers it, so compute it over the extended message.
					without, _, _ := strings.Cut(f, ",p=")
					c2 := c
					final = c2.finalWithout(t, string(serverFirst), without+",x=y")
				case "":
					if tc.password != "" {
						final = c.final(t, string(serverFirst), cbind, tc.nonce)
					}
				default:
					final = strings.ReplaceAll(tc.final, "NONCE", nonce)
				}
				out, done, err := s.Step(ctx, []byte(final))
				wantCondition(t, "Step(client-final)", err, tc.want)
				if tc.want != "" {
					if out != nil || done || s.Username() != "" {
						t.Errorf("failed Step = %q, %v, Username %q; want nil, false, \"\"", out, done, s.Username())
					}
					return
				}
				if !done || !strings.HasPrefix(string(out), "v=") {
					t.Fatalf("Step(client-final) = %q, %v, want v=…, true", out, done)
				}
				if got := s.Username(); got != tc.wantUser {
					t.Errorf("Username() = %q, want %q", got, tc.wantUser)
				}
			})
		}
	}
}

// TestUnknownUserSalt checks that an unknown user's challenge looks like a
// real one and cannot be told apart by repeating it.
func TestUnknownUserSalt(t *testing.T) {
	users := testUsers{"user": mustCredentials(t, "pencil", nil)}
	first := func(t *testing.T, mech Mechanism, secret []byte, name string) (salt []byte, iter string) {
		t.Helper()
		s, err := NewServer(mech, users.lookup, WithSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := s.Step(context.Background(), []byte("n,,n="+name+",r=abc"))
		if err != nil {
			t.Fatalf("Step = %v", err)
		}
		attrs := strings.Split(string(out), ",")
		return mustB64(t, strings.TrimPrefix(attrs[1], "s=")), strings.TrimPrefix(attrs[2], "i=")
	}
	otherSecret := []byte("another secret, 16 bytes or more")
	realSalt, realIter := first(t, SHA256, testSecret, "user")

	tests := []struct {
		name     string
		a, b     func(t *testing.T) ([]byte, string)
		wantSame bool
	}{
		{"repeated attempt", func(t *testing.T) ([]byte, string) { return first(t, SHA256, testSecret, "nobody") },
			func(t *testing.T) ([]byte, string) { return first(t, SHA256, testSecret, "nobody") }, true},
		{"SHA-1 and SHA-256 share the salt", func(t *testing.T) ([]byte, string) { return first(t, SHA256, testSecret, "nobody") },
			func(t *testing.T) ([]byte, string) { return first(t, SHA1, testSecret, "nobody") }, true},
		{"case variants share the salt", func(t *testing.T) ([]byte, string) { return first(t, SHA256, testSecret, "nobody") },
			func(t *testing.T) ([]byte, string) { return first(t, SHA256, testSecret, "NoBody") }, true},
		{"other user, other salt", func(t *testing.T) ([]byte, string) { return first(t, SHA256, testSecret, "nobody") },
			func(t *testing.T) ([]byte, string) { return first(t, SHA256, testSecret, "somebody") }, false},
		{"other secret, other salt", func(t *testing.T) ([]byte, string) { return first(t, SHA256, testSecret, "nobody") },
			func(t *testing.T) ([]byte, string) { return first(t, SHA256, otherSecret, "nobody") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sa, ia := tc.a(t)
			sb, ib := tc.b(t)
			if same := string(sa) == string(sb); same != tc.wantSame {
				t.Errorf("salts %x and %x: same = %v, want %v", sa, sb, same, tc.wantSame)
			}
			for _, s := range [][]byte{sa, sb} {
				if len(s) != len(realSalt) {
					t.Errorf("fake salt has %d bytes, real one %d", len(s), len(realSalt))
				}
			}
			if ia != realIter || ib != realIter {
				t.Errorf("iterations %s, %s; real user has %s", ia, ib, realIter)
			}
		})
	}
}

// TestStepLifecycle covers the state machine around the messages: empty
// initial response, Step after the end, Abort.
func TestStepLifecycle(t *testing.T) {
	users := testUsers{"user": mustCredentials(t, "pencil", nil)}
	ctx := context.Background()
	newServer := func(t *testing.T) *Server {
		s, err := NewServer(SHA256, users.lookup, WithSecret(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	login := func(t *testing.T, s *Server) {
		t.Helper()
		sf, _, err := s.Step(ctx, []byte("n,,n=user,r=abc"))
		if err != nil {
			t.Fatal(err)
		}
		c := scramClient{h: hashOf(SHA256), password: "pencil", clientFirstBare: "n=user,r=abc"}
		if _, done, err := s.Step(ctx, []byte(c.final(t, string(sf), "biws", ""))); err != nil || !done {
			t.Fatalf("Step(client-final) = %v, %v", done, err)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s *Server)
	}{
		{"no initial response", func(t *testing.T, s *Server) {
			out, done, err := s.Step(ctx, nil)
			if err != nil || done || out == nil || len(out) != 0 {
				t.Fatalf("Step(nil) = %q, %v, %v, want empty challenge", out, done, err)
			}
			login(t, s)
		}},
		{"empty twice", func(t *testing.T, s *Server) {
			if _, _, err := s.Step(ctx, nil); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.Step(ctx, []byte{})
			wantCondition(t, "second empty Step", err, "malformed-request")
		}},
		{"step after success", func(t *testing.T, s *Server) {
			login(t, s)
			_, _, err := s.Step(ctx, []byte("n,,n=user,r=abc"))
			wantCondition(t, "Step after success", err, "malformed-request")
			if got := s.Username(); got != "user" {
				t.Errorf("Username() = %q after extra Step, want user", got)
			}
		}},
		{"step after failure", func(t *testing.T, s *Server) {
			_, _, err := s.Step(ctx, []byte("garbage"))
			wantCondition(t, "Step(garbage)", err, "malformed-request")
			_, _, err = s.Step(ctx, []byte("n,,n=user,r=abc"))
			wantCondition(t, "Step after failure", err, "malformed-request")
		}},
		{"abort", func(t *testing.T, s *Server) {
			if _, _, err := s.Step(ctx, []byte("n,,n=user,r=abc")); err != nil {
				t.Fatal(err)
			}
			wantCondition(t, "Abort()", s.Abort(), "aborted")
			_, _, err := s.Step(ctx, []byte("c=biws,r=abc,p=AAAA"))
			wantCondition(t, "Step after Abort", err, "malformed-request")
		}},
		{"abort after success", func(t *testing.T, s *Server) {
			login(t, s)
			wantCondition(t, "Abort()", s.Abort(), "aborted")
			if got := s.Username(); got != "user" {
				t.Errorf("Username() = %q, want user", got)
			}
		}},
		{"username before done", func(t *testing.T, s *Server) {
			if _, _, err := s.Step(ctx, []byte("n,,n=user,r=abc")); err != nil {
				t.Fatal(err)
			}
			if got := s.Username(); got != "" {
				t.Errorf("Username() = %q mid-exchange, want \"\"", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newServer(t)) })
	}
}

func TestNewServer(t *testing.T) {
	users := testUsers{}
	tests := []struct {
		name     string
		mech     Mechanism
		lookup   Lookup
		opts     []Option
		wantCond string // FailureError condition
		wantErr  bool   // a configuration error
	}{
		{name: "SCRAM-SHA-256", mech: SHA256, lookup: users.lookup, opts: []Option{WithSecret(testSecret)}},
		{name: "SCRAM-SHA-1", mech: SHA1, lookup: users.lookup, opts: []Option{WithSecret(testSecret)}},
		{name: "PLAIN over TLS", mech: Plain, lookup: users.lookup, opts: []Option{WithSecret(testSecret), WithTLS(true)}},
		{name: "PLAIN without TLS", mech: Plain, lookup: users.lookup, opts: []Option{WithSecret(testSecret)}, wantCond: "encryption-required"},
		{name: "PLAIN with TLS off", mech: Plain, lookup: users.lookup, opts: []Option{WithSecret(testSecret), WithTLS(false)}, wantCond: "encryption-required"},
		{name: "-PLUS", mech: "SCRAM-SHA-256-PLUS", lookup: users.lookup, opts: []Option{WithSecret(testSecret)}, wantCond: "invalid-mechanism"},
		{name: "lowercase", mech: "scram-sha-256", lookup: users.lookup, opts: []Option{WithSecret(testSecret)}, wantCond: "invalid-mechanism"},
		{name: "DIGEST-MD5", mech: "DIGEST-MD5", lookup: users.lookup, opts: []Option{WithSecret(testSecret)}, wantCond: "invalid-mechanism"},
		{name: "no secret", mech: SHA256, lookup: users.lookup, wantErr: true},
		{name: "short secret", mech: SHA256, lookup: users.lookup, opts: []Option{WithSecret([]byte("short"))}, wantErr: true},
		{name: "nil lookup", mech: SHA256, opts: []Option{WithSecret(testSecret)}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(tc.mech, tc.lookup, tc.opts...)
			var fe *FailureError
			switch {
			case tc.wantErr:
				if err == nil || errors.As(err, &fe) {
					t.Fatalf("NewServer = %v, want a configuration error", err)
				}
			default:
				wantCondition(t, "NewServer", err, tc.wantCond)
			}
			if (err == nil) != (s != nil) {
				t.Errorf("NewServer = %v, %v: want exactly one nil", s, err)
			}
		})
	}
}

func TestMechanisms(t *testing.T) {
	tests := []struct {
		name string
		tls  bool
		want string
	}{
		{"plaintext", false, "SCRAM-SHA-256 SCRAM-SHA-1"},
		{"TLS", true, "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, m := range Mechanisms(tc.tls) {
				names = append(names, string(m))
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Errorf("Mechanisms(%v) = %s, want %s", tc.tls, got, tc.want)
			}
		})
	}
}

func TestFailureError(t *testing.T) {
	cause := errors.New("database on fire")
	err := error(failure(ErrTemporaryAuthFailure, "credential lookup", cause))
	tests := []struct {
		name   string
		target error
		want   bool
	}{
		{"own sentinel", ErrTemporaryAuthFailure, true},
		{"other sentinel", ErrNotAuthorized, false},
		{"cause", cause, true},
		{"storage sentinel", storage.ErrNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(err, tc.target); got != tc.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", err, tc.target, got, tc.want)
			}
		})
	}
	if got, want := err.Error(), "scram: temporary-auth-failure: credential lookup: database on fire"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
