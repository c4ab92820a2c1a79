package wire

// AppendRewritten appends to dst the stanza's Raw with its from attribute
// replaced by from (omitted when from is ""), and with insert (well-formed
// XML) placed as the last child; a self-closing element is expanded to hold
// it.
//
// The new from is written first, right after the element name, escaped with
// AppendEscaped, so no value of from can end the attribute or the tag. s
// must come from a Decoder (its offsets are trusted); insert is not
// checked. It does not allocate when dst has room.
func AppendRewritten(dst []byte, s *Stanza, from string, insert []byte) []byte {
	raw := s.Raw
	dst = append(dst, raw[:s.NameEnd]...)
	if from != "" {
		dst = append(dst, ` from="`...)
		dst = AppendEscaped(dst, from)
		dst = append(dst, '"')
	}
	rest := s.NameEnd
	if s.FromStart >= 0 {
		dst = append(dst, raw[s.NameEnd:s.FromStart]...)
		rest = s.FromEnd
	}
	switch {
	case insert == nil:
		return append(dst, raw[rest:]...)
	case s.InnerEnd >= 0:
		dst = append(dst, raw[rest:s.InnerEnd]...)
		dst = append(dst, insert...)
		return append(dst, raw[s.InnerEnd:]...)
	}
	// <name .../> becomes <name ...>insert</name>.
	dst = append(dst, raw[rest:len(raw)-2]...)
	dst = append(dst, '>')
	dst = append(dst, insert...)
	dst = append(dst, "</"...)
	dst = append(dst, raw[1:s.NameEnd]...)
	return append(dst, '>')
}
