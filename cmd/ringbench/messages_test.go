package main

import (
	"testing"
	"time"
)

func TestAppendMessage(t *testing.T) {
	p := &msgPair{idx: 7, prefix: []byte(`<message to='bench15@localhost/rb' type='chat' id='`)}
	for _, size := range []int{0, 200, 575, 4096} {
		b := p.appendMessage(nil, "0123456789ab", 123, 987654321, size)
		if size >= 200 && len(b) != size {
			t.Errorf("size %d: stanza is %d bytes", size, len(b))
		}
		el, err := parseElement(b, streamScope())
		if err != nil {
			t.Fatalf("size %d: not well-formed: %v\n%s", size, err, b)
		}
		if el.Attr("id") != "0123456789ab-123" || el.Attr("type") != "chat" {
			t.Errorf("size %d: attributes %+v", size, el.Attrs)
		}
		m, ok := parseMark(childText(b, "body"), "0123456789ab")
		if !ok || m != (mark{pair: 7, seq: 123, ts: 987654321}) {
			t.Errorf("size %d: mark = %+v, %v", size, m, ok)
		}
	}
}

func TestParseMark(t *testing.T) {
	const run = "abcdef012345"
	tests := []struct {
		in   string
		want mark
		ok   bool
	}{
		{"rb abcdef012345 1 2 3", mark{1, 2, 3}, true},
		{"rb abcdef012345 0 99 1234567890123 xxxx", mark{0, 99, 1234567890123}, true},
		{"rb abcdef012346 1 2 3", mark{}, false}, // another run
		{"rb abcdef012345 1 2", mark{}, false},
		{"rb abcdef012345 1 2 x", mark{}, false},
		{"rb abcdef012345 1 -2 3", mark{}, false},
		{"rb abcdef0123451 2 3", mark{}, false},
		{"rb abcdef012345 1 2 3x", mark{}, false},
		{"rb abcdef012345 1 2 12345678901234567890", mark{}, false},
		{"hello", mark{}, false},
		{"", mark{}, false},
	}
	for _, tc := range tests {
		got, ok := parseMark([]byte(tc.in), run)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseMark(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if b := appendMark(nil, run, mark{4, 5, 6}); string(b) != "rb abcdef012345 4 5 6" {
		t.Errorf("appendMark = %q", b)
	}
}

// TestReceiveDoesNotAllocate guards the receiver's hot path: a delivered
// chat message must cost no allocation.
func TestReceiveDoesNotAllocate(t *testing.T) {
	const run = "0123456789ab"
	p := &msgPair{idx: 3, prefix: []byte(`<message to='bench7@localhost/rb' type='chat' id='`), quota: 1 << 20, window: 64,
		wake: make(chan struct{}, 1), seen: make([]uint64, 1<<14)}
	base := time.Now()
	msgs := make([][]byte, 1000)
	for i := range msgs {
		// As a server delivers it: from added, a stanza-id appended.
		b := []byte(`<message from='bench6@localhost/rb' `)
		b = append(b, p.appendMessage(nil, run, int64(i), 5, 575)[len(`<message `):]...)
		b = append(b[:len(b)-len(`</message>`)], `<stanza-id xmlns='urn:xmpp:sid:0' by='bench7@localhost' id='x'/></message>`...)
		msgs[i] = b
	}
	errs := &errorLog{}
	i := 0
	allocs := testing.AllocsPerRun(len(msgs)-1, func() {
		if err := p.receive(msgs[i], run, base, errs); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("receive allocates %v times per message", allocs)
	}
	if p.received.Load() != int64(i) || errs.Count() != 0 || p.hist.Count() != uint64(i) {
		t.Errorf("received %d of %d, %d errors", p.received.Load(), i, errs.Count())
	}
	// Delivered again: duplicates, not receipts.
	if err := p.receive(msgs[0], run, base, errs); err != nil || p.dups != 1 {
		t.Errorf("duplicate: err %v, dups %d", err, p.dups)
	}
}

func BenchmarkReceive(b *testing.B) {
	const run = "0123456789ab"
	p := &msgPair{idx: 3, prefix: []byte(`<message to='bench7@localhost/rb' type='chat' id='`), quota: 1 << 40, window: 64,
		wake: make(chan struct{}, 1), seen: make([]uint64, 1<<22)}
	msg := p.appendMessage(nil, run, 0, 5, 575)
	base := time.Now()
	errs := &errorLog{}
	seq := int64(0)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		m := p.appendMessage(msg[:0], run, seq%(1<<28), 5, 575)
		if err := p.receive(m, run, base, errs); err != nil {
			b.Fatal(err)
		}
		seq++
	}
}
