package scram

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// serverNonceLen is the number of random bytes in a server nonce.
const serverNonceLen = 18

// clientFirst is a parsed client-first-message (RFC 5802 §7).
type clientFirst struct {
	gs2Header string // including the trailing comma
	authzid   string // decoded; "" when absent
	bare      string // client-first-message-bare
	username  string // decoded saslname, not yet normalised
	nonce     string
}

// clientFinal is a parsed client-final-message.
type clientFinal struct {
	channelBinding string // base64, as sent
	nonce          string
	withoutProof   string // client-final-message-without-proof
	proof          []byte
}

// stepClientFirst handles client-first and returns server-first.
func (s *Server) stepClientFirst(ctx context.Context, in []byte) ([]byte, bool, error) {
	cf, ferr := parseClientFirst(string(in))
	if ferr != nil {
		return s.fail(ferr)
	}
	user, valid := normaliseUsername(cf.username)
	if cf.authzid != "" && !s.authzidAllowed(cf.authzid, user) {
		return s.fail(failure(ErrInvalidAuthzid, "authzid is not the user", nil))
	}
	cred, fake, ferr := s.credentials(ctx, user, valid)
	if ferr != nil {
		return s.fail(ferr)
	}
	s.storedKey, s.serverKey = keys(s.hash, cred)
	if s.storedKey == nil {
		// The user has no keys for this hash: fail like a wrong password.
		fake = true
		s.storedKey, s.serverKey = keys(s.hash, s.fakeCredentials(user))
	}
	serverNonce := s.fixedNonce
	if serverNonce == "" {
		b := make([]byte, serverNonceLen)
		if _, err := rand.Read(b); err != nil {
			return s.fail(failure(ErrTemporaryAuthFailure, "nonce", err))
		}
		serverNonce = base64.StdEncoding.EncodeToString(b)
	}
	s.fake = fake
	s.username = user
	s.gs2Header = cf.gs2Header
	s.clientFirstBare = cf.bare
	s.nonce = cf.nonce + serverNonce
	s.serverFirst = "r=" + s.nonce +
		",s=" + base64.StdEncoding.EncodeToString(cred.Salt) +
		",i=" + strconv.Itoa(cred.Iterations)
	s.state = stateAwaitFinal
	return []byte(s.serverFirst), false, nil
}

// stepClientFinal verifies client-final and returns server-final:
//
//	AuthMessage     := client-first-message-bare + "," +
//	                   server-first-message + "," +
//	                   client-final-message-without-proof
//	ClientSignature := HMAC(StoredKey, AuthMessage)
//	ClientKey       := ClientProof XOR ClientSignature
//	ok              := H(ClientKey) == StoredKey
//	ServerSignature := HMAC(ServerKey, AuthMessage)
func (s *Server) stepClientFinal(in []byte) ([]byte, bool, error) {
	cf, ferr := parseClientFinal(string(in))
	if ferr != nil {
		return s.fail(ferr)
	}
	// Both checks involve only what the client already knows, so failing
	// early leaks nothing; the detail is for logs, the client sees
	// not-authorized either way.
	if cf.channelBinding != base64.StdEncoding.EncodeToString([]byte(s.gs2Header)) {
		return s.fail(notAuthorized("channel binding data mismatch"))
	}
	if cf.nonce != s.nonce {
		return s.fail(notAuthorized("nonce mismatch"))
	}
	size := s.hash().Size()
	if len(cf.proof) != size {
		return s.fail(notAuthorized("proof of wrong length"))
	}
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + cf.withoutProof

	mac := hmac.New(s.hash, s.storedKey)
	mac.Write([]byte(authMessage))
	clientKey := mac.Sum(nil)
	subtle.XORBytes(clientKey, clientKey, cf.proof) // ClientSignature XOR ClientProof
	ok := equalKeys(hashSum(s.hash, clientKey), s.storedKey)
	// Computed whatever ok is, so unknown users and wrong passwords cost the
	// same.
	mac = hmac.New(s.hash, s.serverKey)
	mac.Write([]byte(authMessage))
	serverSignature := mac.Sum(nil)

	switch {
	case s.fake:
		return s.fail(notAuthorized("unknown user"))
	case !ok:
		return s.fail(notAuthorized("wrong proof"))
	}
	out := make([]byte, 2+base64.StdEncoding.EncodedLen(len(serverSignature)))
	copy(out, "v=")
	base64.StdEncoding.Encode(out[2:], serverSignature)
	s.succeed(s.username)
	return out, true, nil
}

