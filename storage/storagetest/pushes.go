package storagetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
)

// publishOptions is a XEP-0357 publish-options form as a client sends it.
const publishOptions = `<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="secret"><value>eruio234vzxc2kla-91</value></field></x>`

func equalRegistration(a, b storage.PushRegistration) bool {
	return a.Service == b.Service && a.Node == b.Node && bytes.Equal(a.Options, b.Options) &&
		(a.Options == nil) == (b.Options == nil) && a.Created.Equal(b.Created)
}

func mustPutPush(ctx context.Context, t *testing.T, s storage.Store, user string, r storage.PushRegistration) {
	t.Helper()
	if err := s.PutPushRegistration(ctx, user, r); err != nil {
		t.Fatalf("PutPushRegistration(%q, %q, %q) = %v, want nil", user, r.Service, r.Node, err)
	}
}

func mustDeletePushes(ctx context.Context, t *testing.T, s storage.Store, user, service, node string) {
	t.Helper()
	if err := s.DeletePushRegistrations(ctx, user, service, node); err != nil {
		t.Fatalf("DeletePushRegistrations(%q, %q, %q) = %v, want nil", user, service, node, err)
	}
}

// wantPushes checks the user's registrations, in order, by service and
// node ("service node").
func wantPushes(ctx context.Context, t *testing.T, s storage.Store, user string, want ...string) []storage.PushRegistration {
	t.Helper()
	regs, err := s.PushRegistrations(ctx, user)
	if err != nil {
		t.Fatalf("PushRegistrations(%q) = %v", user, err)
	}
	got := make([]string, len(regs))
	for i, r := range regs {
		got[i] = r.Service + " " + r.Node
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("PushRegistrations(%q) = %q, want %q", user, got, want)
	}
	return regs
}

