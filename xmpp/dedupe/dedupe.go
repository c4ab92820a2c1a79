package dedupe

import (
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Defaults for Config.
const (
	DefaultWindow     = 10 * time.Minute
	DefaultMaxEntries = 1_000_000
)

// Config configures a Filter. Its zero value works.
type Config struct {
	// Window is how long after a message was routed a copy of it is
	// dropped; default DefaultWindow.
	Window time.Duration
	// MaxEntries bounds the table (about 55 bytes an entry, so 55 MB at
	// the default); default DefaultMaxEntries.
	MaxEntries int
	// Now is the clock; default time.Now.
	Now        func() time.Time
	Registerer prometheus.Registerer // nil: metrics are not registered
}

func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Window < 0 {
		errs = append(errs, errors.New("dedupe: negative window"))
	}
	if c.MaxEntries < 0 {
		errs = append(errs, errors.New("dedupe: negative max entries"))
	}
	return errors.Join(errs...)
}

// Filter drops retried messages. It is a router.MessageFilter (the lookup)
// and a router.MessageObserver (the record). Its methods are safe for
// concurrent use.
type Filter struct {
	window   int64 // nanoseconds
	now      func() time.Time
	base     time.Time // times are kept as offsets from it (monotonic)
	seed1    maphash.Seed
	seed2    maphash.Seed
	shards   []shard
	mask     uint64
	shardCap int
	metrics  *metrics
}

var (
	_ router.MessageFilter   = (*Filter)(nil)
	_ router.MessageObserver = (*Filter)(nil)
)

// New returns a filter; it does no I/O and starts no goroutine.
func New(cfg Config) (*Filter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Shards of at least 1024 entries, up to 64 of them.
	n := 1
	for n < 64 && cfg.MaxEntries/(2*n) >= 1024 {
		n *= 2
	}
	f := &Filter{
		window:   int64(cfg.Window),
		now:      cfg.Now,
		base:     cfg.Now(),
		seed1:    maphash.MakeSeed(),
		seed2:    maphash.MakeSeed(),
		shards:   make([]shard, n),
		mask:     uint64(n - 1),
		shardCap: cfg.MaxEntries / n,
	}
	for i := range f.shards {
		f.shards[i].seen = make(map[uint64]uint64)
	}
	m, err := newMetrics(cfg.Registerer, f.Len)
	if err != nil {
		return nil, err
	}
	f.metrics = m
	return f, nil
}

// Register installs the filter and the observer on r. Call before serving,
// and before features whose filters should not see duplicates.
func (f *Filter) Register(r *router.Router) {
	r.AddMessageFilter(f)
	r.AddMessageObserver(f)
}

// FilterMessage implements router.MessageFilter: it reports a copy of a
// message routed within the window as handled, so it is dropped.
func (f *Filter) FilterMessage(_ context.Context, s *router.Session, st *wire.Stanza) bool {
	fp, ok := f.fingerprint(s, st)
	if !ok {
		return false
	}
	sh := &f.shards[fp.h1&f.mask]
	sh.mu.Lock()
	h2, found := sh.seen[fp.h1]
	if found && h2 == fp.h2 {
		// Only a hit needs the clock (most messages are not retries):
		// is it still inside its window?
		sh.expire(f.clock())
		h2, found = sh.seen[fp.h1]
	}
	sh.mu.Unlock()
	if found && h2 == fp.h2 {
		f.metrics.duplicates.Inc()
		return true
	}
	return false
}

// MessageRouted implements router.MessageObserver: it records a message
// that was delivered or stored.
func (f *Filter) MessageRouted(_ context.Context, s *router.Session, st *wire.Stanza, _ router.Account, _ []byte, _ []*router.Session) {
	fp, ok := f.fingerprint(s, st)
	if !ok {
		return
	}
	now := f.clock()
	sh := &f.shards[fp.h1&f.mask]
	sh.mu.Lock()
	sh.expire(now)
	evicted := false
	// On a collision of h1 alone (about 2^-64) the first entry stays and
	// this message is not recorded: a retry of it is delivered again.
	if _, ok := sh.seen[fp.h1]; !ok {
		if len(sh.seen) >= f.shardCap {
			r := sh.q.pop()
			delete(sh.seen, r.h1)
			evicted = true
		}
		sh.seen[fp.h1] = fp.h2
		sh.q.push(record{h1: fp.h1, exp: now + f.window})
	}
	sh.mu.Unlock()
	if evicted {
		f.metrics.evictions.Inc()
	}
}

