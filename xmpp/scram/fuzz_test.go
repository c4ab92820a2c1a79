package scram

import (
	"context"
	"errors"
	"testing"

	"github.com/ringd/ringd/storage"
)

// FuzzServerStep feeds arbitrary first and second client messages to every
// mechanism. Step must never panic, every error must be a *FailureError with
// an RFC 6120 condition, and a forged exchange must never succeed.
func FuzzServerStep(f *testing.F) {
	seeds := []string{
		"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		"y,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		"n,a=user,n=user,r=abc,x=1",
		"p=tls-unique,,n=user,r=abc",
		"n,,m=x,n=user,r=abc",
		"n,,n=a=2Cb=3D,r=abc",
		"n,,n==,r=abc",
		"n,,n=nobody,r=abc",
		"n,,n=broken,r=abc",
		"n,,",
		",,,",
		"",
		"\x00user\x00pencil",
		"user@example.com\x00user\x00x",
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s), []byte("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))
	}
	f.Add(uint8(0), []byte("n,,n=user,r=a"), []byte("c=biws,r=a,x=,p="))

	// Few iterations keep PLAIN fast enough to fuzz; unknown users still
	// cost DefaultIterations.
	cred, err := deriveCredentials("pencil", []byte("salt"), 1)
	if err != nil {
		f.Fatal(err)
	}
	users := testUsers{"user": cred, "zero": storage.Credentials{}}
	conditions := map[string]bool{
		"aborted": true, "invalid-authzid": true, "malformed-request": true,
		"not-authorized": true, "temporary-auth-failure": true,
	}
	mechs := []Mechanism{SHA256, SHA1, Plain}
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, mech uint8, first, second []byte) {
		m := mechs[int(mech)%len(mechs)]
		s, err := NewServer(m, users.lookup, WithSecret(testSecret), WithTLS(true), WithDomain("example.com"))
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range [][]byte{first, second} {
			out, done, err := s.Step(ctx, in)
			if err != nil {
				var fe *FailureError
				if !errors.As(err, &fe) || !conditions[fe.Condition()] {
					t.Fatalf("Step %d = %v: not a known failure", i, err)
				}
				return
			}
			if done {
				// Only PLAIN with the right password can succeed here: a
				// fuzzer cannot forge a SCRAM proof for a random nonce.
				if m != Plain || i != 0 {
					t.Fatalf("%s Step %d succeeded with %q, %q", m, i, first, second)
				}
				if s.Username() == "" {
					t.Fatal("done without a username")
				}
				return
			}
			if len(out) > MaxMessageSize+64 {
				t.Fatalf("Step %d = %d bytes", i, len(out))
			}
		}
	})
}
