package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// backends lists the storage backends a per-backend test runs on, one
// sub-test each, named after the backend: SQLite always, and MySQL too.
// The mysql sub-test needs RINGD_TEST_MYSQL_DSN: without it, startServer
// skips it with a message saying to run scripts/test.sh, or fails it under
// CI=true, where a skipped MySQL test would hide a broken backend.
func backends(t *testing.T) []string {
	t.Helper()
	return []string{backendSQLite, backendMySQL}
}

// requireMySQL returns RINGD_TEST_MYSQL_DSN, or skips the test without it
// (fails it under CI=true).
func requireMySQL(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(mysqlDSNEnv)
	if dsn != "" {
		return dsn
	}
	msg := "MySQL e2e tests need " + mysqlDSNEnv + "; run scripts/test.sh, which starts a throwaway MariaDB (or, in bash: source scripts/mariadb.sh && start_mariadb)"
	if inCI() {
		t.Fatal(msg + "; CI=true makes a skipped MySQL test a failure")
	}
	t.Skip(msg)
	return ""
}

// freshMySQLDatabase creates an empty database named ringd_test_e2e_<random>
// on the server RINGD_TEST_MYSQL_DSN names, drops it when the test ends,
// and returns that DSN pointed at it (the form ringd's [storage] dsn
// takes). It is what storage/mysql's tests do, from outside ringd.
func freshMySQLDatabase(t *testing.T) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(requireMySQL(t))
	if err != nil {
		t.Fatalf("%s: %v", mysqlDSNEnv, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "ringd_test_e2e_" + hex.EncodeToString(b[:])

	cfg.DBName = ""
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("%s: %v", mysqlDSNEnv, err)
	}
	db := sql.OpenDB(conn)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		db.Close()
		t.Fatalf("create MySQL test database: %v", err)
	}
	// Registered before startServer's own clean-up, so it runs after
	// ringd has stopped.
	t.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop MySQL test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}
