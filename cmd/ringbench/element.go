package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Namespaces the tool speaks.
const (
	nsClient   = "jabber:client"
	nsStream   = "http://etherx.jabber.org/streams"
	nsTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession  = "urn:ietf:params:xml:ns:xmpp-session"
	nsStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsRoster   = "jabber:iq:roster"
	nsPing     = "urn:xmpp:ping"
	nsJMI      = "urn:xmpp:jingle-message:0"
	nsJingle   = "urn:xmpp:jingle:1"
	nsRTP      = "urn:xmpp:jingle:apps:rtp:1"
	nsICEUDP   = "urn:xmpp:jingle:transports:ice-udp:1"
	nsDTLS     = "urn:xmpp:jingle:apps:dtls:0"
	nsHints    = "urn:xmpp:hints"
	nsRTCPFB   = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
	nsRTPHdr   = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
	nsXMLSpace = "http://www.w3.org/XML/1998/namespace"
)

// element is a parsed XML element, for the stanzas that are not on the hot
// path (stream negotiation, roster, call signalling). Its namespace is
// resolved; its attributes keep their qualified names.
type element struct {
	Space, Local string
	Attrs        []attr
	Children     []*element
	Text         string // character data directly inside, unescaped
}

type attr struct{ Name, Value string }

// Attr is the value of the attribute with qualified name name, or "".
func (e *element) Attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// Child is the first child with this namespace and local name; space ""
// matches any namespace.
func (e *element) Child(space, local string) *element {
	for _, c := range e.Children {
		if c.Local == local && (space == "" || c.Space == space) {
			return c
		}
	}
	return nil
}

func (e *element) String() string { return "<" + e.Local + " xmlns='" + e.Space + "'>" }

// nsScope is the namespace context an element is parsed in: the default
// namespace and the prefix bindings of its ancestors.
type nsScope struct {
	def      string
	prefixes map[string]string
}

// streamScope is the context of a top-level element of a client stream:
// jabber:client by default and the stream prefix bound.
func streamScope() nsScope {
	return nsScope{def: nsClient, prefixes: map[string]string{"stream": nsStream, "xml": nsXMLSpace}}
}

// parseElement parses one complete element (as frameReader returns it).
func parseElement(b []byte, scope nsScope) (*element, error) {
	type open struct {
		el    *element
		scope nsScope
		name  string
	}
	var stack []open
	var root *element
	var text strings.Builder
	pos := 0
	for pos < len(b) {
		if b[pos] != '<' {
			i := bytes.IndexByte(b[pos:], '<')
			if i < 0 {
				i = len(b) - pos
			}
			if len(stack) > 0 {
				s, err := unescape(b[pos : pos+i])
				if err != nil {
					return nil, err
				}
				text.WriteString(s)
			}
			pos += i
			continue
		}
		n, kind, err := scanTag(b[pos:])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("ringbench: unterminated tag in %.80q", b)
		}
		tag := b[pos : pos+n]
		pos += n
		switch kind {
		case tagSkip:
			if bytes.HasPrefix(tag, []byte("<![CDATA[")) && len(stack) > 0 {
				text.Write(tag[len("<![CDATA[") : len(tag)-3])
			}
		case tagClose:
			if len(stack) == 0 {
				return nil, fmt.Errorf("ringbench: stray close tag %q", tag)
			}
			top := stack[len(stack)-1]
			if name := string(tagName(tag)); name != top.name {
				return nil, fmt.Errorf("ringbench: close tag %q does not match <%s>", tag, top.name)
			}
			top.el.Text += text.String()
			text.Reset()
			stack = stack[:len(stack)-1]
		case tagOpen, tagEmpty:
			parent := scope
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.el.Text += text.String()
				text.Reset()
				parent = top.scope
			} else if root != nil {
				return nil, fmt.Errorf("ringbench: more than one root element in %.80q", b)
			}
			name, attrs, err := parseStartTag(tag)
			if err != nil {
				return nil, err
			}
			el, inner, err := resolve(name, attrs, parent)
			if err != nil {
				return nil, err
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1].el
				p.Children = append(p.Children, el)
			} else {
				root = el
			}
			if kind == tagOpen {
				stack = append(stack, open{el, inner, name})
			}
		}
	}
	if len(stack) > 0 || root == nil {
		return nil, fmt.Errorf("ringbench: incomplete element %.80q", b)
	}
	return root, nil
}