func testPushes(t *testing.T, open Opener) {
	reg := func(service, node string, at time.Duration) storage.PushRegistration {
		return storage.PushRegistration{Service: service, Node: node, Options: []byte(publishOptions), Created: epoch.Add(at)}
	}
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s storage.Store)
	}{
		{"Empty", func(ctx context.Context, t *testing.T, s storage.Store) {
			if regs, err := s.PushRegistrations(ctx, "alice"); err != nil || len(regs) != 0 {
				t.Errorf("PushRegistrations(alice) = %v, %v; want none, nil", regs, err)
			}
		}},
		{"PutThenList", func(ctx context.Context, t *testing.T, s storage.Store) {
			want := []storage.PushRegistration{
				reg("push.example.com", "yxs32uqsflafdk3iuqo", 0),
				{Service: "pushapp@example.net/srv", Node: "n2", Created: epoch.Add(time.Second)},
			}
			for _, r := range want {
				mustPutPush(ctx, t, s, "alice", r)
			}
			got, err := s.PushRegistrations(ctx, "alice")
			if err != nil || !slices.EqualFunc(got, want, equalRegistration) {
				t.Errorf("PushRegistrations(alice) = %+v, %v; want %+v, nil", got, err, want)
			}
		}},
		{"PutReplaces", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPutPush(ctx, t, s, "alice", reg("push.example.com", "abc", 0))
			want := storage.PushRegistration{Service: "push.example.com", Node: "abc", Created: epoch.Add(time.Hour),
				Options: []byte(`<x xmlns="jabber:x:data" type="submit"><field var="secret"><value>new</value></field></x>`)}
			mustPutPush(ctx, t, s, "alice", want)
			got, err := s.PushRegistrations(ctx, "alice")
			if err != nil || len(got) != 1 || !equalRegistration(got[0], want) {
				t.Errorf("PushRegistrations(alice) = %+v, %v; want [%+v], nil", got, err, want)
			}
			// Replacing with no options drops the old ones.
			want.Options = nil
			mustPutPush(ctx, t, s, "alice", want)
			got, err = s.PushRegistrations(ctx, "alice")
			if err != nil || len(got) != 1 || !equalRegistration(got[0], want) {
				t.Errorf("PushRegistrations(alice) after replacing without options = %+v, %v; want [%+v], nil", got, err, want)
			}
		}},
		{"KeyIsServiceAndNode", func(ctx context.Context, t *testing.T, s storage.Store) {
			// Pairs that share a service, a node, or the concatenation
			// of both, and strings that a character collation would
			// fold together: all distinct registrations.
			in := []storage.PushRegistration{
				reg("push.example.com", "abc", 0),
				reg("push.example.com", "abd", time.Second),
				reg("push.example.net", "abc", 2*time.Second),
				reg("push.example.co", "mabc", 3*time.Second),
				reg("Push.example.com", "abc", 4*time.Second),
				reg("push.example.com", "ABC", 5*time.Second),
				reg("push.example.com", "äbc", 6*time.Second),
				reg("push.example.com", "abc ", 7*time.Second),
			}
			var want []string
			for _, r := range in {
				mustPutPush(ctx, t, s, "alice", r)
				want = append(want, r.Service+" "+r.Node)
			}
			wantPushes(ctx, t, s, "alice", want...)
		}},
		{"DeleteOne", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPutPush(ctx, t, s, "alice", reg("push.example.com", "a", 0))
			mustPutPush(ctx, t, s, "alice", reg("push.example.com", "b", time.Second))
			mustPutPush(ctx, t, s, "alice", reg("push.example.net", "a", 2*time.Second))
			for range 2 { // idempotent
				mustDeletePushes(ctx, t, s, "alice", "push.example.com", "a")
				wantPushes(ctx, t, s, "alice", "push.example.com b", "push.example.net a")
			}
		}},
		{"DeleteEveryNodeOfService", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPutPush(ctx, t, s, "alice", reg("push.example.com", "a", 0))
			mustPutPush(ctx, t, s, "alice", reg("push.example.net", "a", time.Second))
			mustPutPush(ctx, t, s, "alice", reg("push.example.com", "b", 2*time.Second))
			mustPutPush(ctx, t, s, "alice", reg("Push.example.com", "c", 3*time.Second))
			mustPutPush(ctx, t, s, "bob", reg("push.example.com", "a", 0))
			for range 2 { // idempotent
				mustDeletePushes(ctx, t, s, "alice", "push.example.com", "")
				wantPushes(ctx, t, s, "alice", "push.example.net a", "Push.example.com c")
			}
			wantPushes(ctx, t, s, "bob", "push.example.com a")
		}},
		{"DeleteAbsentIsNoError", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustDeletePushes(ctx, t, s, "alice", "push.example.com", "abc")
			mustDeletePushes(ctx, t, s, "alice", "push.example.com", "")
			wantPushes(ctx, t, s, "alice")
		}},
		{"OldestFirst", func(ctx context.Context, t *testing.T, s storage.Store) {
			// Inserted out of order, with services whose byte order
			// disagrees with their age.
			in := []storage.PushRegistration{
				reg("c.example", "n", 2*time.Second),
				reg("z.example", "n", -time.Hour),
				reg("b.example", "n", 3*time.Millisecond),
				reg("a.example", "n", 24*time.Hour),
				reg("d.example", "n", time.Millisecond),
			}
			for _, r := range in {
				mustPutPush(ctx, t, s, "alice", r)
			}
			want := slices.Clone(in)
			slices.SortFunc(want, func(a, b storage.PushRegistration) int { return a.Created.Compare(b.Created) })
			got, err := s.PushRegistrations(ctx, "alice")
			if err != nil || !slices.EqualFunc(got, want, equalRegistration) {
				t.Errorf("PushRegistrations(alice) = %+v, %v; want %+v, nil", got, err, want)
			}
		}},
		{"ReplacingMovesToItsNewAge", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPutPush(ctx, t, s, "alice", reg("a.example", "n", 0))
			mustPutPush(ctx, t, s, "alice", reg("b.example", "n", time.Second))
			mustPutPush(ctx, t, s, "alice", reg("a.example", "n", time.Minute))
			wantPushes(ctx, t, s, "alice", "b.example n", "a.example n")
		}},
		{"LongServiceAndNode", func(ctx context.Context, t *testing.T, s storage.Store) {
			// The longest JID RFC 7622 allows and a node far beyond any
			// index limit: the key must not be the strings themselves.
			service := strings.Repeat("l", 1023) + "@" + strings.Repeat("d", 1023) + "/" + strings.Repeat("r", 1023)
			node := strings.Repeat("nødé", 2048)
			for i, r := range []storage.PushRegistration{
				{Service: service, Node: node, Created: epoch},
				{Service: service, Node: node + "2", Created: epoch.Add(time.Second)},
			} {
				mustPutPush(ctx, t, s, "alice", r)
				got, err := s.PushRegistrations(ctx, "alice")
				if err != nil || len(got) != i+1 || got[i].Service != service || got[i].Node != r.Node {
					t.Errorf("PushRegistrations(alice) after %d long registrations = %d, %v; want them back", i+1, len(got), err)
				}
			}
			mustDeletePushes(ctx, t, s, "alice", service, node)
			wantPushes(ctx, t, s, "alice", service+" "+node+"2")
			mustDeletePushes(ctx, t, s, "alice", service, "")
			wantPushes(ctx, t, s, "alice")
		}},
		{"OptionsRoundTrip", func(ctx context.Context, t *testing.T, s storage.Store) {
			all := make([]byte, 0, 256*3)
			for i := range 256 * 3 {
				all = append(all, byte(i))
			}
			big := bytes.Repeat([]byte(`<field var="x"><value>ü😀</value></field>`), 4096) // > 64 KiB
			for _, opts := range [][]byte{nil, {}, all, big, []byte(publishOptions)} {
				mustPutPush(ctx, t, s, "alice", storage.PushRegistration{Service: "push.example.com", Node: "n", Options: opts, Created: epoch})
				got, err := s.PushRegistrations(ctx, "alice")
				switch {
				case err != nil || len(got) != 1:
					t.Errorf("PushRegistrations(alice) = %d registrations, %v; want one", len(got), err)
				case len(opts) == 0 && got[0].Options != nil:
					t.Errorf("Options stored as %d bytes %q came back as %q, want nil", len(opts), opts, got[0].Options)
				case !bytes.Equal(got[0].Options, opts):
					t.Errorf("Options of %d bytes came back as %d bytes, want them unchanged", len(opts), len(got[0].Options))
				}
			}
		}},
		{"CreatedSurvivesToTheMillisecond", func(ctx context.Context, t *testing.T, s storage.Store) {
			at := time.Date(2031, 12, 31, 23, 59, 59, 123456789, time.FixedZone("X", 5*3600))
			mustPutPush(ctx, t, s, "alice", storage.PushRegistration{Service: "push.example.com", Node: "n", Created: at})
			got, err := s.PushRegistrations(ctx, "alice")
			if err != nil || len(got) != 1 {
				t.Fatalf("PushRegistrations(alice) = %v, %v; want one", got, err)
			}
			if d := got[0].Created.Sub(at).Abs(); d >= time.Millisecond {
				t.Errorf("Created = %v, want %v to the millisecond", got[0].Created, at)
			}
		}},
		{"PerUser", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPutPush(ctx, t, s, "alice", reg("push.example.com", "a", 0))
			mustPutPush(ctx, t, s, "bob", reg("push.example.com", "b", 0))
			mustDeletePushes(ctx, t, s, "bob", "push.example.com", "a")
			wantPushes(ctx, t, s, "alice", "push.example.com a")
			wantPushes(ctx, t, s, "bob", "push.example.com b")
			// Usernames are compared as bytes.
			wantPushes(ctx, t, s, "Alice")
		}},
		{"DeleteUserRemovesThem", func(ctx context.Context, t *testing.T, s storage.Store) {
			for _, u := range []string{"alice", "bob"} {
				mustCreateUser(ctx, t, s, u)
				mustPutPush(ctx, t, s, u, reg("push.example.com", "a", 0))
				mustPutPush(ctx, t, s, u, reg("push.example.net", "b", 0))
			}
			if err := s.DeleteUser(ctx, "alice"); err != nil {
				t.Fatalf("DeleteUser(alice) = %v", err)
			}
			wantPushes(ctx, t, s, "alice")
			mustCreateUser(ctx, t, s, "alice")
			wantPushes(ctx, t, s, "alice")
			wantPushes(ctx, t, s, "bob", "push.example.com a", "push.example.net b")
		}},
		{"CancelledContext", func(ctx context.Context, t *testing.T, s storage.Store) {
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			r := reg("push.example.com", "a", 0)
			if err := s.PutPushRegistration(cancelled, "alice", r); !errors.Is(err, context.Canceled) {
				t.Errorf("PutPushRegistration(cancelled ctx) = %v, want context.Canceled", err)
			}
			if _, err := s.PushRegistrations(cancelled, "alice"); !errors.Is(err, context.Canceled) {
				t.Errorf("PushRegistrations(cancelled ctx) = %v, want context.Canceled", err)
			}
			wantPushes(ctx, t, s, "alice")
			mustPutPush(ctx, t, s, "alice", r)
			if err := s.DeletePushRegistrations(cancelled, "alice", "push.example.com", ""); !errors.Is(err, context.Canceled) {
				t.Errorf("DeletePushRegistrations(cancelled ctx) = %v, want context.Canceled", err)
			}
			wantPushes(ctx, t, s, "alice", "push.example.com a")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := fresh(t, open)
			tc.run(ctx, t, s)
		})
	}
}
