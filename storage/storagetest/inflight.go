package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
)

// inflightIDs reads every in-flight record, in pages of page, and returns
// the ids in the order they came.
func inflightIDs(ctx context.Context, t *testing.T, s storage.Store, page int) []int64 {
	t.Helper()
	var ids []int64
	var after int64
	for {
		recs, err := s.InflightMessages(ctx, after, page)
		if err != nil {
			t.Fatalf("InflightMessages(%d, %d) = %v", after, page, err)
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if page <= 0 || len(recs) < page {
			return ids
		}
		after = recs[len(recs)-1].ID
	}
}

func inflightRecord(id int64, user string, at time.Duration) storage.InflightMessage {
	return storage.InflightMessage{
		ID:   id,
		User: user,
		// Bytes no text column would keep: NUL, invalid UTF-8, and size.
		Stanza:  append([]byte(fmt.Sprintf("<message id='%d'><body>\x00\xff\xfe ", id)), bytes.Repeat([]byte("☎"), 100)...),
		Created: epoch.Add(at),
	}
}

func testInflight(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		ctx, s := fresh(t, open)
		if id, err := s.MaxInflightID(ctx); err != nil || id != 0 {
			t.Fatalf("MaxInflightID() on an empty store = %d, %v; want 0, nil", id, err)
		}
		want := []storage.InflightMessage{
			inflightRecord(7, "alice", 0),
			inflightRecord(8, "bob", time.Millisecond),
			inflightRecord(12, "alice", time.Second),
		}
		if err := s.UpdateInflight(ctx, want, nil); err != nil {
			t.Fatalf("UpdateInflight(3 added) = %v", err)
		}
		got, err := s.InflightMessages(ctx, 0, 0)
		if err != nil {
			t.Fatalf("InflightMessages(0, 0) = %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("InflightMessages(0, 0) returned %d records, want %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.ID != w.ID || g.User != w.User || !bytes.Equal(g.Stanza, w.Stanza) || !g.Created.Equal(w.Created) || g.Created.Location() != time.UTC {
				t.Errorf("record %d = %d %q %q %v, want %d %q %q %v (UTC)", i, g.ID, g.User, g.Stanza, g.Created, w.ID, w.User, w.Stanza, w.Created)
			}
		}
		if id, err := s.MaxInflightID(ctx); err != nil || id != 12 {
			t.Errorf("MaxInflightID() = %d, %v; want 12, nil", id, err)
		}
		if ids := inflightIDs(ctx, t, s, 0); !slices.Equal(ids, []int64{7, 8, 12}) {
			t.Errorf("ids = %v", ids)
		}
		if recs, err := s.InflightMessages(ctx, 8, 0); err != nil || len(recs) != 1 || recs[0].ID != 12 {
			t.Errorf("InflightMessages(after 8) = %d records, %v; want only 12", len(recs), err)
		}
	})

	t.Run("AddAndDeleteInOneCommit", func(t *testing.T) {
		ctx, s := fresh(t, open)
		if err := s.UpdateInflight(ctx, []storage.InflightMessage{inflightRecord(1, "a", 0), inflightRecord(2, "a", 0)}, nil); err != nil {
			t.Fatal(err)
		}
		// A later batch adds 3 and deletes 1 and an id that never existed.
		if err := s.UpdateInflight(ctx, []storage.InflightMessage{inflightRecord(3, "b", 0)}, []int64{1, 99}); err != nil {
			t.Fatalf("UpdateInflight(add 3, delete 1 and 99) = %v", err)
		}
		if ids := inflightIDs(ctx, t, s, 0); !slices.Equal(ids, []int64{2, 3}) {
			t.Errorf("ids = %v, want [2 3]", ids)
		}
		// Deleting only.
		if err := s.UpdateInflight(ctx, nil, []int64{2, 3}); err != nil {
			t.Fatal(err)
		}
		if ids := inflightIDs(ctx, t, s, 0); len(ids) != 0 {
			t.Errorf("ids after deleting all = %v", ids)
		}
		if err := s.UpdateInflight(ctx, nil, nil); err != nil {
			t.Errorf("UpdateInflight(nothing) = %v", err)
		}
	})

	t.Run("RetriedBatch", func(t *testing.T) {
		ctx, s := fresh(t, open)
		batch := []storage.InflightMessage{inflightRecord(5, "a", 0), inflightRecord(6, "a", 0)}
		for range 2 {
			if err := s.UpdateInflight(ctx, batch, nil); err != nil {
				t.Fatalf("UpdateInflight(the same batch) = %v, want nil (idempotent)", err)
			}
		}
		if ids := inflightIDs(ctx, t, s, 0); !slices.Equal(ids, []int64{5, 6}) {
			t.Errorf("ids = %v, want [5 6]", ids)
		}
	})

	t.Run("LargeBatchesAndPaging", func(t *testing.T) {
		ctx, s := fresh(t, open)
		// More rows than one INSERT statement takes, and more ids than one
		// DELETE does.
		const n = 1300
		add := make([]storage.InflightMessage, n)
		for i := range add {
			add[i] = inflightRecord(int64(i+1), fmt.Sprintf("u%d", i%7), time.Duration(i)*time.Millisecond)
		}
		if err := s.UpdateInflight(ctx, add, nil); err != nil {
			t.Fatalf("UpdateInflight(%d added) = %v", n, err)
		}
		ids := inflightIDs(ctx, t, s, 100)
		if len(ids) != n || !slices.IsSorted(ids) || ids[0] != 1 || ids[n-1] != n {
			t.Fatalf("paged ids: %d of them, sorted %v, want 1..%d", len(ids), slices.IsSorted(ids), n)
		}
		del := make([]int64, 0, n)
		for i := int64(1); i <= n; i += 2 {
			del = append(del, i)
		}
		if err := s.UpdateInflight(ctx, nil, del); err != nil {
			t.Fatalf("UpdateInflight(%d deleted) = %v", len(del), err)
		}
		if ids := inflightIDs(ctx, t, s, 0); len(ids) != n/2 || ids[0] != 2 {
			t.Errorf("after deleting the odd ids: %d left, first %v", len(ids), ids[:min(1, len(ids))])
		}
	})

	t.Run("DeleteUser", func(t *testing.T) {
		ctx, s := fresh(t, open)
		for _, u := range []string{"alice", "bob"} {
			if err := s.CreateUser(ctx, u, sampleCredentials(1)); err != nil {
				t.Fatal(err)
			}
		}
		add := []storage.InflightMessage{inflightRecord(1, "alice", 0), inflightRecord(2, "bob", 0), inflightRecord(3, "alice", 0)}
		if err := s.UpdateInflight(ctx, add, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if ids := inflightIDs(ctx, t, s, 0); !slices.Equal(ids, []int64{2}) {
			t.Errorf("ids after deleting alice = %v, want [2] (bob's)", ids)
		}
	})
}
