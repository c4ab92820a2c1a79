package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The exchanges of RFC 5802 §5 and RFC 7677 §3 (user "user", password
// "pencil", fixed client nonces).
var scramVectors = []struct {
	mech, nonce, serverFirst, clientFinal, serverFinal string
}{
	{
		mech:        "SCRAM-SHA-1",
		nonce:       "fyko+d2lbbFgONRv9qkxdawL",
		serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{
		mech:        "SCRAM-SHA-256",
		nonce:       "rOprNGfwEbeRWgbNEkqO",
		serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

func TestSCRAMVectors(t *testing.T) {
	for _, v := range scramVectors {
		t.Run(v.mech, func(t *testing.T) {
			mech, err := scramMechanism(v.mech)
			if err != nil {
				t.Fatal(err)
			}
			c := newSCRAM(mech, "user", "pencil", v.nonce, newSaltCache())
			if got, want := string(c.First()), "n,,n=user,r="+v.nonce; got != want {
				t.Errorf("First() = %q, want %q", got, want)
			}
			final, err := c.Final([]byte(v.serverFirst))
			if err != nil {
				t.Fatalf("Final: %v", err)
			}
			if string(final) != v.clientFinal {
				t.Errorf("Final() = %q, want %q", final, v.clientFinal)
			}
			if err := c.Verify([]byte(v.serverFinal)); err != nil {
				t.Errorf("Verify(%q): %v", v.serverFinal, err)
			}
			if err := c.Verify([]byte("v=" + strings.Repeat("A", 28))); err == nil {
				t.Error("Verify accepted a wrong server signature")
			}
		})
	}
}

func TestSCRAMRejects(t *testing.T) {
	mech, _ := scramMechanism("SCRAM-SHA-1")
	tests := []struct{ name, serverFirst, want string }{
		{"nonce not extended", "r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", "does not extend"},
		{"other nonce", "r=XXXX+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096", "does not extend"},
		{"bad salt", "r=fyko+d2lbbFgONRv9qkxdawLabc,s=***,i=4096", "bad salt"},
		{"bad iterations", "r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=0", "iteration"},
		{"mandatory extension", "m=ext,r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=4096", "extension"},
		{"malformed", "rfyko", "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newSCRAM(mech, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL", newSaltCache())
			_, err := c.Final([]byte(tc.serverFirst))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Final(%q) error = %v, want one containing %q", tc.serverFirst, err, tc.want)
			}
		})
	}
	c := newSCRAM(mech, "user", "pencil", "n", newSaltCache())
	if err := c.Verify([]byte("e=invalid-proof")); err == nil || !strings.Contains(err.Error(), "invalid-proof") {
		t.Errorf("Verify(e=…) = %v, want the server's error", err)
	}
}

func TestSCRAMUsernameEscaping(t *testing.T) {
	mech, _ := scramMechanism("SCRAM-SHA-256")
	c := newSCRAM(mech, "a=b,c", "p", "N", newSaltCache())
	if got, want := string(c.First()), "n,,n=a=3Db=2Cc,r=N"; got != want {
		t.Errorf("First() = %q, want %q", got, want)
	}
}

// TestSaltCache checks that a cached or reloaded salted password gives
// the same exchange, and that the file holds no password.
func TestSaltCache(t *testing.T) {
	v := scramVectors[0]
	mech, _ := scramMechanism(v.mech)
	cache := newSaltCache()
	for i := range 2 {
		c := newSCRAM(mech, "user", "pencil", v.nonce, cache)
		if final, err := c.Final([]byte(v.serverFirst)); err != nil || string(final) != v.clientFinal {
			t.Fatalf("exchange %d: Final = %q, %v", i, final, err)
		}
	}
	if hits, misses := cache.stats(); hits != 1 || misses != 1 {
		t.Errorf("stats = %d hits, %d misses, want 1 and 1", hits, misses)
	}
	path := filepath.Join(t.TempDir(), "cache")
	if err := cache.save(path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || strings.Contains(string(b), "pencil") {
		t.Errorf("cache file: %v, or it contains the password: %q", err, b)
	}
	loaded := newSaltCache()
	if err := loaded.load(path); err != nil {
		t.Fatal(err)
	}
	c := newSCRAM(mech, "user", "pencil", v.nonce, loaded)
	if final, err := c.Final([]byte(v.serverFirst)); err != nil || string(final) != v.clientFinal {
		t.Fatalf("with the loaded cache: Final = %q, %v", final, err)
	}
	if hits, _ := loaded.stats(); hits != 1 {
		t.Errorf("loaded cache: %d hits, want 1", hits)
	}
	if err := newSaltCache().load(filepath.Join(t.TempDir(), "absent")); err != nil {
		t.Errorf("load of a missing file: %v, want an empty cache", err)
	}
}
