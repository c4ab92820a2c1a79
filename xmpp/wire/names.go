package wire

// openElem applies the start tag t at b[p]: namespace declarations,
// attribute and prefix checks, and what the Stanza records.
func (d *Decoder) openElem(b []byte, p int, t tag) (int, status) {
	depth := len(d.stack) + 1
	if depth > d.lim.MaxDepth {
		return p, d.fail(CondPolicyViolation, p, "elements nested too deeply")
	}
	mark := len(d.ns)
	hasXMLNS := false
	// Declarations first: they apply to the element's own name and
	// attributes.
	for k := 0; k < len(d.attrs) && t.decls > 0; k++ {
		a := &d.attrs[k]
		if !a.decl {
			continue
		}
		pfx, pfxEnd := a.name, a.name
		if a.colon >= 0 {
			pfx, pfxEnd = a.colon+1, a.nameEnd
		} else {
			hasXMLNS = true
		}
		if st := d.declare(b, a, pfx, pfxEnd); st != stOK {
			return p, st
		}
	}
	if len(d.attrs) > 1 && d.dupAttr(b) {
		return p, d.fail(CondNotWellFormed, p, "duplicate attribute")
	}
	ns, st := d.resolve(b, p+1, t.colon, depth == 1)
	if st != stOK {
		return p, st
	}
	if t.prefixed > 0 {
		if st := d.resolveAttrs(b, p, t.prefixed); st != stOK {
			return p, st
		}
	}

	kid := -1
	switch {
	case depth == 1:
		d.recordTop(b, t, ns, hasXMLNS)
	case depth == 2 && d.nkids < MaxChildren:
		kid = d.nkids
		d.nkids++
		local := p + 1
		if t.colon >= 0 {
			local = t.colon + 1
		}
		d.kids[kid] = kidInfo{ns: ns, local: local, localEnd: t.qnEnd, start: p, end: -1}
	}
	if t.selfClosed {
		d.ns = d.ns[:mark]
		if kid >= 0 {
			d.kids[kid].end = t.end
		}
		if depth == 1 {
			return t.end, stDone
		}
		return t.end, stOK
	}
	d.stack = append(d.stack, frame{qn: p + 1, qnEnd: t.qnEnd, nsMark: mark, kid: kid})
	return t.end, stOK
}

// declare pushes the namespace declaration a, whose prefix is
// b[pfx:pfxEnd] (empty for xmlns=), enforcing the reserved names of
// Namespaces in XML 1.0 §3.
func (d *Decoder) declare(b []byte, a *attr, pfx, pfxEnd int) status {
	// Literal whitespace other than space in a namespace name is
	// normalised differently by different parsers (encoding/xml keeps a
	// newline, XML 1.0 §3.3.3 makes it a space); rejecting it keeps every
	// receiver agreeing with the namespace the router saw.
	if a.space {
		return d.fail(CondNotWellFormed, a.val, "whitespace in a namespace name")
	}
	uri := nsRef{src: srcRaw, lo: a.val, hi: a.valEnd}
	if a.amp {
		// Unescaped into scratch so that NS views compare by value.
		lo := len(d.scratch)
		d.scratch = appendUnescaped(d.scratch, b[a.val:a.valEnd])
		uri = nsRef{src: srcScratch, lo: lo, hi: len(d.scratch)}
	}
	u := d.nsBytes(b, uri)
	var msg string
	switch pf := b[pfx:pfxEnd]; {
	case string(pf) == "xml":
		if string(u) != nsXML {
			msg = "prefix xml bound to another namespace"
		}
	case string(pf) == "xmlns":
		msg = "prefix xmlns declared"
	case string(u) == nsXML || string(u) == nsXMLNS:
		msg = "reserved namespace bound to a prefix"
	case len(pf) > 0 && len(u) == 0:
		msg = "prefix bound to the empty namespace"
	}
	if msg != "" {
		return d.fail(CondBadNamespacePrefix, a.name, msg)
	}
	d.ns = append(d.ns, nsDecl{pfx: pfx, pfxEnd: pfxEnd, uri: uri})
	return stOK
}

// resolve returns the namespace of the element name at b[qn:] whose colon
// is at b[colon] (-1 if unprefixed).
func (d *Decoder) resolve(b []byte, qn, colon int, top bool) (nsRef, status) {
	if colon < 0 {
		for k := len(d.ns) - 1; k >= 0; k-- {
			if e := &d.ns[k]; e.pfx == e.pfxEnd {
				return e.uri, stOK
			}
		}
		return nsRef{src: srcDefault}, stOK
	}
	return d.resolvePrefix(b, qn, colon, top)
}

