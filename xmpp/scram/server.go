package scram

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/text/secure/precis"

	"github.com/ringd/ringd/storage"
)

// Mechanism is a SASL mechanism name as it appears in <mechanism/> and in the
// mechanism attribute of <auth/>.
type Mechanism string

// The mechanisms Server implements.
const (
	SHA256 Mechanism = "SCRAM-SHA-256" // RFC 7677
	SHA1   Mechanism = "SCRAM-SHA-1"   // RFC 5802
	Plain  Mechanism = "PLAIN"         // RFC 4616; only over TLS
)

// Mechanisms returns the mechanisms to offer, strongest first. PLAIN is
// included only when the stream is protected by TLS.
func Mechanisms(tls bool) []Mechanism {
	if tls {
		return []Mechanism{SHA256, SHA1, Plain}
	}
	return []Mechanism{SHA256, SHA1}
}

// MaxMessageSize is the largest client message Step accepts, in bytes after
// base64 decoding. Real messages are well under 1 KiB.
const MaxMessageSize = 4096

// minSecretLen is the shortest secret WithSecret accepts.
const minSecretLen = 16

// Lookup returns the stored credentials of a user, given the normalised
// username (the localpart). It returns an error wrapping storage.ErrNotFound
// when the user does not exist; any other error fails the exchange with
// temporary-auth-failure.
type Lookup func(ctx context.Context, username string) (storage.Credentials, error)

// Option configures a Server.
type Option func(*Server)

// WithDomain sets the domain served, so that an authorization identity of
// the form user@domain is accepted for user (RFC 6120 §6.3.8). Without it,
// only the bare localpart form is.
func WithDomain(domain string) Option {
	return func(s *Server) { s.domain = strings.TrimSuffix(domain, ".") }
}

// WithSecret sets the server secret (at least 16 bytes) from which the salt
// shown for unknown users is derived. It is required. Keep it stable, e.g. in
// configuration: a new secret changes every unknown user's salt, which a
// client watching a name across restarts could notice.
func WithSecret(secret []byte) Option {
	return func(s *Server) { s.secret = append([]byte(nil), secret...) }
}

// WithTLS tells the server whether the stream is protected by TLS. PLAIN
// fails with encryption-required without it.
func WithTLS(active bool) Option {
	return func(s *Server) { s.tls = active }
}

// withNonce fixes the server nonce; tests only.
func withNonce(nonce string) Option {
	return func(s *Server) { s.fixedNonce = nonce }
}

// state is where a Server is in its exchange.
type state uint8

const (
	stateStart        state = iota // nothing received
	stateAwaitInitial              // sent an empty challenge: no initial response came
	stateAwaitFinal                // SCRAM: sent server-first, awaiting client-final
	stateDone                      // authenticated
	stateFailed                    // failed; terminal
)

// Server runs one SASL exchange, server side. Make a new Server for every
// <auth/>. A Server is not safe for concurrent use: the c2s reader goroutine
// owns it.
//
// The exchange, for SCRAM:
//
//	Step(client-first)  → server-first, done=false   (<challenge/>)
//	Step(client-final)  → server-final, done=true    (<success/>)
//
// and for PLAIN:
//
//	Step(authzid NUL authcid NUL password) → nil, done=true
//
// When <auth/> carries no initial response, call Step with empty input: it
// returns an empty challenge, and the next Step gets the first message.
type Server struct {
	mech       Mechanism
	hash       func() hash.Hash // SCRAM only
	lookup     Lookup
	domain     string
	secret     []byte
	tls        bool
	fixedNonce string

	state    state
	username string // normalised; valid when state == stateDone

	// SCRAM exchange state, between the two steps.
	gs2Header       string // "n,," etc., including the trailing comma
	clientFirstBare string
	serverFirst     string
	nonce           string // client nonce + server nonce
	storedKey       []byte
	serverKey       []byte
	fake            bool // unknown user: the exchange cannot succeed
}

// NewServer returns a Server for mech. It returns a *FailureError with
// condition invalid-mechanism for a mechanism it does not implement and
// encryption-required for PLAIN without WithTLS(true); a missing lookup or
// secret is a plain error (a configuration bug).
func NewServer(mech Mechanism, lookup Lookup, opts ...Option) (*Server, error) {
	s := &Server{mech: mech, lookup: lookup}
	for _, o := range opts {
		o(s)
	}
	switch {
	case lookup == nil:
		return nil, errors.New("scram: nil Lookup")
	case len(s.secret) < minSecretLen:
		return nil, fmt.Errorf("scram: WithSecret with at least %d bytes is required", minSecretLen)
	}
	switch mech {
	case SHA256:
		s.hash = sha256.New
	case SHA1:
		s.hash = sha1.New
	case Plain:
		if !s.tls {
			return nil, failure(ErrEncryptionRequired, "PLAIN without TLS", nil)
		}
	default:
		return nil, failure(ErrInvalidMechanism, fmt.Sprintf("%.64q", string(mech)), nil)
	}
	return s, nil
}

