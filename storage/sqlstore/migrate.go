package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int64
	Name    string // file name, for messages
	SQL     string // one or more statements separated by semicolons
}

// The bookkeeping table is portable SQL, so it lives here rather than in
// each engine's first migration: the runner needs it before any migration.
const (
	createMigrationsTableSQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT NOT NULL PRIMARY KEY,
	applied_ms BIGINT NOT NULL
)`
	selectMigrationAppliedSQL = `SELECT 1 FROM schema_migrations WHERE version = ?`
	insertMigrationSQL        = `INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)`
)

// LoadMigrations reads the migrations in dir of fsys: every file named
// NNNN_description.sql, ordered by the number, which must be unique and
// positive. Other files are ignored.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: load migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("sqlstore: load migrations: %s: want NNNN_description.sql", name)
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: load migrations: %s: version %q is not a positive integer", name, num)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: load migrations: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	if err := checkMigrations(ms); err != nil {
		return nil, fmt.Errorf("sqlstore: load migrations: %w", err)
	}
	return ms, nil
}

func checkMigrations(ms []Migration) error {
	for i, m := range ms {
		if m.Version <= 0 {
			return fmt.Errorf("%s: version %d is not positive", m.Name, m.Version)
		}
		if i > 0 && m.Version <= ms[i-1].Version {
			return fmt.Errorf("%s: version %d does not follow %s", m.Name, m.Version, ms[i-1].Name)
		}
	}
	return nil
}

// Conn is what Migrate needs of a database: a *sql.DB, or a *sql.Conn when
// the caller holds a session-level lock on that connection (MySQL's
// GET_LOCK) and wants the migrations to run under it.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Migrate applies, in order, each migration of ms that db has not recorded
// in schema_migrations. Each runs in its own transaction together with its
// bookkeeping row, and is checked again inside it, so two processes starting
// at once (server and CLI) apply it once. On SQLite the DDL is transactional
// and a failed migration leaves nothing behind. MySQL commits every DDL
// statement on its own: a migration that fails halfway stays half applied,
// so MySQL migrations are written to be re-runnable (IF NOT EXISTS), and
// since MySQL takes no lock on the SELECT that checks, a MySQL backend
// holds GET_LOCK on a connection and passes that connection, so that two
// processes do not both run a migration.
//
// It returns the migrations this call applied, for a command to report.
func Migrate(ctx context.Context, db Conn, ms []Migration) ([]Migration, error) {
	if err := checkMigrations(ms); err != nil {
		return nil, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if _, err := db.ExecContext(ctx, createMigrationsTableSQL); err != nil {
		return nil, fmt.Errorf("sqlstore: migrate: create schema_migrations: %w", err)
	}
	var applied []Migration
	for _, m := range ms {
		ok, err := applyMigration(ctx, db, m)
		if err != nil {
			return applied, fmt.Errorf("sqlstore: migrate: %s: %w", m.Name, err)
		}
		if ok {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// applyMigration applies m unless db has it already, and reports whether it
// did.
func applyMigration(ctx context.Context, db Conn, m Migration) (applied bool, err error) {
	// Most starts find everything applied; look before taking the write
	// lock that the transaction below holds.
	if ok, err := exists(ctx, db, selectMigrationAppliedSQL, m.Version); err != nil || ok {
		return false, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // err already says why the transaction is void
		}
	}()
	// Another process may have applied it since the look above.
	if ok, err := exists(ctx, tx, selectMigrationAppliedSQL, m.Version); err != nil || ok {
		if err == nil {
			err = tx.Commit()
		}
		return false, err
	}
	for i, stmt := range SplitStatements(m.SQL) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, insertMigrationSQL, m.Version, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("record version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// SplitStatements cuts a migration into its statements at semicolons
// outside quotes and comments, so that drivers which execute one statement
// per call (go-sql-driver/mysql without multiStatements) can run it.
// Comments are kept with the statement that follows them; empty statements
// are dropped. It does not understand statements that contain semicolons
// themselves, such as trigger bodies.
func SplitStatements(script string) []string {
	var (
		stmts []string
		start int
		quote byte // the open quote character, or 0
	)
	flush := func(end int) {
		if s := strings.TrimSpace(script[start:end]); s != "" && !onlyComments(s) {
			stmts = append(stmts, s)
		}
	}
	for i := 0; i < len(script); i++ {
		c := script[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '-' && strings.HasPrefix(script[i:], "--"):
			j := strings.IndexByte(script[i:], '\n')
			if j < 0 {
				i = len(script)
			} else {
				i += j
			}
		case c == '/' && strings.HasPrefix(script[i:], "/*"):
			j := strings.Index(script[i+2:], "*/")
			if j < 0 {
				i = len(script)
			} else {
				i += j + 3
			}
		case c == ';':
			flush(i)
			start = i + 1
		}
	}
	flush(len(script))
	return stmts
}

// onlyComments reports whether s, already trimmed, holds nothing but
// comments, like the tail of a file after its last semicolon.
func onlyComments(s string) bool {
	for s != "" {
		switch {
		case strings.HasPrefix(s, "--"):
			_, rest, _ := strings.Cut(s, "\n")
			s = strings.TrimSpace(rest)
		case strings.HasPrefix(s, "/*"):
			_, rest, ok := strings.Cut(s[2:], "*/")
			if !ok {
				return true
			}
			s = strings.TrimSpace(rest)
		default:
			return false
		}
	}
	return true
}
