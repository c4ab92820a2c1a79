package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlstore"
	"github.com/ringd/ringd/storage/storagetest"
)

var _ storage.Store = (*Store)(nil)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "ringd.db"))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.RunSuite(t, func(t *testing.T) storage.Store { return openTemp(t) })
}

// TestTwoHandlesWriteConcurrently plays the server and the `ringd user`
// CLI: two independent Open()s of one file writing at the same time must
// all succeed, with no "database is locked".
func TestTwoHandlesWriteConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "ringd.db")
	ctx := t.Context()
	var handles [2]*Store
	for i := range handles {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open() #%d = %v", i+1, err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		})
		handles[i] = s
	}

	const writersPerHandle, ops = 4, 40
	errs := make(chan error, len(handles)*writersPerHandle)
	var wg sync.WaitGroup
	for h, s := range handles {
		for w := range writersPerHandle {
			wg.Go(func() {
				user := fmt.Sprintf("h%d-w%d", h, w)
				if err := s.CreateUser(ctx, user, storage.Credentials{Salt: []byte{1}, Iterations: 4096}); err != nil {
					errs <- err
					return
				}
				for i := range ops {
					// Both handles write one shared roster too, so they
					// contend on the same rows, not just the same file.
					for _, u := range []string{user, "shared"} {
						if _, err := s.PutRosterItem(ctx, u, storage.RosterItem{Contact: fmt.Sprintf("c%d@example.net", i)}); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "BUSY") {
			t.Errorf("lock contention surfaced as an error: %v", err)
		}
	}

	// Each handle sees everything the other wrote.
	const writers = len(handles) * writersPerHandle
	for i, s := range handles {
		if n, err := s.CountUsers(ctx); err != nil || n != writers {
			t.Errorf("handle %d: CountUsers() = %d, %v; want %d, nil", i+1, n, err, writers)
		}
		if v, err := s.RosterVersion(ctx, "shared"); err != nil || v != int64(writers*ops) {
			t.Errorf("handle %d: RosterVersion(shared) = %d, %v; want %d, nil", i+1, v, err, writers*ops)
		}
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name string
		path func(dir string) string
	}{
		{"NestedDirectories", func(dir string) string { return filepath.Join(dir, "a", "b", "c", "ringd.db") }},
		{"RelativePath", func(dir string) string {
			rel, err := filepath.Rel(mustGetwd(t), filepath.Join(dir, "rel.db"))
			if err != nil {
				t.Fatal(err)
			}
			return rel
		}},
		{"OddCharacters", func(dir string) string { return filepath.Join(dir, "what?#%20 ünï 😀", "ringd.db") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.path(dir)
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open(%q) = %v", path, err)
			}
			if err := s.CreateUser(t.Context(), "alice", storage.Credentials{Iterations: 1}); err != nil {
				t.Errorf("CreateUser() = %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
			// The data is in the file at path, not somewhere the DSN
			// made of it.
			st, err := os.Stat(path)
			if err != nil {
				t.Fatalf("Stat(%q) = %v", path, err)
			}
			if mode := st.Mode().Perm(); mode != 0o600 {
				t.Errorf("mode of %q = %v, want 0600", path, mode)
			}
			if head, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(head), "SQLite format 3\x00") {
				t.Errorf("%q does not hold the database (%d bytes, %v)", path, len(head), err)
			}
			s, err = Open(t.Context(), path)
			if err != nil {
				t.Fatalf("reopen(%q) = %v", path, err)
			}
			defer s.Close()
			if ok, err := s.UserExists(t.Context(), "alice"); err != nil || !ok {
				t.Errorf("UserExists(alice) after reopen = %v, %v; want true, nil", ok, err)
			}
		})
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestOpenRejectsMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:"} {
		if s, err := Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) = nil error, want one", path)
		}
	}
}

func TestPragmasOnEveryConnection(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := t.Context()
	db := s.DB()
	// Hold several connections at once so the pool must open new ones.
	var conns []interface{ Close() error }
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range maxConns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("Conn() #%d = %v", i, err)
		}
		conns = append(conns, c)
		for _, p := range []struct {
			pragma string
			want   string
		}{
			{"journal_mode", "wal"},
			{"busy_timeout", fmt.Sprint(busyTimeoutMS)},
			{"foreign_keys", "1"},
			{"synchronous", "2"},
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil || got != p.want {
				t.Errorf("connection %d: PRAGMA %s = %q, %v; want %q", i, p.pragma, got, err, p.want)
			}
		}
	}
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringd.db")
	ctx := t.Context()
	applied, err := Migrate(ctx, path)
	if err != nil || len(applied) == 0 {
		t.Fatalf("Migrate() on a new file = %d applied, %v; want all, nil", len(applied), err)
	}
	again, err := Migrate(ctx, path)
	if err != nil || len(again) != 0 {
		t.Errorf("second Migrate() = %d applied, %v; want 0, nil", len(again), err)
	}
	// Two processes starting at once both migrate; neither may fail.
	dir := t.TempDir()
	racePath := filepath.Join(dir, "race.db")
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			s, err := Open(ctx, racePath)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Errorf("racing Open() of a new file: %v", err)
	}
}

