package storagetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ringd/ringd/storage"
)

func testRosters(t *testing.T, open Opener) {
	carol := storage.RosterItem{
		Contact:      "carol@example.net",
		Name:         "Carol",
		Subscription: storage.SubBoth,
		Groups:       []string{"Friends", "Work"},
	}
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s storage.Store)
	}{
		{"Empty", func(ctx context.Context, t *testing.T, s storage.Store) {
			items, ver, err := s.Roster(ctx, "alice")
			if err != nil || len(items) != 0 || ver != 0 {
				t.Errorf("Roster(alice) = %v, %d, %v; want none, 0, nil", items, ver, err)
			}
			wantVersion(ctx, t, s, "alice", 0)
			if _, err := s.RosterItem(ctx, "alice", carol.Contact); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("RosterItem(alice, carol) = %v, want ErrNotFound", err)
			}
		}},
		{"PutThenGet", func(ctx context.Context, t *testing.T, s storage.Store) {
			if v := mustPut(ctx, t, s, "alice", carol); v != 1 {
				t.Errorf("PutRosterItem(alice, carol) = %d, want 1", v)
			}
			if got, err := s.RosterItem(ctx, "alice", carol.Contact); err != nil || !equalItem(got, carol) {
				t.Errorf("RosterItem(alice, carol) = %+v, %v; want %+v, nil", got, err, carol)
			}
			items, ver, err := s.Roster(ctx, "alice")
			if err != nil || ver != 1 || !equalItems(items, []storage.RosterItem{carol}) {
				t.Errorf("Roster(alice) = %+v, %d, %v; want [%+v], 1, nil", items, ver, err, carol)
			}
		}},
		{"PutReplaces", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPut(ctx, t, s, "alice", carol)
			changed := storage.RosterItem{
				Contact:      carol.Contact,
				Name:         "Carol C.",
				Subscription: storage.SubFrom,
				Ask:          true,
				Groups:       []string{"Family"},
			}
			if v := mustPut(ctx, t, s, "alice", changed); v != 2 {
				t.Errorf("second PutRosterItem(alice, carol) = %d, want 2", v)
			}
			items, ver, err := s.Roster(ctx, "alice")
			if err != nil || ver != 2 || !equalItems(items, []storage.RosterItem{changed}) {
				t.Errorf("Roster(alice) = %+v, %d, %v; want [%+v], 2, nil", items, ver, err, changed)
			}
		}},
		{"PutSameItemStillBumpsVersion", func(ctx context.Context, t *testing.T, s storage.Store) {
			for want := int64(1); want <= 3; want++ {
				if v := mustPut(ctx, t, s, "alice", carol); v != want {
					t.Errorf("PutRosterItem(alice, carol) #%d = %d, want %d", want, v, want)
				}
			}
		}},
		{"Delete", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPut(ctx, t, s, "alice", carol)
			dave := storage.RosterItem{Contact: "dave@example.net", Subscription: storage.SubNone}
			mustPut(ctx, t, s, "alice", dave)
			v, err := s.DeleteRosterItem(ctx, "alice", carol.Contact)
			if err != nil || v != 3 {
				t.Errorf("DeleteRosterItem(alice, carol) = %d, %v; want 3, nil", v, err)
			}
			if _, err := s.RosterItem(ctx, "alice", carol.Contact); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("RosterItem(alice, carol) after delete = %v, want ErrNotFound", err)
			}
			items, ver, err := s.Roster(ctx, "alice")
			if err != nil || ver != 3 || !equalItems(items, []storage.RosterItem{dave}) {
				t.Errorf("Roster(alice) = %+v, %d, %v; want [dave], 3, nil", items, ver, err)
			}
		}},
		{"DeleteMissing", func(ctx context.Context, t *testing.T, s storage.Store) {
			if _, err := s.DeleteRosterItem(ctx, "alice", carol.Contact); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("DeleteRosterItem(alice, carol) on empty roster = %v, want ErrNotFound", err)
			}
			wantVersion(ctx, t, s, "alice", 0)
			mustPut(ctx, t, s, "alice", carol)
			if _, err := s.DeleteRosterItem(ctx, "alice", "dave@example.net"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("DeleteRosterItem(alice, dave) = %v, want ErrNotFound", err)
			}
			wantVersion(ctx, t, s, "alice", 1)
		}},
		{"VersionCountsEveryChange", func(ctx context.Context, t *testing.T, s storage.Store) {
			steps := []struct {
				put     bool
				contact string
			}{
				{true, "a@example.net"}, {true, "b@example.net"}, {true, "a@example.net"},
				{false, "b@example.net"}, {true, "c@example.net"}, {false, "a@example.net"},
				{false, "c@example.net"}, {true, "a@example.net"},
			}
			for i, st := range steps {
				want := int64(i + 1)
				var (
					got int64
					err error
				)
				if st.put {
					got, err = s.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: st.contact, Subscription: storage.SubNone})
				} else {
					got, err = s.DeleteRosterItem(ctx, "alice", st.contact)
				}
				if err != nil || got != want {
					t.Fatalf("step %d (put=%v %s) = %d, %v; want %d, nil", i, st.put, st.contact, got, err, want)
				}
				wantVersion(ctx, t, s, "alice", want)
			}
		}},
		{"VersionIsPerUser", func(ctx context.Context, t *testing.T, s storage.Store) {
			for range 3 {
				mustPut(ctx, t, s, "alice", carol)
			}
			if v := mustPut(ctx, t, s, "bob", carol); v != 1 {
				t.Errorf("PutRosterItem(bob, carol) = %d, want 1", v)
			}
			wantVersion(ctx, t, s, "alice", 3)
			wantVersion(ctx, t, s, "bob", 1)
			wantVersion(ctx, t, s, "böb", 0)
		}},
		{"RostersArePerUser", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPut(ctx, t, s, "alice", carol)
			if items, _, err := s.Roster(ctx, "bob"); err != nil || len(items) != 0 {
				t.Errorf("Roster(bob) = %+v, %v; want none, nil", items, err)
			}
			if _, err := s.RosterItem(ctx, "bob", carol.Contact); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("RosterItem(bob, carol) = %v, want ErrNotFound", err)
			}
			if _, err := s.DeleteRosterItem(ctx, "bob", carol.Contact); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("DeleteRosterItem(bob, carol) = %v, want ErrNotFound", err)
			}
		}},
		{"OrderedByContact", func(ctx context.Context, t *testing.T, s storage.Store) {
			cs := []string{"zed@example.net", "bob@example.net", "böb@example.net", "Bob@example.net", "alice@a.example", "example.org", "日本@example.jp"}
			for _, c := range cs {
				mustPut(ctx, t, s, "alice", storage.RosterItem{Contact: c, Subscription: storage.SubNone})
			}
			want := slices.Clone(cs)
			slices.SortFunc(want, strings.Compare)
			items, _, err := s.Roster(ctx, "alice")
			if got := contacts(items); err != nil || !slices.Equal(got, want) {
				t.Errorf("Roster(alice) contacts = %q, %v; want %q, nil", got, err, want)
			}
		}},
		{"ContactsAreBytes", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustPut(ctx, t, s, "alice", storage.RosterItem{Contact: "bob@example.net", Name: "plain"})
			mustPut(ctx, t, s, "alice", storage.RosterItem{Contact: "böb@example.net", Name: "umlaut"})
			for c, name := range map[string]string{"bob@example.net": "plain", "böb@example.net": "umlaut"} {
				if got, err := s.RosterItem(ctx, "alice", c); err != nil || got.Name != name {
					t.Errorf("RosterItem(alice, %q) = %+v, %v; want Name %q", c, got, err, name)
				}
			}
		}},
		{"Fields", func(ctx context.Context, t *testing.T, s storage.Store) {
			items := []storage.RosterItem{
				{Contact: "none@example.net", Subscription: storage.SubNone},
				{Contact: "to@example.net", Subscription: storage.SubTo, Approved: true},
				{Contact: "from@example.net", Subscription: storage.SubFrom, Ask: true},
				{Contact: "both@example.net", Subscription: storage.SubBoth, Ask: true, Approved: true},
				{Contact: "emoji@example.net", Name: "Mom 👩‍👧 ❤️", Subscription: storage.SubNone},
				{Contact: "xml@example.net", Name: `<b>"A" & 'B'</b>`, Subscription: storage.SubNone},
				{Contact: "long@example.net", Name: strings.Repeat("ж", 1000), Subscription: storage.SubNone},
				{Contact: "groups@example.net", Subscription: storage.SubNone,
					// Order is the client's, not sorted; case and
					// accents distinguish groups.
					Groups: []string{"Zebra", "äpfel", "Family 👪", "日本の友達", "a", "A", `"quoted", [bracketed]`, "<xml & co>", `back\slash`}},
				{Contact: "nogroups@example.net", Subscription: storage.SubNone, Groups: []string{}},
			}
			for _, it := range items {
				t.Run(it.Contact, func(t *testing.T) {
					mustPut(ctx, t, s, "alice", it)
					if got, err := s.RosterItem(ctx, "alice", it.Contact); err != nil || !equalItem(got, it) {
						t.Errorf("RosterItem(alice, %q) = %+v, %v; want %+v, nil", it.Contact, got, err, it)
					}
				})
			}
			got, _, err := s.Roster(ctx, "alice")
			want := slices.Clone(items)
			slices.SortFunc(want, func(a, b storage.RosterItem) int { return strings.Compare(a.Contact, b.Contact) })
			if err != nil || !equalItems(got, want) {
				t.Errorf("Roster(alice) = %+v, %v; want %+v, nil", got, err, want)
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