// resolvePrefix resolves the prefix b[at:colon]. Only declarations inside
// the element count: a stanza is forwarded raw into other streams, where
// the sender's stream header does not apply. The one exception is the
// stream prefix on a top-level element (<stream:error/>), which is never
// forwarded.
func (d *Decoder) resolvePrefix(b []byte, at, colon int, top bool) (nsRef, status) {
	pfx := b[at:colon]
	switch string(pfx) {
	case "xml":
		return nsRef{src: srcXML}, stOK
	case "xmlns":
		return nsRef{}, d.fail(CondBadNamespacePrefix, at, "prefix xmlns used on a name")
	}
	for k := len(d.ns) - 1; k >= 0; k-- {
		if e := &d.ns[k]; string(b[e.pfx:e.pfxEnd]) == string(pfx) {
			return e.uri, stOK
		}
	}
	if top && len(d.streamPfx) > 0 && string(pfx) == string(d.streamPfx) {
		return nsRef{src: srcStream}, stOK
	}
	return nsRef{}, d.fail(CondBadNamespacePrefix, at, "undeclared namespace prefix")
}

// resolveAttrs resolves the prefixed attributes of the current start tag
// and checks that no two share an expanded name (Namespaces in XML §6.3).
func (d *Decoder) resolveAttrs(b []byte, p, prefixed int) status {
	for k := range d.attrs {
		a := &d.attrs[k]
		if a.colon < 0 || a.decl {
			continue
		}
		var st status
		if a.ns, st = d.resolvePrefix(b, a.name, a.colon, false); st != stOK {
			return st
		}
	}
	if prefixed < 2 {
		return stOK
	}
	for j := range d.attrs {
		x := &d.attrs[j]
		if x.colon < 0 || x.decl {
			continue
		}
		for k := range j {
			y := &d.attrs[k]
			if y.colon < 0 || y.decl {
				continue
			}
			if string(b[x.colon:x.nameEnd]) == string(b[y.colon:y.nameEnd]) &&
				string(d.nsBytes(b, x.ns)) == string(d.nsBytes(b, y.ns)) {
				return d.fail(CondNotWellFormed, p, "duplicate expanded attribute name")
			}
		}
	}
	return stOK
}

// dupAttr reports whether two attributes of the current start tag have the
// same qualified name. Pairwise for the usual handful, hashed beyond that so
// that MaxAttrs attributes cost linear time.
func (d *Decoder) dupAttr(b []byte) bool {
	n := len(d.attrs)
	if n <= 16 {
		// A 64-bit filter on length and last byte: distinct names rarely
		// share a bit, so the usual tag needs no byte comparison.
		var seen uint64
		for j := range n {
			a := &d.attrs[j]
			bit := uint64(1) << ((uint(a.nameEnd-a.name)*7 + uint(b[a.nameEnd-1])) & 63)
			if seen&bit != 0 {
				x := b[a.name:a.nameEnd]
				for k := range j {
					if string(b[d.attrs[k].name:d.attrs[k].nameEnd]) == string(x) {
						return true
					}
				}
			}
			seen |= bit
		}
		return false
	}
	size := 64
	for size < 2*n {
		size *= 2
	}
	if cap(d.hash) < size {
		d.hash = make([]int32, size)
	}
	h := d.hash[:size]
	clear(h)
	for j := range d.attrs {
		x := b[d.attrs[j].name:d.attrs[j].nameEnd]
		sum := uint32(2166136261)
		for _, c := range x {
			sum = (sum ^ uint32(c)) * 16777619
		}
		for i := int(sum) & (size - 1); ; i = (i + 1) & (size - 1) {
			k := h[i] - 1
			if k < 0 {
				h[i] = int32(j + 1)
				break
			}
			if string(b[d.attrs[k].name:d.attrs[k].nameEnd]) == string(x) {
				return true
			}
		}
	}
	return false
}

// recordTop notes what the Stanza reports about the top-level element.
func (d *Decoder) recordTop(b []byte, t tag, ns nsRef, hasXMLNS bool) {
	none := span{-1, -1}
	local := 1
	if t.colon >= 0 {
		local = t.colon + 1
	}
	d.top = topInfo{
		ns: ns, local: local, nameEnd: t.qnEnd,
		to: none, from: none, id: none, typ: none,
		fromStart: -1, fromEnd: -1, innerEnd: -1,
		hasXMLNS: hasXMLNS,
	}
	for k := range d.attrs {
		a := &d.attrs[k]
		if a.colon >= 0 {
			continue
		}
		v := span{a.val, a.valEnd}
		switch string(b[a.name:a.nameEnd]) {
		case "to":
			d.top.to = v
		case "from":
			d.top.from = v
			d.top.fromStart, d.top.fromEnd = a.ws, a.valEnd+1
		case "id":
			d.top.id = v
		case "type":
			d.top.typ = v
		}
	}
}
