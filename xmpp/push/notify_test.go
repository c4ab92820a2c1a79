package push

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

func TestIncludeBody(t *testing.T) {
	form := func(fields string) string {
		return `<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>` + NSPublishOptions + `</value></field>` + fields + `</x>`
	}
	tests := []struct {
		name string
		opts string
		want bool
	}{
		{"no options", "", false},
		{"no field", form(`<field var="secret"><value>x</value></field>`), false},
		{"include-body true", form(`<field var="include-body"><value>true</value></field>`), true},
		{"include-body 1", form(`<field var="include-body" type="boolean"><value>1</value></field>`), true},
		{"include_body true", form(`<field var="include_body"><value>true</value></field>`), true},
		{"include-body false", form(`<field var="include-body"><value>false</value></field>`), false},
		{"include-body 0", form(`<field var="include-body"><value>0</value></field>`), false},
		{"include-body empty", form(`<field var="include-body"/>`), false},
		{"include-body two values", form(`<field var="include-body"><value>1</value><value>1</value></field>`), false},
		{"another spelling", form(`<field var="includeBody"><value>true</value></field>`), false},
		{"broken XML", `<x xmlns="jabber:x:data"><field var="include-body"><value>true</value>`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := includeBody([]byte(tc.opts)); got != tc.want {
				t.Errorf("includeBody(%q) = %v, want %v", tc.opts, got, tc.want)
			}
		})
	}
}

func TestBodyText(t *testing.T) {
	tests := []struct {
		name, elem, want string
	}{
		{"plain", `<body>hi</body>`, "hi"},
		{"entities", `<body>a &amp; b &lt;c&gt; &#x1F600;</body>`, "a & b <c> 😀"},
		{"cdata", `<body><![CDATA[<raw>]]></body>`, "<raw>"},
		{"empty", `<body/>`, ""},
		{"long", `<body>` + strings.Repeat("x", 3000) + `</body>`, strings.Repeat("x", maxBodyBytes)},
		// 1023 bytes of 'x' and then a 4-byte rune across the limit.
		{"cut at a character", `<body>` + strings.Repeat("x", maxBodyBytes-1) + "😀😀" + `</body>`, strings.Repeat("x", maxBodyBytes-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := bodyText([]byte(tc.elem)); got != tc.want {
				t.Errorf("bodyText(%.40q) = %.40q (%d bytes), want %.40q (%d bytes)", tc.elem, got, len(got), tc.want, len(tc.want))
			}
		})
	}
}

// blockingStore holds PushRegistrations until release is closed.
type blockingStore struct {
	Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) PushRegistrations(ctx context.Context, user string) ([]storage.PushRegistration, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.PushRegistrations(ctx, user)
}

// TestQueueFull: with the one worker busy and the queue full, a further
// notification is dropped and counted, and the router is not held up.
func TestQueueFull(t *testing.T) {
	env := routertest.New(t, "alice", "bob")
	st := &blockingStore{Store: env.Store, entered: make(chan struct{}, 8), release: make(chan struct{})}
	p, err := New(Config{Router: env.Router, Store: st, QueueSize: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := env.Bind(t, "alice@localhost/a", true)
	msg := routertest.Parse(t, `<message to="bob@localhost"><body>hi</body></message>`)
	bob := router.Account{Bare: "bob@localhost", Local: "bob"}
	observe := func() { p.MessageRouted(context.Background(), alice, msg, bob, msg.Raw, nil) }

	observe()
	<-st.entered // the worker holds the first
	observe()    // queued
	done := make(chan struct{})
	go func() {
		observe() // dropped, at once
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("MessageRouted blocked on a full queue")
	}
	if got := counterValue(t, p.metrics.notifications[normal][dropped]); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	close(st.release)
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := len(st.entered); got != 1 {
		t.Errorf("%d more notifications were published after the first, want 1 (the queued one)", got)
	}
}

// TestWorkersEndWhenIdle: an idle Push runs no goroutine.
func TestWorkersEndWhenIdle(t *testing.T) {
	env := routertest.New(t, "alice", "bob")
	p, err := New(Config{Router: env.Router, Store: env.Store, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := env.Bind(t, "alice@localhost/a", true)
	msg := routertest.Parse(t, `<message to="bob@localhost"><body>hi</body></message>`)
	for range 20 {
		p.MessageRouted(context.Background(), alice, msg, router.Account{Bare: "bob@localhost", Local: "bob"}, msg.Raw, nil)
	}
	waitFor(t, "the workers to end", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.workers == 0
	})
	p.running.Wait() // returns: the goroutines have ended
}

// waitFor polls cond, failing t after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestCloseGivesUp: Close returns when its ctx ends, dropping what is
// still queued once the notification in progress is done.
func TestCloseGivesUp(t *testing.T) {
	env := routertest.New(t, "alice", "bob")
	st := &blockingStore{Store: env.Store, entered: make(chan struct{}, 8), release: make(chan struct{})}
	p, err := New(Config{Router: env.Router, Store: st, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := env.Bind(t, "alice@localhost/a", true)
	msg := routertest.Parse(t, `<message to="bob@localhost"><propose xmlns="urn:xmpp:jingle-message:0" id="c"/></message>`)
	for range 3 {
		p.MessageRouted(context.Background(), alice, msg, router.Account{Bare: "bob@localhost", Local: "bob"}, msg.Raw, nil)
	}
	<-st.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errc := make(chan error, 1)
	go func() { errc <- p.Close(ctx) }()
	// Close gives up, then waits for the notification in progress; the
	// rest is dropped.
	waitFor(t, "Close to give up", p.abandon.Load)
	close(st.release)
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Close(cancelled) = %v, want context.Canceled", err)
	}
	if got := counterValue(t, p.metrics.notifications[urgent][dropped]); got != 2 {
		t.Errorf("urgent dropped = %v, want 2", got)
	}
}
