package scram

import (
	"context"
	"testing"
)

func TestPlain(t *testing.T) {
	sha1only := mustCredentials(t, "pencil", nil)
	sha1only.StoredKey256, sha1only.ServerKey256 = nil, nil
	users := testUsers{
		"user":     mustCredentials(t, "pencil", nil),
		"spaced":   mustCredentials(t, "a\u3000b", nil), // OpaqueString maps U+3000 to " "
		"sha1only": sha1only,
	}
	tests := []struct {
		name     string
		msg      string
		want     string // condition; "" for success
		wantUser string
	}{
		{name: "good", msg: "\x00user\x00pencil", wantUser: "user"},
		{name: "uppercase authcid", msg: "\x00User\x00pencil", wantUser: "user"},
		{name: "authzid localpart", msg: "user\x00user\x00pencil", wantUser: "user"},
		{name: "authzid bare JID", msg: "user@example.com\x00user\x00pencil", wantUser: "user"},
		{name: "password prepared", msg: "\x00spaced\x00a b", wantUser: "spaced"},
		{name: "password prepared both ways", msg: "\x00spaced\x00a\u3000b", wantUser: "spaced"},
		{name: "SHA-1 keys only", msg: "\x00sha1only\x00pencil", wantUser: "sha1only"},

		{name: "wrong password", msg: "\x00user\x00pencil2", want: "not-authorized"},
		{name: "password case", msg: "\x00user\x00Pencil", want: "not-authorized"},
		{name: "unknown user", msg: "\x00nobody\x00pencil", want: "not-authorized"},
		{name: "impossible username", msg: "\x00a/b\x00pencil", want: "not-authorized"},
		{name: "unpreparable password", msg: "\x00user\x00pen\u0007cil", want: "not-authorized"},
		{name: "authzid other user", msg: "bob\x00user\x00pencil", want: "invalid-authzid"},
		{name: "authzid other domain", msg: "user@example.org\x00user\x00pencil", want: "invalid-authzid"},
		{name: "lookup error", msg: "\x00broken\x00pencil", want: "temporary-auth-failure"},
		{name: "no separator", msg: "userpencil", want: "malformed-request"},
		{name: "one separator", msg: "user\x00pencil", want: "malformed-request"},
		{name: "three separators", msg: "\x00user\x00pen\x00cil", want: "malformed-request"},
		{name: "empty authcid", msg: "\x00\x00pencil", want: "malformed-request"},
		{name: "empty password", msg: "\x00user\x00", want: "malformed-request"},
		{name: "invalid UTF-8", msg: "\x00user\x00pen\xffcil", want: "malformed-request"},
		{name: "oversized", msg: "\x00user\x00" + string(make([]byte, MaxMessageSize)), want: "malformed-request"},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(Plain, users.lookup, WithSecret(testSecret), WithTLS(true), WithDomain("example.com"))
			if err != nil {
				t.Fatal(err)
			}
			out, done, err := s.Step(ctx, []byte(tc.msg))
			wantCondition(t, "Step", err, tc.want)
			if out != nil {
				t.Errorf("Step = %q, want nil", out)
			}
			if done != (tc.want == "") {
				t.Errorf("Step done = %v, want %v", done, tc.want == "")
			}
			if got := s.Username(); got != tc.wantUser {
				t.Errorf("Username() = %q, want %q", got, tc.wantUser)
			}
		})
	}
}

func TestPlainNoInitialResponse(t *testing.T) {
	users := testUsers{"user": mustCredentials(t, "pencil", nil)}
	s, err := NewServer(Plain, users.lookup, WithSecret(testSecret), WithTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if out, done, err := s.Step(ctx, nil); err != nil || done || out == nil || len(out) != 0 {
		t.Fatalf("Step(nil) = %q, %v, %v, want empty challenge", out, done, err)
	}
	if _, done, err := s.Step(ctx, []byte("\x00user\x00pencil")); err != nil || !done {
		t.Fatalf("Step(response) = %v, %v, want done", done, err)
	}
}
