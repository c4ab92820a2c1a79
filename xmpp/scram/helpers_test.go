package scram

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"testing"

	"github.com/ringd/ringd/storage"
)

var _ error = (*FailureError)(nil)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// testUsers is an in-memory user table; Lookup on it never fails except for
// the user "broken", whose lookup returns a storage error.
type testUsers map[string]storage.Credentials

func (u testUsers) lookup(_ context.Context, name string) (storage.Credentials, error) {
	if name == "broken" {
		return storage.Credentials{}, errors.New("database on fire")
	}
	c, ok := u[name]
	if !ok {
		return storage.Credentials{}, fmt.Errorf("user %q: %w", name, storage.ErrNotFound)
	}
	return c, nil
}

// mustCredentials derives credentials with a fixed salt (or a random one when
// salt is nil).
func mustCredentials(t testing.TB, password string, salt []byte) storage.Credentials {
	t.Helper()
	if salt == nil {
		c, err := NewCredentials(password, 0)
		if err != nil {
			t.Fatalf("NewCredentials(%q) = %v", password, err)
		}
		return c
	}
	p, err := preparePassword(password)
	if err != nil {
		t.Fatal(err)
	}
	c, err := deriveCredentials(p, salt, DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hashOf(m Mechanism) func() hash.Hash {
	if m == SHA1 {
		return sha1.New
	}
	return sha256.New
}

// scramClient is a minimal SCRAM client for building (possibly tampered)
// client-final messages.
type scramClient struct {
	h               func() hash.Hash
	password        string
	clientFirstBare string
}

// final returns client-final for serverFirst, with channel binding cbind
// (base64, as sent) and nonce (server-first's nonce when empty).
func (c scramClient) final(t testing.TB, serverFirst, cbind, nonce string) string {
	t.Helper()
	if nonce == "" {
		nonce, _, _ = strings.Cut(strings.TrimPrefix(serverFirst, "r="), ",")
	}
	return c.finalWithout(t, serverFirst, "c="+cbind+",r="+nonce)
}

// wantCondition fails unless err is a *FailureError with condition want
// ("" means no error).
func wantCondition(t testing.TB, what string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("%s = %v, want success", what, err)
		}
		return
	}
	var fe *FailureError
	if !errors.As(err, &fe) {
		t.Fatalf("%s = %v, want *FailureError %s", what, err, want)
	}
	if fe.Condition() != want {
		t.Fatalf("%s = %v, want condition %s", what, err, want)
	}
}

func pbkdf2Key(t testing.TB, h func() hash.Hash, password string, salt []byte, iter int) []byte {
	t.Helper()
	k, err := pbkdf2.Key(h, password, salt, iter, h().Size())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// finalWithout returns client-final for a given client-final-message-without-proof.
func (c scramClient) finalWithout(t testing.TB, serverFirst, without string) string {
	t.Helper()
	attrs := map[string]string{}
	for _, a := range strings.Split(serverFirst, ",") {
		k, v, _ := strings.Cut(a, "=")
		attrs[k] = v
	}
	iter, err := strconv.Atoi(attrs["i"])
	if err != nil {
		t.Fatal(err)
	}
	p, err := preparePassword(c.password)
	if err != nil {
		t.Fatal(err)
	}
	salted := pbkdf2Key(t, c.h, p, mustB64(t, attrs["s"]), iter)
	clientKey := hmacSum(c.h, salted, "Client Key")
	sig := hmacSum(c.h, hashSum(c.h, clientKey), c.clientFirstBare+","+serverFirst+","+without)
	proof := make([]byte, len(sig))
	subtle.XORBytes(proof, clientKey, sig)
	return without + ",p=" + base64.StdEncoding.EncodeToString(proof)
}