// resolve applies an element's namespace declarations to its scope.
func resolve(name string, attrs []attr, parent nsScope) (*element, nsScope, error) {
	scope := parent
	copied := false
	for _, a := range attrs {
		switch {
		case a.Name == "xmlns":
			scope.def = a.Value
		case strings.HasPrefix(a.Name, "xmlns:"):
			if !copied {
				m := make(map[string]string, len(parent.prefixes)+1)
				for k, v := range parent.prefixes {
					m[k] = v
				}
				scope.prefixes, copied = m, true
			}
			scope.prefixes[a.Name[len("xmlns:"):]] = a.Value
		}
	}
	el := &element{Attrs: attrs}
	if prefix, local, ok := strings.Cut(name, ":"); ok {
		space, bound := scope.prefixes[prefix]
		if !bound {
			return nil, scope, fmt.Errorf("ringbench: unbound prefix in <%s>", name)
		}
		el.Space, el.Local = space, local
	} else {
		el.Space, el.Local = scope.def, name
	}
	return el, scope, nil
}

// parseStartTag splits an open or empty tag into its name and attributes
// (values unescaped).
func parseStartTag(tag []byte) (string, []attr, error) {
	name := tagName(tag)
	if len(name) == 0 {
		return "", nil, fmt.Errorf("ringbench: tag without a name: %.80q", tag)
	}
	rest := tag[1+len(name):]
	rest = bytes.TrimSuffix(bytes.TrimSuffix(rest, []byte(">")), []byte("/"))
	var attrs []attr
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			return string(name), attrs, nil
		}
		eq := bytes.IndexByte(rest, '=')
		if eq <= 0 {
			return "", nil, fmt.Errorf("ringbench: malformed attribute in %.80q", tag)
		}
		key := bytes.TrimRight(rest[:eq], " \t\r\n")
		rest = bytes.TrimLeft(rest[eq+1:], " \t\r\n")
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return "", nil, fmt.Errorf("ringbench: unquoted attribute value in %.80q", tag)
		}
		end := bytes.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return "", nil, fmt.Errorf("ringbench: unterminated attribute value in %.80q", tag)
		}
		v, err := unescape(rest[1 : 1+end])
		if err != nil {
			return "", nil, err
		}
		attrs = append(attrs, attr{string(key), v})
		rest = rest[2+end:]
	}
}

// unescape resolves the five predefined entities and character
// references.
func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, '&') < 0 {
		return string(b), nil
	}
	var out strings.Builder
	out.Grow(len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			out.Write(b)
			break
		}
		out.Write(b[:i])
		b = b[i:]
		semi := bytes.IndexByte(b, ';')
		if semi < 0 {
			return "", fmt.Errorf("ringbench: unterminated entity in %.40q", b)
		}
		ref := string(b[1:semi])
		b = b[semi+1:]
		switch ref {
		case "lt":
			out.WriteByte('<')
		case "gt":
			out.WriteByte('>')
		case "amp":
			out.WriteByte('&')
		case "quot":
			out.WriteByte('"')
		case "apos":
			out.WriteByte('\'')
		default:
			var n uint64
			var err error
			switch {
			case strings.HasPrefix(ref, "#x"):
				n, err = strconv.ParseUint(ref[2:], 16, 32)
			case strings.HasPrefix(ref, "#"):
				n, err = strconv.ParseUint(ref[1:], 10, 32)
			default:
				err = fmt.Errorf("unknown entity")
			}
			if err != nil || !utf8.ValidRune(rune(n)) {
				return "", fmt.Errorf("ringbench: bad entity &%s;", ref)
			}
			out.WriteRune(rune(n))
		}
	}
	return out.String(), nil
}

// appendEscaped appends s as character data or a single-quoted attribute
// value.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '&':
			dst = append(dst, "&amp;"...)
		case '\'':
			dst = append(dst, "&apos;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// startTagAttr finds attribute name in the start tag at the beginning of
// raw without parsing the element: the hot path uses it for 'type' and
// 'from'. Values are returned raw (the tool's own identifiers and JIDs
// need no unescaping).
func startTagAttr(raw []byte, name string) []byte {
	end := bytes.IndexByte(raw, '>')
	if end < 0 {
		return nil
	}
	tag := raw[:end]
	for i := 0; ; {
		j := bytes.Index(tag[i:], []byte(name))
		if j < 0 {
			return nil
		}
		j += i
		k := j + len(name)
		if j > 0 && isSpace(tag[j-1]) && k+1 < len(tag) && tag[k] == '=' && (tag[k+1] == '\'' || tag[k+1] == '"') {
			q := tag[k+1]
			v := tag[k+2:]
			if e := bytes.IndexByte(v, q); e >= 0 {
				return v[:e]
			}
			return nil
		}
		i = k
	}
}