// Step consumes the client's next message, already base64-decoded, and
// returns the server's next message. done is true when the client is
// authenticated; out is then the additional data for <success/> (the
// server-final message for SCRAM, nil for PLAIN). On error the exchange is
// over: send <failure/> with the error's Condition. Calling Step after the
// exchange ended returns malformed-request and changes nothing.
func (s *Server) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	switch s.state {
	case stateDone, stateFailed:
		return nil, false, malformed("step after the exchange ended")
	}
	if len(in) > MaxMessageSize {
		return s.fail(malformed(fmt.Sprintf("message of %d bytes exceeds %d", len(in), MaxMessageSize)))
	}
	switch s.state {
	case stateStart:
		if len(in) == 0 {
			// No initial response (RFC 6120 §6.4.2): ask for it.
			s.state = stateAwaitInitial
			return []byte{}, false, nil
		}
		fallthrough
	case stateAwaitInitial:
		if s.mech == Plain {
			return s.stepPlain(ctx, in)
		}
		return s.stepClientFirst(ctx, in)
	case stateAwaitFinal:
		return s.stepClientFinal(in)
	}
	return s.fail(malformed("unexpected state"))
}

// Abort ends the exchange because the client sent <abort/> (RFC 6120
// §6.4.4) and returns the error to report, with condition aborted. It does
// not undo a successful exchange.
func (s *Server) Abort() error {
	if s.state != stateDone {
		s.state = stateFailed
		s.clear()
	}
	return failure(ErrAborted, "client aborted", nil)
}

// Username returns the authenticated user's normalised username (the JID
// localpart), or "" until Step has returned done.
func (s *Server) Username() string {
	if s.state != stateDone {
		return ""
	}
	return s.username
}

func (s *Server) fail(err *FailureError) ([]byte, bool, error) {
	s.state = stateFailed
	s.clear()
	return nil, false, err
}

func (s *Server) succeed(username string) {
	s.state = stateDone
	s.username = username
	s.clear()
}

// clear drops the exchange state, keys included.
func (s *Server) clear() {
	s.gs2Header, s.clientFirstBare, s.serverFirst, s.nonce = "", "", "", ""
	s.storedKey, s.serverKey = nil, nil
}

// normaliseUsername applies the PRECIS UsernameCaseMapped profile and the
// XMPP localpart rules (RFC 7622 §3.3). For a name that is no valid
// localpart it returns the name unchanged and false: such a user cannot
// exist.
func normaliseUsername(name string) (string, bool) {
	n, err := precis.UsernameCaseMapped.String(name)
	if err != nil || len(n) > 1023 || strings.ContainsAny(n, "\"&'/:<>@") {
		return name, false
	}
	return n, true
}

// authzidAllowed reports whether authzid names user itself, as a localpart
// or, with WithDomain, as the bare JID user@domain.
func (s *Server) authzidAllowed(authzid, user string) bool {
	local, domain, hasDomain := strings.Cut(authzid, "@")
	if hasDomain && (s.domain == "" || !strings.EqualFold(strings.TrimSuffix(domain, "."), s.domain)) {
		return false
	}
	n, ok := normaliseUsername(local)
	return ok && n == user
}

// credentials looks the user up. For an unknown (or impossible) user it
// returns made-up credentials and fake=true. The made-up credentials are
// computed in every case, so both paths do the same work.
func (s *Server) credentials(ctx context.Context, user string, valid bool) (c storage.Credentials, fake bool, err *FailureError) {
	made := s.fakeCredentials(user)
	if !valid {
		return made, true, nil
	}
	c, lerr := s.lookup(ctx, user)
	switch {
	case errors.Is(lerr, storage.ErrNotFound):
		return made, true, nil
	case lerr != nil:
		return c, false, failure(ErrTemporaryAuthFailure, "credential lookup", lerr)
	case len(c.Salt) == 0 || c.Iterations < 1:
		return c, false, failure(ErrTemporaryAuthFailure, "invalid stored credentials", nil)
	}
	return c, false, nil
}

// fakeCredentials makes up credentials for a user that does not exist from
// HMAC-SHA-256(secret, label || username): the salt is the same on every
// attempt yet unpredictable without the secret. The keys are slices of the
// same MAC; an exchange with made-up credentials never succeeds anyway.
func (s *Server) fakeCredentials(user string) storage.Credentials {
	mac := hmacSum(sha256.New, s.secret, "ringd scram unknown user\x00"+user)
	return storage.Credentials{
		Salt:         mac[:saltLen],
		Iterations:   DefaultIterations,
		StoredKey1:   mac[:sha1.Size],
		ServerKey1:   mac[sha256.Size-sha1.Size:],
		StoredKey256: mac,
		ServerKey256: mac,
	}
}

// keys returns the stored keys for h, or nil ones if c has none of the
// right size.
func keys(h func() hash.Hash, c storage.Credentials) (storedKey, serverKey []byte) {
	size := h().Size()
	storedKey, serverKey = c.StoredKey256, c.ServerKey256
	if size == sha1.Size {
		storedKey, serverKey = c.StoredKey1, c.ServerKey1
	}
	if len(storedKey) != size || len(serverKey) != size {
		return nil, nil
	}
	return storedKey, serverKey
}

// equalKeys compares in constant time.
func equalKeys(a, b []byte) bool { return hmac.Equal(a, b) }
