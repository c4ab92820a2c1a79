package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/storagetest"
)

var _ storage.Store = (*Store)(nil)

// dsnEnv names the variable that points the tests at a server whose user
// may create and drop databases named ringd_test_*; scripts/mariadb.sh
// starts such a server and sets it.
const dsnEnv = "RINGD_TEST_MYSQL_DSN"

// testDSN returns the server the tests use. Without one the tests skip,
// except in CI, where a skipped MySQL test would hide a broken backend.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("MySQL tests need %s, and CI=true makes skipping them a failure; run scripts/test.sh, which starts a throwaway MariaDB", dsnEnv)
		}
		tb.Skipf("MySQL tests need %s; run scripts/test.sh, which starts a throwaway MariaDB", dsnEnv)
	}
	return dsn
}

// admin opens a plain connection to the test server, without a database.
func admin(tb testing.TB) *sql.DB {
	tb.Helper()
	cfg, err := mysql.ParseDSN(testDSN(tb))
	if err != nil {
		tb.Fatalf("%s: %v", dsnEnv, err)
	}
	cfg.DBName = ""
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(conn)
	tb.Cleanup(func() { db.Close() })
	return db
}

// freshDSN creates an empty database for one test, drops it when the test
// ends, and returns the test DSN pointed at it.
func freshDSN(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	name := "ringd_test_" + hex.EncodeToString(b[:])
	db := admin(tb)
	// Cleanups run after the test's context is cancelled.
	ctx := context.WithoutCancel(tb.Context())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg, err := mysql.ParseDSN(testDSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

// dbName returns the database that dsn names.
func dbName(tb testing.TB, dsn string) string {
	tb.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg.DBName
}

// openFresh opens a Store on a fresh database; the caller closes it.
func openFresh(tb testing.TB, opts Options) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), freshDSN(tb), opts)
	if err != nil {
		tb.Fatalf("Open() = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storagetest.RunSuite(t, func(t *testing.T) storage.Store { return openFresh(t, Options{}) })
}

// TestConformanceWithoutGroupCommit runs the offline tests with each push
// in its own transaction, where concurrent pushes meet in InnoDB rather
// than in the committer.
func TestConformanceWithoutGroupCommit(t *testing.T) {
	testDSN(t)
	storagetest.RunOffline(t, func(t *testing.T) storage.Store { return openFresh(t, Options{OfflineBatch: 1}) })
}
