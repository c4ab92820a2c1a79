package scram

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"testing"
)

func TestNewCredentials(t *testing.T) {
	tests := []struct {
		name       string
		password   string
		iterations int
		wantIter   int
		wantErr    bool
	}{
		{name: "default", password: "pencil", iterations: 0, wantIter: DefaultIterations},
		{name: "explicit", password: "pencil", iterations: 5000, wantIter: 5000},
		{name: "unicode", password: "pässwörd ünïcode", wantIter: DefaultIterations},
		{name: "too few iterations", password: "pencil", iterations: 4095, wantErr: true},
		{name: "negative iterations", password: "pencil", iterations: -1, wantErr: true},
		{name: "empty password", password: "", wantErr: true},
		{name: "control character", password: "pen\x07cil", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCredentials(tc.password, tc.iterations)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("NewCredentials(%q, %d) = %+v, want error", tc.password, tc.iterations, c)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewCredentials(%q, %d) = %v", tc.password, tc.iterations, err)
			}
			if c.Iterations != tc.wantIter {
				t.Errorf("Iterations = %d, want %d", c.Iterations, tc.wantIter)
			}
			if len(c.Salt) < 16 {
				t.Errorf("salt of %d bytes, want 16+", len(c.Salt))
			}
			for _, k := range []struct {
				name string
				key  []byte
				size int
			}{
				{"StoredKey1", c.StoredKey1, sha1.Size},
				{"ServerKey1", c.ServerKey1, sha1.Size},
				{"StoredKey256", c.StoredKey256, sha256.Size},
				{"ServerKey256", c.ServerKey256, sha256.Size},
			} {
				if len(k.key) != k.size {
					t.Errorf("%s has %d bytes, want %d", k.name, len(k.key), k.size)
				}
			}
			// Same password, same salt, same keys: deterministic derivation.
			p, _ := preparePassword(tc.password)
			again, err := deriveCredentials(p, c.Salt, c.Iterations)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.StoredKey256, c.StoredKey256) || !bytes.Equal(again.ServerKey1, c.ServerKey1) {
				t.Error("derivation from the stored salt gives other keys")
			}
		})
	}
}

func TestNewCredentialsRandomSalt(t *testing.T) {
	a, err := NewCredentials("pencil", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewCredentials("pencil", 0)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Salt, b.Salt) || bytes.Equal(a.StoredKey256, b.StoredKey256) {
		t.Errorf("two NewCredentials(pencil) share salt %x or keys", a.Salt)
	}
}
