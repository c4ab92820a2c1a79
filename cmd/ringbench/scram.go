package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"strconv"
	"strings"
	"sync"
)

// scramMech is one SCRAM family member (RFC 5802, RFC 7677).
type scramMech struct {
	name    string
	newHash func() hash.Hash
}

// scramMechanism returns the mechanism by its SASL name.
func scramMechanism(name string) (scramMech, error) {
	switch name {
	case "SCRAM-SHA-1":
		return scramMech{name, sha1.New}, nil
	case "SCRAM-SHA-256":
		return scramMech{name, sha256.New}, nil
	}
	return scramMech{}, fmt.Errorf("unsupported mechanism %q (want SCRAM-SHA-1 or SCRAM-SHA-256)", name)
}

// scramClient runs the client side of one SCRAM exchange without channel
// binding ("n,,"): ringbench measures servers, and every server here
// offers the plain SCRAM mechanisms.
type scramClient struct {
	mech     scramMech
	password string
	nonce    string
	cache    *saltCache

	clientFirstBare string
	serverSig       []byte
}

// newSCRAM prepares an exchange. The username is sent with RFC 5802's
// escaping of ',' and '='; no SASLprep is applied, so benchmark
// credentials should be ASCII (the tool's generated names always are).
func newSCRAM(mech scramMech, user, password, nonce string, cache *saltCache) *scramClient {
	u := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(user)
	return &scramClient{
		mech: mech, password: password, nonce: nonce, cache: cache,
		clientFirstBare: "n=" + u + ",r=" + nonce,
	}
}

// First is the client-first-message.
func (c *scramClient) First() []byte { return []byte("n,," + c.clientFirstBare) }

// Final answers the server-first-message with the client-final-message.
func (c *scramClient) Final(serverFirst []byte) ([]byte, error) {
	attrs, err := scramAttrs(serverFirst)
	if err != nil {
		return nil, err
	}
	if _, ok := attrs['m']; ok {
		return nil, errors.New("scram: server requires an unsupported extension")
	}
	nonce, salt64, iterStr := attrs['r'], attrs['s'], attrs['i']
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
		return nil, errors.New("scram: server nonce does not extend ours")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return nil, errors.New("scram: bad salt")
	}
	iter, err := strconv.Atoi(iterStr)
	if err != nil || iter < 1 || iter > 1<<20 {
		return nil, fmt.Errorf("scram: bad iteration count %q", iterStr)
	}
	salted, err := c.cache.salted(c.mech, c.password, salt, iter)
	if err != nil {
		return nil, err
	}
	withoutProof := "c=biws,r=" + nonce
	authMessage := c.clientFirstBare + "," + string(serverFirst) + "," + withoutProof

	clientKey := c.hmac(salted, "Client Key")
	h := c.mech.newHash()
	h.Write(clientKey)
	storedKey := h.Sum(nil)
	clientSig := c.hmac(storedKey, authMessage)
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, clientSig)
	c.serverSig = c.hmac(c.hmac(salted, "Server Key"), authMessage)

	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Verify checks the server-final-message, which proves the server knew
// the password too.
func (c *scramClient) Verify(serverFinal []byte) error {
	attrs, err := scramAttrs(serverFinal)
	if err != nil {
		return err
	}
	if e, ok := attrs['e']; ok {
		return fmt.Errorf("scram: server error %q", e)
	}
	v, err := base64.StdEncoding.DecodeString(attrs['v'])
	if err != nil || c.serverSig == nil || !hmac.Equal(v, c.serverSig) {
		return errors.New("scram: server signature does not verify")
	}
	return nil
}

func (c *scramClient) hmac(key []byte, msg string) []byte {
	m := hmac.New(c.mech.newHash, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramAttrs splits "a=1,b=2" into its attributes.
func scramAttrs(msg []byte) (map[byte]string, error) {
	attrs := make(map[byte]string)
	for part := range strings.SplitSeq(string(msg), ",") {
		if len(part) < 2 || part[1] != '=' {
			return nil, fmt.Errorf("scram: malformed message %q", msg)
		}
		attrs[part[0]] = part[2:]
	}
	return attrs, nil
}

// saltCache keeps SaltedPassword per (mechanism, password, salt,
// iterations). RFC 5802 §5.1 lets a client cache it: it is what the
// PBKDF2 work produces, and that work (0.6 ms a login here) would
// otherwise cap the tool, on its one core, near 1,500 logins/s, below what
// it must measure. Servers that keep a stable salt per account (ringd,
// Prosody) hit the cache from the second login of an account on; a server
// that salts afresh at every login misses, and the tool pays as any client
// would. The cache can be kept in a file (-scram-cache) across runs.
type saltCache struct {
	mu      sync.Mutex
	entries map[string][]byte
	dirty   bool
	hits    int
	misses  int
}

func newSaltCache() *saltCache { return &saltCache{entries: make(map[string][]byte)} }

func (s *saltCache) key(mech scramMech, password string, salt []byte, iter int) string {
	// The key hashes the password so that the cache file holds no
	// password.
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", mech.name, iter)
	h.Write(salt)
	h.Write([]byte{0})
	h.Write([]byte(password))
	return hex.EncodeToString(h.Sum(nil))
}

func (s *saltCache) salted(mech scramMech, password string, salt []byte, iter int) ([]byte, error) {
	k := s.key(mech, password, salt, iter)
	s.mu.Lock()
	v, ok := s.entries[k]
	if ok {
		s.hits++
	} else {
		s.misses++
	}
	s.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := pbkdf2.Key(mech.newHash, password, salt, iter, mech.newHash().Size())
	if err != nil {
		return nil, fmt.Errorf("scram: %w", err)
	}
	s.mu.Lock()
	s.entries[k], s.dirty = v, true
	s.mu.Unlock()
	return v, nil
}

// stats is the number of cache hits and misses so far.
func (s *saltCache) stats() (hits, misses int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits, s.misses
}

// load reads a cache file written by save; a missing file is an empty
// cache.
func (s *saltCache) load(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scram cache: %w", err)
	}
	defer f.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(" "))
		if !ok {
			return fmt.Errorf("scram cache %s: malformed line", path)
		}
		salted, err := hex.DecodeString(string(v))
		if err != nil {
			return fmt.Errorf("scram cache %s: %w", path, err)
		}
		s.entries[string(k)] = salted
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("scram cache %s: %w", path, err)
	}
	return nil
}

// save writes the cache if it changed. The file is private (0600): a
// salted password lets anyone log in as that benchmark account.
func (s *saltCache) save(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	var b bytes.Buffer
	for k, v := range s.entries {
		fmt.Fprintf(&b, "%s %x\n", k, v)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("scram cache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("scram cache: %w", err)
	}
	s.dirty = false
	return nil
}
