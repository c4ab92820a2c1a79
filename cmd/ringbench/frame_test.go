package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// frame is what a test expects from frameReader.Next.
type frame struct {
	kind frameKind
	text string
}

func (f frame) String() string {
	return fmt.Sprintf("%s %q", [...]string{"element", "open", "close"}[f.kind], f.text)
}

func TestFrameReader(t *testing.T) {
	const header = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>`
	tests := []struct {
		name  string
		in    string
		want  []frame
		err   error  // wanted error after the frames (nil: io.EOF)
		errIs string // or a substring of it
	}{
		{
			name: "negotiation",
			in:   `<?xml version='1.0'?>` + header + `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`,
			want: []frame{
				{frameStreamOpen, header},
				{frameElement, `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`},
			},
		},
		{
			name: "top-level empty elements and keepalives",
			in:   header + "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n \t<r xmlns='urn:xmpp:sm:3'/> </stream:stream>",
			want: []frame{
				{frameStreamOpen, header},
				{frameElement, `<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`},
				{frameElement, `<r xmlns='urn:xmpp:sm:3'/>`},
				{frameStreamClose, `</stream:stream>`},
			},
		},
		{
			name: "quoted > and / in attributes, nested same names",
			in:   `<message to="a@b/c>d" id='x/>'><body>1 &lt; 2</body><x><x/><x>t</x></x></message>`,
			want: []frame{{frameElement, `<message to="a@b/c>d" id='x/>'><body>1 &lt; 2</body><x><x/><x>t</x></x></message>`}},
		},
		{
			name: "comments, CDATA and processing instructions",
			in:   `<!-- hi <a> --><m><![CDATA[</m> <x>]]><?pi </m>?></m>`,
			want: []frame{{frameElement, `<m><![CDATA[</m> <x>]]><?pi </m>?></m>`}},
		},
		{
			name: "other stream prefix",
			in:   `<s:stream xmlns:s='http://etherx.jabber.org/streams'><iq type='result' id='1'/></s:stream>`,
			want: []frame{
				{frameStreamOpen, `<s:stream xmlns:s='http://etherx.jabber.org/streams'>`},
				{frameElement, `<iq type='result' id='1'/>`},
				{frameStreamClose, `</s:stream>`},
			},
		},
		{
			name:  "doctype",
			in:    `<!DOCTYPE x [<!ENTITY a 'b'>]><x/>`,
			errIs: "DOCTYPE",
		},
		{
			name:  "stray close tag",
			in:    `<a/></b>`,
			want:  []frame{{frameElement, `<a/>`}},
			errIs: "unexpected close tag",
		},
		{
			name: "EOF inside an element",
			in:   `<a><b>`,
			err:  io.ErrUnexpectedEOF,
		},
		{
			name: "EOF inside a tag",
			in:   `<a/><message to='x`,
			want: []frame{{frameElement, `<a/>`}},
			err:  io.ErrUnexpectedEOF,
		},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"byte-at-a-time", iotest.OneByteReader},
		{"halves", iotest.HalfReader},
	}
	for _, tc := range tests {
		for _, rd := range readers {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				// A tiny buffer makes the reader compact and grow.
				f := newFrameReader(rd.wrap(strings.NewReader(tc.in)), 8)
				var got []frame
				var err error
				for {
					var kind frameKind
					var b []byte
					kind, b, err = f.Next()
					if err != nil {
						break
					}
					got = append(got, frame{kind, string(b)})
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("frames:\n got %v\nwant %v", got, tc.want)
				}
				switch {
				case tc.errIs != "":
					if err == nil || !strings.Contains(err.Error(), tc.errIs) {
						t.Errorf("error = %v, want one containing %q", err, tc.errIs)
					}
				case tc.err != nil:
					if !errors.Is(err, tc.err) {
						t.Errorf("error = %v, want %v", err, tc.err)
					}
				default:
					if err != io.EOF {
						t.Errorf("error = %v, want io.EOF", err)
					}
				}
			})
		}
	}
}

func TestFrameReaderTooLarge(t *testing.T) {
	in := "<message><body>" + strings.Repeat("x", maxElementBytes) + "</body></message>"
	f := newFrameReader(strings.NewReader(in), 0)
	if _, _, err := f.Next(); !errors.Is(err, errElementTooLarge) {
		t.Fatalf("Next on a %d-byte element: %v, want errElementTooLarge", len(in), err)
	}
}

// TestFrameReaderMany checks that a long run of stanzas through a small
// buffer comes out intact and in order (the compaction path).
func TestFrameReaderMany(t *testing.T) {
	var in strings.Builder
	var want []string
	for i := range 1000 {
		s := fmt.Sprintf("<message id='%d'><body>%s</body></message>", i, strings.Repeat("y", i%97))
		want = append(want, s)
		in.WriteString(s)
		if i%7 == 0 {
			in.WriteString(" ")
		}
	}
	f := newFrameReader(iotest.HalfReader(strings.NewReader(in.String())), 256)
	for i, w := range want {
		_, b, err := f.Next()
		if err != nil {
			t.Fatalf("stanza %d: %v", i, err)
		}
		if string(b) != w {
			t.Fatalf("stanza %d = %q, want %q", i, b, w)
		}
	}
	if _, _, err := f.Next(); err != io.EOF {
		t.Fatalf("after the last stanza: %v, want io.EOF", err)
	}
}

func BenchmarkFrameReader(b *testing.B) {
	msg := string((&msgPair{prefix: []byte(`<message to='bench1@localhost/rb' type='chat' id='`)}).appendMessage(nil, "0123456789ab", 1, 123456789, 575))
	stream := strings.Repeat(msg, 64)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	r := strings.NewReader(stream)
	f := newFrameReader(r, defaultReadBuffer)
	for b.Loop() {
		r.Reset(stream)
		f.Reset(r)
		for range 64 {
			if _, _, err := f.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
