package router

import (
	"crypto/rand"
	"encoding/base32"
	"strconv"
	"sync/atomic"
)

// idGenerator makes XEP-0359 stanza-ids: a random per-process prefix and a
// counter, unique without a syscall or allocation per id.
type idGenerator struct {
	prefix string
	n      *atomic.Uint64
}

func newIDGenerator() idGenerator {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return idGenerator{
		prefix: base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]),
		n:      new(atomic.Uint64),
	}
}

func (g idGenerator) append(dst []byte) []byte {
	dst = append(dst, g.prefix...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, g.n.Add(1), 36)
}

// NewID returns a fresh unique id (for server-generated stanzas).
func (r *Router) NewID() string { return string(r.ids.append(nil)) }