// Len returns the number of messages remembered, after dropping expired
// ones from every shard.
func (f *Filter) Len() int {
	now := f.clock()
	n := 0
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.Lock()
		sh.expire(now)
		n += len(sh.seen)
		sh.mu.Unlock()
	}
	return n
}

func (f *Filter) clock() int64 { return int64(f.now().Sub(f.base)) }

type fingerprint struct{ h1, h2 uint64 }

// keyBufSize holds a typical key on the stack: two bare JIDs and an id.
const keyBufSize = 256

// fingerprint hashes (sender bare JID, recipient bare JID, id); ok is false
// when the message is not deduplicated.
func (f *Filter) fingerprint(s *router.Session, st *wire.Stanza) (fp fingerprint, ok bool) {
	if string(st.Type) == "error" {
		return fp, false
	}
	tag := byte('o')
	var id []byte
	if ch, found := st.Child(router.NSSID, "origin-id"); found {
		id = attrValue(st.Raw[ch.Start:ch.End], "id")
	}
	if len(id) == 0 {
		tag, id = 'i', st.ID
	}
	if len(id) == 0 {
		return fp, false
	}
	var buf [keyBufSize]byte
	b := append(buf[:0], s.BareString()...)
	b = append(b, 0)
	if st.To == nil {
		b = append(b, s.BareString()...)
	} else if b, ok = appendBare(b, st.To); !ok {
		return fp, false
	}
	b = append(b, 0, tag)
	if bytes.IndexByte(id, '&') >= 0 {
		id = wire.Unescape(id)
	}
	b = append(b, id...)
	return fingerprint{h1: maphash.Bytes(f.seed1, b), h2: maphash.Bytes(f.seed2, b)}, true
}

// appendBare appends the canonical bare JID of to, an address as written
// in a 'to' attribute. ASCII addresses are case-folded here; anything else
// takes the PRECIS path of mellium.im/xmpp/jid (which allocates). ok is
// false when to is not a valid JID.
func appendBare(dst, to []byte) ([]byte, bool) {
	bare := to
	if i := bytes.IndexByte(to, '/'); i >= 0 {
		bare = to[:i]
	}
	for _, c := range bare {
		if c >= utf8.RuneSelf || c == '&' {
			j, err := jid.Parse(string(wire.Unescape(to)))
			if err != nil {
				return dst, false
			}
			return append(dst, j.Bare().String()...), true
		}
	}
	n := len(dst)
	dst = append(dst, bare...)
	for i := n; i < len(dst); i++ {
		if c := dst[i]; 'A' <= c && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst, true
}

// attrValue returns the value, as written, of the attribute name on the
// start tag at the beginning of elem, a well-formed element; nil when it
// has none.
func attrValue(elem []byte, name string) []byte {
	i := 1
	for i < len(elem) && !isSpace(elem[i]) && elem[i] != '>' && elem[i] != '/' {
		i++
	}
	for i < len(elem) {
		for i < len(elem) && isSpace(elem[i]) {
			i++
		}
		if i >= len(elem) || elem[i] == '>' || elem[i] == '/' {
			return nil
		}
		start := i
		for i < len(elem) && elem[i] != '=' && !isSpace(elem[i]) {
			i++
		}
		attr := elem[start:i]
		for i < len(elem) && elem[i] != '\'' && elem[i] != '"' {
			i++
		}
		if i >= len(elem) {
			return nil
		}
		q := elem[i]
		i++
		end := bytes.IndexByte(elem[i:], q)
		if end < 0 {
			return nil
		}
		if string(attr) == name {
			return elem[i : i+end]
		}
		i += end + 1
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