// TestUpgrade: a file at an older schema version gets the rest when
// opened, keeping its data.
func TestUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringd.db")
	ctx := t.Context()
	db, err := openDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sqlstore.SQLiteMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.Migrate(ctx, db, ms[:1]); err != nil {
		t.Fatalf("Migrate(first only) = %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (username, iterations, created_ms) VALUES ('alice', 1, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open() of an old schema = %v", err)
	}
	defer s.Close()
	if ok, err := s.UserExists(ctx, "alice"); err != nil || !ok {
		t.Errorf("UserExists(alice) after upgrade = %v, %v; want true", ok, err)
	}
	if _, err := s.PushOffline(ctx, "alice", []byte("<message/>"), time.Now(), 1); err != nil {
		t.Errorf("PushOffline() after upgrade = %v", err)
	}
}

func TestDialectClassifiesErrors(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := context.Background()
	db := s.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES ('a', 'x', 'n')`); err != nil {
		t.Fatal(err)
	}
	d := Dialect()
	tests := []struct {
		name      string
		sql       string
		conflict  bool
		retryable bool
	}{
		{"PrimaryKey", `INSERT INTO t VALUES ('a', 'y', 'n')`, true, false},
		{"Unique", `INSERT INTO t VALUES ('b', 'x', 'n')`, true, false},
		{"NotNull", `INSERT INTO t VALUES ('c', 'z', NULL)`, false, false},
		{"Syntax", `INSERT INTO`, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.ExecContext(ctx, tc.sql)
			if err == nil {
				t.Fatalf("Exec(%q) = nil, want an error", tc.sql)
			}
			wrapped := fmt.Errorf("layer: %w", err)
			if got := d.IsConflict(wrapped); got != tc.conflict {
				t.Errorf("IsConflict(%v) = %v, want %v", err, got, tc.conflict)
			}
			if got := d.IsRetryable(wrapped); got != tc.retryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, got, tc.retryable)
			}
		})
	}
	if d.IsConflict(errors.New("x")) || d.IsRetryable(errors.New("x")) {
		t.Error("a non-SQLite error was classified")
	}
}

// The behaviours below are sqlstore's choices where the storage contract is
// silent, so they are tested here rather than in the conformance suite.

func TestPutRosterItemRejectsInvalidUTF8(t *testing.T) {
	tests := []struct {
		name string
		item storage.RosterItem
	}{
		{"Name", storage.RosterItem{Contact: "bob@example.net", Name: "b\xffb"}},
		{"Group", storage.RosterItem{Contact: "bob@example.net", Groups: []string{"ok", "\xc3("}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t)
			defer s.Close()
			if _, err := s.PutRosterItem(t.Context(), "alice", tc.item); err == nil {
				t.Errorf("PutRosterItem(%+v) = nil error, want one", tc.item)
			}
			if v, err := s.RosterVersion(t.Context(), "alice"); err != nil || v != 0 {
				t.Errorf("RosterVersion(alice) = %d, %v; want 0, nil", v, err)
			}
		})
	}
}

// TestCreateUserStartsEmpty: rows written for a user that did not exist
// (a roster write racing DeleteUser) are not inherited by a new account of
// that name.
func TestCreateUserStartsEmpty(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := t.Context()
	if _, err := s.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: "bob@example.net"}); err != nil {
		t.Fatalf("PutRosterItem(alice) without account = %v, want nil", err)
	}
	if err := s.PutSubscriptionRequest(ctx, "alice", storage.SubscriptionRequest{Contact: "bob@example.net", Stanza: []byte("<presence/>")}); err != nil {
		t.Fatalf("PutSubscriptionRequest(alice) without account = %v, want nil", err)
	}
	if _, err := s.PushOffline(ctx, "alice", []byte("<message/>"), time.Now(), 1); err != nil {
		t.Fatalf("PushOffline(alice) without account = %v, want nil", err)
	}
	if err := s.CreateUser(ctx, "alice", storage.Credentials{Iterations: 1}); err != nil {
		t.Fatalf("CreateUser(alice) = %v", err)
	}
	if items, ver, err := s.Roster(ctx, "alice"); err != nil || len(items) != 0 || ver != 0 {
		t.Errorf("Roster(alice) = %d items, version %d, %v; want 0, 0, nil", len(items), ver, err)
	}
	if n, err := s.CountOffline(ctx, "alice"); err != nil || n != 0 {
		t.Errorf("CountOffline(alice) = %d, %v; want 0, nil", n, err)
	}
	// The quota is whole again.
	if _, err := s.PushOffline(ctx, "alice", []byte("<message/>"), time.Now(), 1); err != nil {
		t.Errorf("PushOffline(alice) = %v, want nil", err)
	}
	if reqs, err := s.SubscriptionRequests(ctx, "alice"); err != nil || len(reqs) != 0 {
		t.Errorf("SubscriptionRequests(alice) = %d, %v; want 0, nil", len(reqs), err)
	}
}