// parseClientFirst parses (RFC 5802 §7):
//
//	client-first-message = gs2-header client-first-message-bare
//	gs2-header      = gs2-cbind-flag "," [ authzid ] ","
//	gs2-cbind-flag  = ("p=" cb-name) / "n" / "y"
//	authzid         = "a=" saslname
//	client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
func parseClientFirst(msg string) (clientFirst, *FailureError) {
	var cf clientFirst
	if ferr := checkText(msg); ferr != nil {
		return cf, ferr
	}
	switch {
	case strings.HasPrefix(msg, "p="):
		return cf, notAuthorized("channel binding requested; not supported")
	case strings.HasPrefix(msg, "n,"), strings.HasPrefix(msg, "y,"):
		// "y": the client supports channel binding but thinks we do not,
		// which is true. Once -PLUS is offered, "y" must fail (RFC 5802 §6).
	default:
		return cf, malformed("bad gs2-cbind-flag")
	}
	authz, bare, ok := strings.Cut(msg[2:], ",")
	if !ok {
		return cf, malformed("gs2-header not terminated")
	}
	if authz != "" {
		v, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, malformed("bad authzid")
		}
		name, ferr := decodeSASLName(v)
		if ferr != nil {
			return cf, ferr
		}
		cf.authzid = name
	}
	cf.gs2Header = msg[:len(msg)-len(bare)]
	cf.bare = bare

	attrs := strings.Split(bare, ",")
	if strings.HasPrefix(attrs[0], "m=") {
		// RFC 5802 §5.1: its presence MUST cause authentication failure.
		return cf, notAuthorized("mandatory extension not supported")
	}
	if len(attrs) < 2 {
		return cf, malformed("client-first too short")
	}
	user, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return cf, malformed("username expected")
	}
	name, ferr := decodeSASLName(user)
	if ferr != nil {
		return cf, ferr
	}
	cf.username = name
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !validNonce(nonce) {
		return cf, malformed("bad nonce")
	}
	cf.nonce = nonce
	for _, a := range attrs[2:] {
		if !validExtension(a) {
			return cf, malformed("bad extension")
		}
	}
	return cf, nil
}

// parseClientFinal parses (RFC 5802 §7):
//
//	client-final-message-without-proof = channel-binding "," nonce ["," extensions]
//	client-final-message = client-final-message-without-proof "," proof
func parseClientFinal(msg string) (clientFinal, *FailureError) {
	var cf clientFinal
	if ferr := checkText(msg); ferr != nil {
		return cf, ferr
	}
	attrs := strings.Split(msg, ",")
	if len(attrs) < 3 {
		return cf, malformed("client-final too short")
	}
	cb, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok || cb == "" {
		return cf, malformed("channel binding expected")
	}
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !validNonce(nonce) {
		return cf, malformed("bad nonce")
	}
	for _, a := range attrs[2 : len(attrs)-1] {
		if !validExtension(a) {
			return cf, malformed("bad extension")
		}
	}
	last := attrs[len(attrs)-1]
	p, ok := strings.CutPrefix(last, "p=")
	if !ok || p == "" {
		return cf, malformed("proof expected")
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(p)
	if err != nil {
		return cf, malformed("proof is not base64")
	}
	cf.channelBinding = cb
	cf.nonce = nonce
	cf.withoutProof = msg[:len(msg)-len(last)-1]
	cf.proof = proof
	return cf, nil
}

// checkText rejects what no SCRAM message may contain: invalid UTF-8 and NUL.
func checkText(msg string) *FailureError {
	if !utf8.ValidString(msg) || strings.IndexByte(msg, 0) >= 0 {
		return malformed("not UTF-8 text")
	}
	return nil
}

// decodeSASLName decodes a saslname: "=2C" is ",", "=3D" is "=", and any
// other "=" fails the exchange (RFC 5802 §5.1).
func decodeSASLName(v string) (string, *FailureError) {
	if v == "" {
		return "", malformed("empty saslname")
	}
	if strings.IndexByte(v, '=') < 0 {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '=' {
			b.WriteByte(v[i])
			continue
		}
		switch {
		case strings.HasPrefix(v[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(v[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", malformed("bad escape in saslname")
		}
		i += 2
	}
	return b.String(), nil
}

// validNonce: 1*printable, printable = %x21-2B / %x2D-7E.
func validNonce(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// validExtension: attr-val = ALPHA "=" value, value = 1*value-char. The
// caller already excluded ",", NUL and invalid UTF-8.
func validExtension(a string) bool {
	if len(a) < 3 || a[1] != '=' {
		return false
	}
	c := a[0] | 0x20
	return c >= 'a' && c <= 'z'
}
