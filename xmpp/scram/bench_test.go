package scram

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
)

// BenchmarkServerSCRAMSHA256 is one whole SCRAM-SHA-256 login, server side
// only: NewServer plus both Steps, with the client messages precomputed (the
// server nonce is fixed so client-final can be).
func BenchmarkServerSCRAMSHA256(b *testing.B) {
	benchmarkSCRAM(b, SHA256, "user")
}

// BenchmarkServerSCRAMSHA256UnknownUser is the same for an unknown user,
// which must cost about the same.
func BenchmarkServerSCRAMSHA256UnknownUser(b *testing.B) {
	benchmarkSCRAM(b, SHA256, "nobody")
}

func BenchmarkServerSCRAMSHA1(b *testing.B) {
	benchmarkSCRAM(b, SHA1, "user")
}

func benchmarkSCRAM(b *testing.B, mech Mechanism, user string) {
	users := testUsers{"user": mustCredentials(b, "pencil", nil)}
	const serverNonce = "3rfcNHYJY1ZVvWVs7jAAAAAA"
	clientFirst := []byte("n,,n=" + user + ",r=fyko+d2lbbFgONRv9qkxdawL")
	ctx := context.Background()

	s, err := NewServer(mech, users.lookup, WithSecret(testSecret), withNonce(serverNonce))
	if err != nil {
		b.Fatal(err)
	}
	serverFirst, _, err := s.Step(ctx, clientFirst)
	if err != nil {
		b.Fatal(err)
	}
	c := scramClient{h: hashOf(mech), password: "pencil", clientFirstBare: string(clientFirst[3:])}
	clientFinal := []byte(c.final(b, string(serverFirst), base64.StdEncoding.EncodeToString([]byte("n,,")), ""))
	wantDone := user == "user"

	b.ReportAllocs()
	for b.Loop() {
		s, err := NewServer(mech, users.lookup, WithSecret(testSecret), withNonce(serverNonce))
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Step(ctx, clientFirst); err != nil {
			b.Fatal(err)
		}
		if _, done, _ := s.Step(ctx, clientFinal); done != wantDone {
			b.Fatalf("done = %v, want %v", done, wantDone)
		}
	}
}

// BenchmarkServerSCRAMSHA256RandomNonce includes the server nonce from
// crypto/rand; the client's proof (one HMAC) is computed outside the timer.
func BenchmarkServerSCRAMSHA256RandomNonce(b *testing.B) {
	users := testUsers{"user": mustCredentials(b, "pencil", nil)}
	clientFirst := []byte("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
	p, _ := preparePassword("pencil")
	salted := pbkdf2Key(b, hashOf(SHA256), p, users["user"].Salt, DefaultIterations)
	clientKey := hmacSum(hashOf(SHA256), salted, "Client Key")
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		s, err := NewServer(SHA256, users.lookup, WithSecret(testSecret))
		if err != nil {
			b.Fatal(err)
		}
		serverFirst, _, err := s.Step(ctx, clientFirst)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		nonce := string(serverFirst[2:bytes.IndexByte(serverFirst, ',')])
		without := "c=biws,r=" + nonce
		sig := hmacSum(hashOf(SHA256), users["user"].StoredKey256, string(clientFirst[3:])+","+string(serverFirst)+","+without)
		for i := range sig {
			sig[i] ^= clientKey[i]
		}
		clientFinal := []byte(without + ",p=" + base64.StdEncoding.EncodeToString(sig))
		b.StartTimer()
		if _, done, err := s.Step(ctx, clientFinal); !done {
			b.Fatalf("Step(client-final) = %v", err)
		}
	}
}

// BenchmarkServerPlain is one PLAIN login: dominated by PBKDF2 with
// DefaultIterations, which is why PLAIN is only the fallback.
func BenchmarkServerPlain(b *testing.B) {
	users := testUsers{"user": mustCredentials(b, "pencil", nil)}
	msg := []byte("\x00user\x00pencil")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := NewServer(Plain, users.lookup, WithSecret(testSecret), WithTLS(true))
		if err != nil {
			b.Fatal(err)
		}
		if _, done, err := s.Step(ctx, msg); !done {
			b.Fatalf("Step = %v", err)
		}
	}
}

func BenchmarkNewCredentials(b *testing.B) {
	for b.Loop() {
		if _, err := NewCredentials("correct horse battery staple", 0); err != nil {
			b.Fatal(err)
		}
	}
}
