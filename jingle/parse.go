package jingle

import (
	"bytes"

	"github.com/ringd/ringd/xmpp/wire"
)

// MaxIDBytes bounds the call ids (XEP-0353 id, XEP-0166 sid) the registry
// remembers. XEP-0353 recommends UUIDv4 (36 bytes); a message with a
// longer id is still routed, only not tracked, so one client cannot fill
// the registry's memory with huge keys.
const MaxIDBytes = 128

// action is a XEP-0353 message element.
type action uint8

const (
	actNone action = iota
	actPropose
	actRinging
	actProceed
	actAccept // XEP-0353 ≤ 0.3: sent to the callee's own bare JID
	actReject
	actRetract
	actFinish
)

func actionOf(name []byte) action {
	switch string(name) {
	case "propose":
		return actPropose
	case "ringing":
		return actRinging
	case "proceed":
		return actProceed
	case "accept":
		return actAccept
	case "reject":
		return actReject
	case "retract":
		return actRetract
	case "finish":
		return actFinish
	}
	return actNone
}

func (a action) String() string {
	return [...]string{"none", "propose", "ringing", "proceed", "accept", "reject", "retract", "finish"}[a]
}

// jmiChild returns the first recorded child of st in a XEP-0353 namespace.
// It is the whole cost of the filter for other messages: a comparison of
// each child's namespace, no allocation.
func jmiChild(st *wire.Stanza) (wire.Child, bool) {
	for i := 0; i < st.NumChildren; i++ {
		ns := st.Children[i].NS
		// Both namespaces are 25 bytes long; check the length first.
		if len(ns) == len(NSJMI) && (string(ns) == NSJMI || string(ns) == NSJMI1) {
			return st.Children[i], true
		}
	}
	return wire.Child{}, false
}

// attr returns the value (still escaped) of the attribute name in the
// start tag that begins elem. elem comes from the wire decoder, so it is
// well-formed; a qualified name such as xml:lang does not match "lang".
func attr(elem []byte, name string) ([]byte, bool) {
	i := 1
	for i < len(elem) && !isNameEnd(elem[i]) {
		i++
	}
	for i < len(elem) {
		for i < len(elem) && isSpace(elem[i]) {
			i++
		}
		if i >= len(elem) || elem[i] == '>' || elem[i] == '/' {
			return nil, false
		}
		start := i
		for i < len(elem) && elem[i] != '=' && !isSpace(elem[i]) {
			i++
		}
		n := elem[start:i]
		for i < len(elem) && elem[i] != '\'' && elem[i] != '"' {
			i++
		}
		if i >= len(elem) {
			return nil, false
		}
		q := elem[i]
		i++
		end := bytes.IndexByte(elem[i:], q)
		if end < 0 {
			return nil, false
		}
		if string(n) == name {
			return elem[i : i+end], true
		}
		i += end + 1
	}
	return nil, false
}

// attrString returns the unescaped value of an attribute as a string.
func attrString(elem []byte, name string) (string, bool) {
	v, ok := attr(elem, name)
	if !ok {
		return "", false
	}
	return string(wire.Unescape(v)), true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameEnd(c byte) bool { return isSpace(c) || c == '/' || c == '>' }

// startTags calls fn with the local name and offset of every start tag
// inside elem after its own (descendants, in document order) until fn
// returns false. CDATA sections are skipped; elem is well-formed.
func startTags(elem []byte, fn func(local []byte, at int) bool) {
	i := bytes.IndexByte(elem, '>')
	if i < 0 {
		return
	}
	for {
		j := bytes.IndexByte(elem[i+1:], '<')
		if j < 0 {
			return
		}
		i += 1 + j
		if i+1 >= len(elem) {
			return
		}
		switch elem[i+1] {
		case '/':
			continue
		case '!':
			end := bytes.Index(elem[i:], []byte("]]>"))
			if end < 0 {
				return
			}
			i += end
			continue
		}
		k := i + 1
		for k < len(elem) && !isNameEnd(elem[k]) {
			k++
		}
		name := elem[i+1 : k]
		if c := bytes.IndexByte(name, ':'); c >= 0 {
			name = name[c+1:]
		}
		if !fn(name, i) {
			return
		}
	}
}

// hasDescendant reports whether elem has a descendant element with the
// local name.
func hasDescendant(elem []byte, local string) bool {
	found := false
	startTags(elem, func(n []byte, _ int) bool {
		found = string(n) == local
		return !found
	})
	return found
}

// reasonOf returns the condition of the XEP-0166 <reason/> inside elem
// (the first child of <reason/> other than <text/>), or "".
func reasonOf(elem []byte) string {
	in := false
	cond := ""
	startTags(elem, func(n []byte, _ int) bool {
		switch {
		case !in:
			in = string(n) == "reason"
		case string(n) != "text":
			cond = string(n)
			return false
		}
		return true
	})
	return cond
}

// failure reports whether a XEP-0166 reason condition says the session
// failed rather than ended normally (XEP-0166 §7.4).
func failure(cond string) bool {
	switch cond {
	case "connectivity-error", "failed-application", "failed-transport", "general-error",
		"incompatible-parameters", "media-error", "security-error", "timeout",
		"unsupported-applications", "unsupported-transports":
		return true
	}
	return false
}

// bareOf returns the bare part of an unescaped JID (as written: routing
// keys are built from canonical bound JIDs, and a message whose address is
// not canonical simply misses the registry).
func bareOf(j []byte) []byte {
	if i := bytes.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}
