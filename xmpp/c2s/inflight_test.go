package c2s

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/xmpp/inflight"
	"github.com/ringd/ringd/xmpp/router"
)

// gatedInflight holds every commit of in-flight records until the test
// opens the gate: storage that is slow, as seen from the sessions.
type gatedInflight struct {
	storage.Inflight
	entered chan struct{} // receives once per commit that started
	gate    chan struct{} // closed: commits go through
}

func (g *gatedInflight) UpdateInflight(ctx context.Context, add []storage.InflightMessage, del []int64) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Inflight.UpdateInflight(ctx, add, del)
}

// withJournal gives the server a journal on a store of its own (the
// records live in their own database file); wrap, when set, stands
// between the journal and that store.
func withJournal(t testing.TB, linger time.Duration, wrap func(storage.Inflight) storage.Inflight) (serverOption, *inflight.Journal, storage.Inflight) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "inflight.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var backend storage.Inflight = store
	if wrap != nil {
		backend = wrap(store)
	}
	j, err := inflight.Open(context.Background(), inflight.Config{Store: backend, Linger: linger, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		j.Close(ctx)
	})
	return func(cfg *Config, _ *router.Config) { cfg.Journal = j }, j, store
}

// inflightIDs returns the ids of the records stored for the account
// user.
func inflightIDs(t testing.TB, s storage.Inflight, user string) []int64 {
	t.Helper()
	recs, err := s.InflightMessages(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range recs {
		if r.User == user {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// reAck matches <a h/>, after the server's own <r/> if it asked first.
func reAck(h int) *regexp.Regexp {
	return regexp.MustCompile(`^(?:<r xmlns="` + nsSM + `"/>)?<a xmlns="` + nsSM + fmt.Sprintf(`" h="%d"/>`, h))
}

// TestInflightAckWaitsForRecord: a message handed to a recipient that
// acknowledges is recorded, the sender's <a h/> covering it waits until
// the record is durable, and the recipient's ack deletes the record.
func TestInflightAckWaitsForRecord(t *testing.T) {
	g := &gatedInflight{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	opt, _, store := withJournal(t, -1, func(s storage.Inflight) storage.Inflight { g.Inflight = s; return g })
	ts := startServer(t, opt)
	bob, bfull, _ := smLogin(t, ts, "bob", "phone", false)
	alice, _, _ := smLogin(t, ts, "alice", "laptop", false)

	// The IQ after <r/> comes back (an error: nobody serves it) only once
	// the reader handled <r/>; no <a/> may come before it.
	alice.send(`<message to="` + bfull + `" type="chat" id="m1"><body>hi</body></message><r xmlns="` + nsSM + `"/>` +
		`<iq type="get" id="after-r"><query xmlns="urn:example:nothing"/></iq>`)
	bob.messages(1)
	if e := alice.element(); !strings.HasPrefix(e, "<iq") || !strings.Contains(e, `id="after-r"`) {
		t.Fatalf("sender got %s before its record was durable, want the IQ error first", e)
	}
	select {
	case <-g.entered:
	case <-time.After(ioTimeout):
		t.Fatal("the record was never committed")
	}
	close(g.gate)
	alice.expect(reAck(1))
	waitFor(t, ioTimeout, func() error {
		if ids := inflightIDs(t, store, "bob"); len(ids) != 1 {
			return fmt.Errorf("stored records %v, want one", ids)
		}
		return nil
	})

	bob.send(`<a xmlns="` + nsSM + `" h="1"/>`)
	waitFor(t, ioTimeout, func() error {
		if ids := inflightIDs(t, store, "bob"); len(ids) != 0 {
			return fmt.Errorf("records %v still stored after the recipient's ack", ids)
		}
		return nil
	})
	alice.closeStream()
	bob.closeStream()
}

// TestInflightPromptAckWritesNothing: a recipient that acknowledges
// within the linger cancels the record; the sender's ack still comes.
func TestInflightPromptAckWritesNothing(t *testing.T) {
	opt, journal, store := withJournal(t, 500*time.Millisecond, nil)
	ts := startServer(t, opt)
	bob, bfull, _ := smLogin(t, ts, "bob", "phone", false)
	alice, _, _ := smLogin(t, ts, "alice", "laptop", false)
	alice.send(`<message to="` + bfull + `" type="chat" id="m1"><body>hi</body></message><r xmlns="` + nsSM + `"/>`)
	bob.messages(1)
	bob.send(`<a xmlns="` + nsSM + `" h="1"/>`)
	alice.expect(reAck(1))
	if ids := inflightIDs(t, store, "bob"); len(ids) != 0 {
		t.Errorf("records %v were written though the recipient acked first", ids)
	}
	if n := journal.Added(); n != 1 {
		t.Errorf("journal added %d records, want 1", n)
	}
	alice.closeStream()
	bob.closeStream()
}

// TestInflightNoRecordWithoutSM: a recipient without stream management
// gets no record, and the sender's ack is not held back.
func TestInflightNoRecordWithoutSM(t *testing.T) {
	opt, journal, _ := withJournal(t, time.Hour, nil)
	ts := startServer(t, opt)
	bob, bfull := login(t, ts, "bob", "phone")
	alice, _, _ := smLogin(t, ts, "alice", "laptop", false)
	alice.send(`<message to="` + bfull + `" type="chat" id="m1"><body>hi</body></message><r xmlns="` + nsSM + `"/>`)
	bob.expect(regexp.MustCompile(`<message[^>]*id="m1"`))
	alice.expect(reAck(1)) // with an hour of linger, only if nothing waits
	if n := journal.Added(); n != 0 {
		t.Errorf("journal added %d records for a recipient without stream management", n)
	}
	alice.closeStream()
	bob.closeStream()
}

// TestInflightReleasedWhenRequeued: a session that ends with messages
// unacknowledged hands them back to the router and releases their
// records.
func TestInflightReleasedWhenRequeued(t *testing.T) {
	opt, journal, store := withJournal(t, -1, nil)
	ts := startServer(t, opt)
	bob, bfull, _ := smLogin(t, ts, "bob", "phone", false)
	alice, _, _ := smLogin(t, ts, "alice", "laptop", false)
	alice.sendMessages(bfull, "m", 1, 3)
	alice.send(`<r xmlns="` + nsSM + `"/>`)
	bob.messages(3)
	alice.expect(reAck(3))
	if ids := inflightIDs(t, store, "bob"); len(ids) != 3 {
		t.Fatalf("stored records %v, want 3", ids)
	}
	bob.closeStream() // without acking: the session ends, the messages are requeued
	waitFor(t, ioTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		if err := journal.WaitDurable(ctx, journal.Batch()); err != nil {
			return err
		}
		if ids := inflightIDs(t, store, "bob"); len(ids) != 0 {
			return fmt.Errorf("records %v still stored after the session ended", ids)
		}
		return nil
	})
	alice.closeStream()
}
