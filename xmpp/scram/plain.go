package scram

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"strings"
	"unicode/utf8"
)

// stepPlain verifies a PLAIN message (RFC 4616 §2):
//
//	message = [authzid] UTF8NUL authcid UTF8NUL passwd
//
// The password is checked against the stored keys: SaltedPassword is derived
// from the stored salt and iteration count and the resulting StoredKey
// (SHA-256, or SHA-1 if only that is stored) compared in constant time.
func (s *Server) stepPlain(ctx context.Context, in []byte) ([]byte, bool, error) {
	msg := string(in)
	authz, rest, ok1 := strings.Cut(msg, "\x00")
	authc, password, ok2 := strings.Cut(rest, "\x00")
	switch {
	case !ok1 || !ok2 || authc == "" || password == "":
		return s.fail(malformed("PLAIN needs authzid NUL authcid NUL password"))
	case strings.IndexByte(password, 0) >= 0 || !utf8.ValidString(msg):
		return s.fail(malformed("PLAIN message is not UTF-8 text"))
	}
	user, valid := normaliseUsername(authc)
	if authz != "" && !s.authzidAllowed(authz, user) {
		return s.fail(failure(ErrInvalidAuthzid, "authzid is not the user", nil))
	}
	cred, fake, ferr := s.credentials(ctx, user, valid)
	if ferr != nil {
		return s.fail(ferr)
	}
	prepared, err := preparePassword(password)
	if err != nil {
		// No stored password can match; still do the work below.
		fake, prepared = true, password
	}
	var h func() hash.Hash = sha256.New
	storedKey, _ := keys(h, cred)
	if storedKey == nil {
		h = sha1.New
		if storedKey, _ = keys(h, cred); storedKey == nil {
			fake = true
			h = sha256.New
			storedKey, _ = keys(h, s.fakeCredentials(user))
		}
	}
	computed, _, err := deriveKeys(h, prepared, cred.Salt, cred.Iterations)
	if err != nil {
		return s.fail(failure(ErrTemporaryAuthFailure, "key derivation", err))
	}
	ok := equalKeys(computed, storedKey)
	switch {
	case fake:
		return s.fail(notAuthorized("unknown user or unusable password"))
	case !ok:
		return s.fail(notAuthorized("wrong password"))
	}
	s.succeed(user)
	return nil, true, nil
}
