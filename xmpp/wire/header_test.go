package wire

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadHeader(t *testing.T) {
	const ns = ` xmlns:stream='http://etherx.jabber.org/streams'`
	tests := []struct {
		name string
		in   string
		want Header
	}{
		{
			name: "plain",
			in:   streamHeader,
			want: Header{NS: NSClient, To: "example.com", Version: "1.0"},
		},
		{
			name: "declaration",
			in:   `<?xml version='1.0'?>` + streamHeader,
			want: Header{NS: NSClient, To: "example.com", Version: "1.0"},
		},
		{
			name: "declaration with encoding and standalone",
			in:   `<?xml version="1.0" encoding="utf-8" standalone='yes' ?>` + "\n" + streamHeader,
			want: Header{NS: NSClient, To: "example.com", Version: "1.0"},
		},
		{
			name: "leading whitespace",
			in:   " \r\n\t" + `<?xml version='1.0'?>` + "\n\n" + streamHeader,
			want: Header{NS: NSClient, To: "example.com", Version: "1.0"},
		},
		{
			name: "all attributes double quoted and escaped",
			in: `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams"` +
				` from="juliet@im.example.com" to="im.example.com" id="a&amp;b&#x41;" version="1.0" xml:lang="en">`,
			want: Header{NS: NSClient, From: "juliet@im.example.com", To: "im.example.com", ID: "a&bA", Version: "1.0", Lang: "en"},
		},
		{
			name: "other prefix",
			in:   `<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:server' version='1.0'>`,
			want: Header{NS: "jabber:server", Version: "1.0"},
		},
		{
			name: "unprefixed stream element",
			in:   `<stream xmlns='http://etherx.jabber.org/streams' to='x'>`,
			want: Header{NS: NSStream, To: "x"},
		},
		{
			name: "no version is pre-1.0",
			in:   `<stream:stream xmlns='jabber:client'` + ns + `>`,
			want: Header{NS: NSClient},
		},
		{
			name: "later minor version",
			in:   `<stream:stream xmlns='jabber:client'` + ns + ` version='1.12'>`,
			want: Header{NS: NSClient, Version: "1.12"},
		},
		{
			name: "no default namespace",
			in:   `<stream:stream` + ns + ` version='1.0'>`,
			want: Header{Version: "1.0"},
		},
		{
			name: "whitespace inside the tag",
			in:   "<stream:stream\n  xmlns = 'jabber:client'\n  xmlns:stream=\"http://etherx.jabber.org/streams\"\n  version='1.0'\n>",
			want: Header{NS: NSClient, Version: "1.0"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tc.in), Limits{})
			h, err := d.ReadHeader()
			if err != nil || h != tc.want {
				t.Fatalf("ReadHeader(%q) = %+v, %v, want %+v", tc.in, h, err, tc.want)
			}
			if got := d.InputOffset(); got != int64(len(tc.in)) {
				t.Errorf("InputOffset() = %d after ReadHeader(%q), want %d", got, tc.in, len(tc.in))
			}
		})
	}
}

func TestReadHeaderErrors(t *testing.T) {
	const ns = ` xmlns:stream='http://etherx.jabber.org/streams'`
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"wrong stream namespace", `<stream:stream xmlns:stream='jabber:client'>`, CondInvalidNamespace},
		{"wrong local name", `<stream:strea` + ns + `>`, CondInvalidNamespace},
		{"unprefixed without namespace", `<stream to='x'>`, CondInvalidNamespace},
		{"undeclared prefix", `<stream:stream xmlns='jabber:client'>`, CondBadNamespacePrefix},
		{"undeclared attribute prefix", `<stream:stream` + ns + ` foo:bar='1'>`, CondBadNamespacePrefix},
		{"version 2", `<stream:stream` + ns + ` version='2.0'>`, CondUnsupportedVersion},
		{"version 0.9", `<stream:stream` + ns + ` version='0.9'>`, CondUnsupportedVersion},
		{"malformed version", `<stream:stream` + ns + ` version='one'>`, CondUnsupportedVersion},
		{"self-closing", `<stream:stream` + ns + `/>`, CondNotWellFormed},
		{"duplicate attribute", `<stream:stream` + ns + ` to='a' to='b'>`, CondNotWellFormed},
		{"unquoted attribute", `<stream:stream` + ns + ` to=a>`, CondNotWellFormed},
		{"other encoding", `<?xml version='1.0' encoding='ISO-8859-1'?>` + streamHeader, CondNotWellFormed},
		{"declaration without version", `<?xml encoding='UTF-8'?>` + streamHeader, CondNotWellFormed},
		{"declaration version 2", `<?xml version='2.0'?>` + streamHeader, CondNotWellFormed},
		{"declaration out of order", `<?xml version='1.0' standalone='yes' encoding='UTF-8'?>` + streamHeader, CondNotWellFormed},
		{"two declarations", `<?xml version='1.0'?><?xml version='1.0'?>` + streamHeader, CondRestrictedXML},
		{"processing instruction", `<?xml-stylesheet href='a'?>` + streamHeader, CondRestrictedXML},
		{"comment", `<!-- hi -->` + streamHeader, CondRestrictedXML},
		{"doctype", `<!DOCTYPE stream>` + streamHeader, CondRestrictedXML},
		{"text", `hello` + streamHeader, CondNotWellFormed},
		{"end tag", `</stream:stream>`, CondNotWellFormed},
		{"bad UTF-8 in attribute", "<stream:stream" + ns + " to='\xff'>", CondNotWellFormed},
		{"huge header", `<stream:stream` + ns + ` to='` + strings.Repeat("a", 5000) + `'>`, CondPolicyViolation},
		{"huge unterminated header", `<stream:stream` + ns + ` to='` + strings.Repeat("a", 5000), CondPolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tc.in), Limits{})
			h, err := d.ReadHeader()
			if got := condition(err); got != tc.want {
				t.Fatalf("ReadHeader(%q) = %+v, %v, want %s", tc.in, h, err, tc.want)
			}
		})
	}
}

func TestReadHeaderEOF(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"nothing", "", io.EOF},
		{"only whitespace", " \n", io.EOF},
		{"cut header", `<stream:stream xmlns='jabber:client'`, io.ErrUnexpectedEOF},
		{"only declaration", `<?xml version='1.0'?>`, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tc.in), Limits{})
			if _, err := d.ReadHeader(); !errors.Is(err, tc.want) {
				t.Fatalf("ReadHeader(%q) = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

func TestHeaderMisuse(t *testing.T) {
	d := NewFramedDecoder(strings.NewReader(""), Limits{})
	if _, err := d.ReadHeader(); err == nil {
		t.Errorf("ReadHeader() on a framed decoder = nil error, want one")
	}
	d = NewDecoder(strings.NewReader(streamHeader+"<message/>"), Limits{})
	if _, err := d.Next(); err == nil {
		t.Errorf("Next() before ReadHeader = nil error, want one")
	}
	if _, err := d.ReadHeader(); err != nil {
		t.Fatalf("ReadHeader() = %v", err)
	}
	if _, err := d.ReadHeader(); err == nil {
		t.Errorf("second ReadHeader() without Restart = nil error, want one")
	}
}
