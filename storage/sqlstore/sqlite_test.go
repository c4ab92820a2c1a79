package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	_ "modernc.org/sqlite" // a real engine for the runner and the schema
)

// These tests need a real engine; SQLite is the one that needs no server.
// storage/sqlite owns the production connection settings, so this file
// opens a bare file and uses a dialect that treats nothing as a conflict.

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var purgeRE = regexp.MustCompile(`^DELETE FROM (\w+) WHERE username = \?$`)

// TestPurgeCoversEveryUserTable keeps DeleteUser's contract as tables are
// added: every table with a username column, other than users itself, must
// have a purge statement.
func TestPurgeCoversEveryUserTable(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t)
	ms, err := SQLiteMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(ctx, db, ms); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT m.name FROM sqlite_schema AS m, pragma_table_info(m.name) AS c
		WHERE m.type = 'table' AND c.name = 'username' AND m.name <> 'users' ORDER BY m.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var want []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range newQueries(Dialect{Upsert: UpsertOnConflict}).purgeUser {
		m := purgeRE.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("purge statement %q is not DELETE FROM <table> WHERE username = ?", q)
			continue
		}
		got = append(got, m[1])
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("purgeUser covers %q; tables keyed by username are %q", got, want)
	}
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	good := Migration{Version: 1, Name: "0001_a.sql", SQL: "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);"}
	bad := Migration{Version: 2, Name: "0002_b.sql", SQL: "CREATE TABLE b (y INTEGER);\nINSERT INTO nowhere VALUES (1);"}
	fixed := Migration{Version: 2, Name: "0002_b.sql", SQL: "CREATE TABLE b (y INTEGER);"}

	db := openSQLite(t)
	applied, err := Migrate(ctx, db, []Migration{good, bad})
	if err == nil {
		t.Fatal("Migrate(good, bad) = nil error, want the failure of bad")
	}
	if names := migrationNames(applied); !slices.Equal(names, []string{good.Name}) {
		t.Errorf("Migrate(good, bad) applied %q, want just %s", names, good.Name)
	}
	// SQLite DDL is transactional: bad left no table b behind.
	if ok, err := exists(ctx, db, `SELECT 1 FROM sqlite_schema WHERE name = 'b'`); err != nil || ok {
		t.Errorf("table b after failed migration: exists = %v, %v; want false", ok, err)
	}
	applied, err = Migrate(ctx, db, []Migration{good, fixed})
	if err != nil || !slices.Equal(migrationNames(applied), []string{fixed.Name}) {
		t.Errorf("Migrate(good, fixed) = %q, %v; want just %s", migrationNames(applied), err, fixed.Name)
	}
	applied, err = Migrate(ctx, db, []Migration{good, fixed})
	if err != nil || len(applied) != 0 {
		t.Errorf("Migrate() again = %q, %v; want nothing, nil", migrationNames(applied), err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in a = %d, %v; want 1 (migration 1 ran once)", n, err)
	}
	if _, err := Migrate(ctx, db, []Migration{fixed, good}); err == nil {
		t.Error("Migrate() of out-of-order migrations = nil error, want one")
	}
}

func migrationNames(ms []Migration) []string {
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return names
}

var errFlaky = errors.New("flaky")

func TestWriteRetries(t *testing.T) {
	tests := []struct {
		name      string
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"FirstTime", 0, 1, false},
		{"AfterTwoFailures", 2, 3, false},
		{"GivesUp", 100, maxAttempts, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Dialect{
				Name:        "test",
				Upsert:      UpsertOnConflict,
				IsConflict:  func(error) bool { return false },
				IsRetryable: func(err error) bool { return errors.Is(err, errFlaky) },
			}
			s, err := New(openSQLite(t), d, Config{})
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			err = s.write(t.Context(), func(tx *sql.Tx) error {
				calls++
				if calls <= tc.failures {
					return fmt.Errorf("attempt %d: %w", calls, errFlaky)
				}
				return nil
			})
			if calls != tc.wantCalls || (err != nil) != tc.wantErr {
				t.Errorf("write() called fn %d times, returned %v; want %d calls, error %v", calls, err, tc.wantCalls, tc.wantErr)
			}
		})
	}
	t.Run("StopsWhenContextEnds", func(t *testing.T) {
		d := Dialect{Name: "test", Upsert: UpsertOnConflict,
			IsConflict: func(error) bool { return false }, IsRetryable: func(error) bool { return true }}
		s, err := New(openSQLite(t), d, Config{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		err = s.write(ctx, func(*sql.Tx) error { cancel(); return errFlaky })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) {
			t.Errorf("write() = %v, want both the failure and context.Canceled", err)
		}
	})
}

func TestSingleWriterHonoursContext(t *testing.T) {
	d := Dialect{Name: "test", Upsert: UpsertOnConflict, SingleWriter: true,
		IsConflict: func(error) bool { return false }, IsRetryable: func(error) bool { return false }}
	s, err := New(openSQLite(t), d, Config{})
	if err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.write(t.Context(), func(*sql.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err = s.write(ctx, func(*sql.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("write() while another holds the writer slot, ctx cancelled = %v (ran %v); want context.Canceled without running", err, ran)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first write() = %v", err)
	}
	if err := s.write(t.Context(), func(*sql.Tx) error { return nil }); err != nil {
		t.Errorf("write() after the slot is free = %v", err)
	}
}
