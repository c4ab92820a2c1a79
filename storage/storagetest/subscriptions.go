package storagetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
)

// epoch is a millisecond-aligned instant for requests whose Created must
// round-trip exactly.
var epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func equalRequest(a, b storage.SubscriptionRequest) bool {
	return a.Contact == b.Contact && bytes.Equal(a.Stanza, b.Stanza) && a.Created.Equal(b.Created)
}

func testSubscriptionRequests(t *testing.T, open Opener) {
	req := func(contact string, at time.Duration) storage.SubscriptionRequest {
		return storage.SubscriptionRequest{
			Contact: contact,
			Stanza:  []byte(`<presence from="` + contact + `" to="alice@example.com" type="subscribe"/>`),
			Created: epoch.Add(at),
		}
	}
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s storage.Store)
	}{
		{"Empty", func(ctx context.Context, t *testing.T, s storage.Store) {
			if reqs, err := s.SubscriptionRequests(ctx, "alice"); err != nil || len(reqs) != 0 {
				t.Errorf("SubscriptionRequests(alice) = %v, %v; want none, nil", reqs, err)
			}
			if ok, err := s.HasSubscriptionRequest(ctx, "alice", "bob@example.net"); err != nil || ok {
				t.Errorf("HasSubscriptionRequest(alice, bob) = %v, %v; want false, nil", ok, err)
			}
		}},
		{"PutThenList", func(ctx context.Context, t *testing.T, s storage.Store) {
			want := req("bob@example.net", 0)
			mustPutRequest(ctx, t, s, "alice", want)
			reqs, err := s.SubscriptionRequests(ctx, "alice")
			if err != nil || len(reqs) != 1 || !equalRequest(reqs[0], want) {
				t.Errorf("SubscriptionRequests(alice) = %+v, %v; want [%+v], nil", reqs, err, want)
			}
			if ok, err := s.HasSubscriptionRequest(ctx, "alice", "bob@example.net"); err != nil || !ok {
				t.Errorf("HasSubscriptionRequest(alice, bob) = %v, %v; want true, nil", ok, err)
			}
		}},
		{"PutReplaces", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPutRequest(ctx, t, s, "alice", req("bob@example.net", 0))
			want := storage.SubscriptionRequest{Contact: "bob@example.net", Stanza: []byte("<presence type='subscribe'><status>again</status></presence>"), Created: epoch.Add(time.Hour)}
			mustPutRequest(ctx, t, s, "alice", want)
			reqs, err := s.SubscriptionRequests(ctx, "alice")
			if err != nil || len(reqs) != 1 || !equalRequest(reqs[0], want) {
				t.Errorf("SubscriptionRequests(alice) = %+v, %v; want [%+v], nil", reqs, err, want)
			}
		}},
		{"DeleteIsIdempotent", func(ctx context.Context, t *testing.T, s storage.Store) {
			if err := s.DeleteSubscriptionRequest(ctx, "alice", "bob@example.net"); err != nil {
				t.Errorf("DeleteSubscriptionRequest(alice, bob) when absent = %v, want nil", err)
			}
			mustPutRequest(ctx, t, s, "alice", req("bob@example.net", 0))
			mustPutRequest(ctx, t, s, "alice", req("carol@example.net", 0))
			for i := range 2 {
				if err := s.DeleteSubscriptionRequest(ctx, "alice", "bob@example.net"); err != nil {
					t.Errorf("DeleteSubscriptionRequest(alice, bob) #%d = %v, want nil", i+1, err)
				}
			}
			if ok, err := s.HasSubscriptionRequest(ctx, "alice", "bob@example.net"); err != nil || ok {
				t.Errorf("HasSubscriptionRequest(alice, bob) after delete = %v, %v; want false, nil", ok, err)
			}
			if ok, err := s.HasSubscriptionRequest(ctx, "alice", "carol@example.net"); err != nil || !ok {
				t.Errorf("HasSubscriptionRequest(alice, carol) = %v, %v; want true, nil", ok, err)
			}
		}},
		{"OldestFirst", func(ctx context.Context, t *testing.T, s storage.Store) {
			// Inserted out of order, and with contacts whose byte order
			// disagrees with their age.
			in := []storage.SubscriptionRequest{
				req("carol@example.net", 2*time.Second),
				req("zed@example.net", -time.Hour),
				req("bob@example.net", 3*time.Millisecond),
				req("alice@example.net", 24*time.Hour),
				req("dave@example.net", time.Millisecond),
			}
			for _, r := range in {
				mustPutRequest(ctx, t, s, "alice", r)
			}
			want := slices.Clone(in)
			slices.SortFunc(want, func(a, b storage.SubscriptionRequest) int { return a.Created.Compare(b.Created) })
			got, err := s.SubscriptionRequests(ctx, "alice")
			if err != nil || !slices.EqualFunc(got, want, equalRequest) {
				t.Errorf("SubscriptionRequests(alice) = %+v, %v; want %+v, nil", got, err, want)
			}
		}},
		{"ReplacingMovesToItsNewAge", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPutRequest(ctx, t, s, "alice", req("bob@example.net", 0))
			mustPutRequest(ctx, t, s, "alice", req("carol@example.net", time.Second))
			mustPutRequest(ctx, t, s, "alice", req("bob@example.net", time.Minute))
			got, err := s.SubscriptionRequests(ctx, "alice")
			want := []string{"carol@example.net", "bob@example.net"}
			var gotContacts []string
			for _, r := range got {
				gotContacts = append(gotContacts, r.Contact)
			}
			if err != nil || !slices.Equal(gotContacts, want) {
				t.Errorf("SubscriptionRequests(alice) contacts = %q, %v; want %q, nil", gotContacts, err, want)
			}
		}},
		{"StanzaBytesRoundTrip", func(ctx context.Context, t *testing.T, s storage.Store) {
			all := make([]byte, 0, 256*3)
			for i := range 256 * 3 {
				all = append(all, byte(i))
			}
			big := bytes.Repeat([]byte("<presence>ü😀</presence>"), 4096) // > 64 KiB
			for _, st := range [][]byte{all, big, []byte("<presence xmlns='jabber:client' type='subscribe'><nick xmlns='http://jabber.org/protocol/nick'>Bøb 😀</nick></presence>")} {
				r := storage.SubscriptionRequest{Contact: "bob@example.net", Stanza: st, Created: epoch}
				mustPutRequest(ctx, t, s, "alice", r)
				got, err := s.SubscriptionRequests(ctx, "alice")
				if err != nil || len(got) != 1 || !bytes.Equal(got[0].Stanza, st) {
					t.Errorf("SubscriptionRequests(alice) after storing %d bytes = %d requests, %v; want the bytes back", len(st), len(got), err)
				}
			}
		}},
		{"CreatedSurvivesToTheMillisecond", func(ctx context.Context, t *testing.T, s storage.Store) {
			at := time.Date(2031, 12, 31, 23, 59, 59, 123456789, time.FixedZone("X", 5*3600))
			mustPutRequest(ctx, t, s, "alice", storage.SubscriptionRequest{Contact: "bob@example.net", Stanza: []byte("<presence/>"), Created: at})
			got, err := s.SubscriptionRequests(ctx, "alice")
			if err != nil || len(got) != 1 {
				t.Fatalf("SubscriptionRequests(alice) = %v, %v; want one request", got, err)
			}
			if d := got[0].Created.Sub(at).Abs(); d >= time.Millisecond {
				t.Errorf("Created = %v, want %v to the millisecond", got[0].Created, at)
			}
		}},
		{"PerUser", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPutRequest(ctx, t, s, "alice", req("carol@example.net", 0))
			mustPutRequest(ctx, t, s, "bob", req("dave@example.net", 0))
			if ok, err := s.HasSubscriptionRequest(ctx, "bob", "carol@example.net"); err != nil || ok {
				t.Errorf("HasSubscriptionRequest(bob, carol) = %v, %v; want false, nil", ok, err)
			}
			if err := s.DeleteSubscriptionRequest(ctx, "bob", "carol@example.net"); err != nil {
				t.Errorf("DeleteSubscriptionRequest(bob, carol) = %v, want nil", err)
			}
			for user, contact := range map[string]string{"alice": "carol@example.net", "bob": "dave@example.net"} {
				got, err := s.SubscriptionRequests(ctx, user)
				if err != nil || len(got) != 1 || got[0].Contact != contact {
					t.Errorf("SubscriptionRequests(%q) = %+v, %v; want one from %q", user, got, err, contact)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := fresh(t, open)
			tc.run(ctx, t, s)
		})
	}
}
