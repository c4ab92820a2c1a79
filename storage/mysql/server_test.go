package mysql

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlstore"
)

// The tests here need a server (see testDSN) and check what the conformance
// suite cannot: session settings, migrations under the lock, MySQL's
// collation traps, error classification and reconnection.

// TestOpenForcesSessionSettings: every pooled connection has the settings
// Open promises, even when the DSN asks for others.
func TestOpenForcesSessionSettings(t *testing.T) {
	dsn := freshDSN(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Params = map[string]string{"sql_mode": "''", "innodb_lock_wait_timeout": "50"}
	contrary := cfg.FormatDSN() + "&parseTime=false&charset=latin1&collation=latin1_swedish_ci"
	const conns = 3
	s, err := Open(t.Context(), contrary, Options{MaxOpenConns: conns, LockWaitTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	var held []interface{ Close() error }
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		var cs, coll, mode string
		var wait int
		var now time.Time // scans only with parseTime
		err = c.QueryRowContext(ctx, `SELECT @@character_set_client, @@collation_connection, @@sql_mode, @@innodb_lock_wait_timeout, NOW()`).
			Scan(&cs, &coll, &mode, &wait, &now)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if cs != "utf8mb4" || coll != "utf8mb4_bin" || !strings.Contains(mode, "STRICT_ALL_TABLES") || wait != 2 {
			t.Errorf("connection %d: charset %s, collation %s, sql_mode %s, lock wait %d s; want utf8mb4, utf8mb4_bin, strict, 2",
				i, cs, coll, mode, wait)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dsn := testDSN(t)
	base, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "not-the-pa55word"
	tests := []struct {
		name   string
		mutate func(c *mysql.Config)
	}{
		{"WrongPassword", func(c *mysql.Config) { c.Passwd = secret }},
		{"NoSuchDatabase", func(c *mysql.Config) { c.DBName = "ringd_test_does_not_exist" }},
		{"NoDatabase", func(c *mysql.Config) { c.DBName = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base.Clone()
			tc.mutate(c)
			s, err := Open(t.Context(), c.FormatDSN(), Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open() = nil error, want one")
			}
			for _, leak := range []string{secret, base.Passwd} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("Open() error %q reveals a password", err)
				}
			}
		})
	}
}

// TestMigrate: concurrent Migrate calls (a server and `ringd migrate`
// starting together) apply each migration exactly once.
func TestMigrate(t *testing.T) {
	dsn := freshDSN(t)
	ctx := t.Context()
	all, err := sqlstore.MySQLMigrations()
	if err != nil {
		t.Fatal(err)
	}
	const racers = 4
	applied := make([][]sqlstore.Migration, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { applied[i], errs[i] = Migrate(ctx, dsn) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("racing Migrate(): %v", err)
	}
	var versions []int64
	for _, ms := range applied {
		for _, m := range ms {
			versions = append(versions, m.Version)
		}
	}
	slices.Sort(versions)
	var want []int64
	for _, m := range all {
		want = append(want, m.Version)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("racing Migrate() applied versions %v between them, want each of %v once", versions, want)
	}
	again, err := Migrate(ctx, dsn)
	if err != nil || len(again) != 0 {
		t.Errorf("Migrate() again = %d applied, %v; want 0, nil", len(again), err)
	}
	s, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("Open() after Migrate() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

// TestUpgrade: a database at an older schema version gets the rest when
// opened, keeping its data.
func TestUpgrade(t *testing.T) {
	dsn := freshDSN(t)
	ctx := t.Context()
	ms, err := sqlstore.MySQLMigrations()
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := openDB(ctx, dsn, Options{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.Migrate(ctx, db, ms[:1]); err != nil {
		t.Fatalf("Migrate(first only) = %v", err)
	}
	// Today's CreateUser would touch tables the old schema lacks.
	if _, err := db.ExecContext(ctx, `INSERT INTO users (username, iterations, created_ms) VALUES ('alice', 1, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("Open() of an old schema = %v", err)
	}
	defer s.Close()
	if ok, err := s.UserExists(ctx, "alice"); err != nil || !ok {
		t.Errorf("UserExists(alice) after upgrade = %v, %v; want true", ok, err)
	}
	if _, err := s.PushOffline(ctx, "alice", []byte("<message/>"), epochMS, 1); err != nil {
		t.Errorf("PushOffline() after upgrade = %v", err)
	}
}

// TestMigrateWaitsForLock: a migration does not start while another
// process holds the database's migration lock.
func TestMigrateWaitsForLock(t *testing.T) {
	dsn := freshDSN(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	other := admin(t)
	holder, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	name := migrateLockName(cfg.DBName)
	var got int
	if err := holder.QueryRowContext(ctx, "SELECT GET_LOCK(?, 5)", name).Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK(%q) = %d, %v", name, got, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Migrate(ctx, dsn)
		done <- err
	}()
	// Wait until the migration is seen waiting for the lock.
	waitFor(t, "Migrate to wait for the lock", func() bool {
		var n int
		err := other.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.processlist
			WHERE db = ? AND info LIKE 'SELECT GET_LOCK%'`, cfg.DBName).Scan(&n)
		return err == nil && n > 0
	})
	var tables int
	if err := other.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?`, cfg.DBName).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("while the lock is held the database has %d tables (%v), want 0", tables, err)
	}
	if err := holder.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", name).Scan(&got); err != nil || got != 1 {
		t.Fatalf("RELEASE_LOCK() = %d, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Migrate() after the lock was released = %v", err)
	}
}

// waitFor polls cond until it holds, failing t after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCollationTraps: MySQL's default collations would make these equal.
func TestCollationTraps(t *testing.T) {
	s := openFresh(t, Options{})
	defer s.Close()
	ctx := t.Context()
	t.Run("DistinctUsers", func(t *testing.T) {
		users := []string{"BOB", "böb", "bob", "bob ", "bo\u0308b"}
		for i, u := range users {
			if err := s.CreateUser(ctx, u, storage.Credentials{Iterations: i + 1}); err != nil {
				t.Fatalf("CreateUser(%q) = %v", u, err)
			}
		}
		for i, u := range users {
			c, err := s.Credentials(ctx, u)
			if err != nil || c.Iterations != i+1 {
				t.Errorf("Credentials(%q) = %d iterations, %v; want its own (%d)", u, c.Iterations, err, i+1)
			}
		}
		got, err := s.ListUsers(ctx)
		want := slices.Clone(users)
		slices.Sort(want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ListUsers() = %q, %v; want %q in byte order", got, err, want)
		}
	})
	t.Run("DistinctContacts", func(t *testing.T) {
		contacts := []string{"BOB@example.net", "böb@example.net", "bob@example.net"}
		for _, c := range contacts {
			if _, err := s.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: c, Name: c}); err != nil {
				t.Fatalf("PutRosterItem(%q) = %v", c, err)
			}
		}
		items, ver, err := s.Roster(ctx, "alice")
		if err != nil || len(items) != 3 || ver != 3 {
			t.Fatalf("Roster(alice) = %d items, version %d, %v; want 3, 3", len(items), ver, err)
		}
		for _, it := range items {
			if it.Name != it.Contact {
				t.Errorf("item %q has the name %q of another", it.Contact, it.Name)
			}
		}
	})
	t.Run("EmojiNames", func(t *testing.T) {
		// Four-byte UTF-8 needs utf8mb4 all the way: column, connection
		// and results.
		item := storage.RosterItem{
			Contact: "carol@example.net",
			Name:    "Carol 👩‍🚀🚀 𝄞 日本",
			Groups:  []string{"Family 👪", "🏳️‍🌈"},
		}
		if _, err := s.PutRosterItem(ctx, "alice", item); err != nil {
			t.Fatalf("PutRosterItem() = %v", err)
		}
		got, err := s.RosterItem(ctx, "alice", item.Contact)
		if err != nil || got.Name != item.Name || !slices.Equal(got.Groups, item.Groups) {
			t.Errorf("RosterItem() = %q %q, %v; want %q %q", got.Name, got.Groups, err, item.Name, item.Groups)
		}
		// And the server holds the characters, not mojibake: a character
		// collation sees four characters in "👩‍🚀🚀" only if stored right.
		var n int
		err = s.DB().QueryRowContext(ctx, `SELECT CHAR_LENGTH(name) FROM roster_items WHERE username = ? AND contact = ?`, "alice", item.Contact).Scan(&n)
		if want := len([]rune(item.Name)); err != nil || n != want {
			t.Errorf("CHAR_LENGTH(name) = %d, %v; want %d", n, err, want)
		}
	})
}

// TestDialectClassifiesErrors provokes each error for real.
func TestDialectClassifiesErrors(t *testing.T) {
	s := openFresh(t, Options{LockWaitTimeout: time.Second})
	defer s.Close()
	ctx := t.Context()
	db := s.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES (1, 0), (2, 0)`); err != nil {
		t.Fatal(err)
	}
	d := Dialect()
	tests := []struct {
		name                 string
		provoke              func(t *testing.T) error
		conflict, retry, con bool
	}{
		{"DuplicateKey", func(t *testing.T) error {
			_, err := db.ExecContext(ctx, `INSERT INTO t VALUES (1, 1)`)
			return err
		}, true, false, false},
		{"NotNull", func(t *testing.T) error {
			_, err := db.ExecContext(ctx, `INSERT INTO t VALUES (3, NULL)`)
			return err
		}, false, false, false},
		{"Syntax", func(t *testing.T) error {
			_, err := db.ExecContext(ctx, `INSERT INTO`)
			return err
		}, false, false, false},
		{"LockWaitTimeout", func(t *testing.T) error {
			a, b := begin(t, db), begin(t, db)
			defer a.Rollback()
			defer b.Rollback()
			mustExec(t, a, `UPDATE t SET v = v + 1 WHERE k = 1`)
			_, err := b.ExecContext(ctx, `UPDATE t SET v = v + 1 WHERE k = 1`)
			return err
		}, false, true, false},
		{"Deadlock", func(t *testing.T) error {
			a, b := begin(t, db), begin(t, db)
			defer a.Rollback()
			defer b.Rollback()
			mustExec(t, a, `UPDATE t SET v = v + 1 WHERE k = 1`)
			mustExec(t, b, `UPDATE t SET v = v + 1 WHERE k = 2`)
			errs := make(chan error, 2)
			go func() { _, err := a.ExecContext(ctx, `UPDATE t SET v = v + 1 WHERE k = 2`); errs <- err }()
			go func() { _, err := b.ExecContext(ctx, `UPDATE t SET v = v + 1 WHERE k = 1`); errs <- err }()
			// One is the victim; the other then gets its lock.
			return errors.Join(<-errs, <-errs)
		}, false, true, false},
		{"InvalidConn", func(t *testing.T) error { return mysql.ErrInvalidConn }, false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.provoke(t)
			if err == nil {
				t.Fatal("no error provoked")
			}
			wrapped := fmt.Errorf("layer: %w", err)
			if got := d.IsConflict(wrapped); got != tc.conflict {
				t.Errorf("IsConflict(%v) = %v, want %v", err, got, tc.conflict)
			}
			if got := d.IsRetryable(wrapped); got != tc.retry {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, got, tc.retry)
			}
			if got := d.IsConnLost(wrapped); got != tc.con {
				t.Errorf("IsConnLost(%v) = %v, want %v", err, got, tc.con)
			}
		})
	}
}

func begin(t *testing.T, db *sql.DB) *sql.Tx {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func mustExec(t *testing.T, tx *sql.Tx, query string, args ...any) {
	t.Helper()
	if _, err := tx.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// epochMS is a millisecond-aligned instant.
var epochMS = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
