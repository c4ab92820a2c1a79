package blocking

import "strings"

// list is one user's block list as the gate reads it. It is immutable once
// built: a change to the list replaces it.
type list struct {
	items []string            // canonical JIDs, in the store's (byte) order
	set   map[string]struct{} // the same JIDs, for lookups
}

// noBlocks is the list of every user who blocked nobody; sharing it keeps
// a cache of mostly empty lists small.
var noBlocks = &list{}

func newList(items []string) *list {
	if len(items) == 0 {
		return noBlocks
	}
	l := &list{items: items, set: make(map[string]struct{}, len(items))}
	for _, j := range items {
		l.set[j] = struct{}{}
	}
	return l
}

func (l *list) len() int { return len(l.items) }

// addr is an address split into the forms a block list item can take
// (XEP-0191 §JID Matching, as XEP-0016 §2.1 orders them): full JID, bare
// JID, domain/resource, domain. Every field is canonical (PRECIS), so
// matching is string equality. full is "" without a resource, bare ""
// without a localpart.
type addr struct {
	full, bare, domain, resource string
}

// addrOf splits a canonical full or bare JID string of the form
// [local@]domain[/resource] without allocating: the parts are substrings.
func addrOf(s string) addr {
	var a addr
	rest := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		a.full, a.resource, rest = s, s[i+1:], s[:i]
	}
	a.domain = rest
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		a.bare, a.domain = rest, rest[i+1:]
	}
	return a
}

// blocks reports whether an item of l matches a. An item that is a domain
// matches the domain and every JID at it; a bare JID matches every
// resource of the account; a full JID or domain/resource only itself.
// Subdomains do not match (XEP-0191 1.3 dropped them). It does not
// allocate unless a domain/resource is longer than 512 bytes.
func (l *list) blocks(a addr) bool {
	if len(l.set) == 0 {
		return false
	}
	if a.full != "" {
		if _, ok := l.set[a.full]; ok {
			return true
		}
	}
	if a.bare != "" {
		if _, ok := l.set[a.bare]; ok {
			return true
		}
		if a.resource != "" {
			// domain/resource, built on the stack: a map lookup with
			// string(b) does not copy b.
			var buf [512]byte
			b := append(append(append(buf[:0], a.domain...), '/'), a.resource...)
			if _, ok := l.set[string(b)]; ok {
				return true
			}
		}
	}
	_, ok := l.set[a.domain]
	return ok
}
