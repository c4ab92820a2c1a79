package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"

	"golang.org/x/text/secure/precis"

	"github.com/ringd/ringd/storage"
)

const (
	// DefaultIterations is the PBKDF2 iteration count NewCredentials uses
	// when given 0, and the minimum it accepts (RFC 7677 §4). Accounts should
	// use it: the made-up credentials of unknown users carry it too.
	DefaultIterations = 4096

	// saltLen is the length of random and made-up salts.
	saltLen = 16
)

// NewCredentials returns the SCRAM keys of password for storage: a random
// 16-byte salt, the iteration count (0 means DefaultIterations; fewer than
// DefaultIterations is an error) and StoredKey/ServerKey for SHA-1 and
// SHA-256, both derived from the same salt (RFC 5802 §3). The password is
// prepared with the PRECIS OpaqueString profile first; empty passwords and
// passwords with disallowed code points (e.g. control characters) are
// rejected.
func NewCredentials(password string, iterations int) (storage.Credentials, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if iterations < DefaultIterations {
		return storage.Credentials{}, fmt.Errorf("scram: %d iterations, want at least %d", iterations, DefaultIterations)
	}
	prepared, err := preparePassword(password)
	if err != nil {
		return storage.Credentials{}, err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return storage.Credentials{}, fmt.Errorf("scram: salt: %w", err)
	}
	return deriveCredentials(prepared, salt, iterations)
}

// preparePassword applies the PRECIS OpaqueString profile (RFC 8265 §4.2).
func preparePassword(password string) (string, error) {
	p, err := precis.OpaqueString.String(password)
	if err != nil {
		// The precis error names no code point, so no password leaks.
		return "", fmt.Errorf("scram: password: %w", err)
	}
	return p, nil
}

// deriveCredentials computes the keys of an already prepared password.
func deriveCredentials(prepared string, salt []byte, iterations int) (storage.Credentials, error) {
	c := storage.Credentials{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
	}
	var err error
	if c.StoredKey1, c.ServerKey1, err = deriveKeys(sha1.New, prepared, salt, iterations); err != nil {
		return storage.Credentials{}, err
	}
	if c.StoredKey256, c.ServerKey256, err = deriveKeys(sha256.New, prepared, salt, iterations); err != nil {
		return storage.Credentials{}, err
	}
	return c, nil
}

// deriveKeys returns StoredKey and ServerKey (RFC 5802 §3):
//
//	SaltedPassword := Hi(password, salt, i)
//	ClientKey      := HMAC(SaltedPassword, "Client Key")
//	StoredKey      := H(ClientKey)
//	ServerKey      := HMAC(SaltedPassword, "Server Key")
func deriveKeys(h func() hash.Hash, prepared string, salt []byte, iterations int) (storedKey, serverKey []byte, err error) {
	salted, err := pbkdf2.Key(h, prepared, salt, iterations, h().Size())
	if err != nil {
		return nil, nil, fmt.Errorf("scram: pbkdf2: %w", err)
	}
	clientKey := hmacSum(h, salted, "Client Key")
	return hashSum(h, clientKey), hmacSum(h, salted, "Server Key"), nil
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func hashSum(h func() hash.Hash, b []byte) []byte {
	d := h()
	d.Write(b)
	return d.Sum(nil)
}
