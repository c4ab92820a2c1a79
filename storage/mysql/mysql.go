package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"

	"github.com/go-sql-driver/mysql"

	"github.com/ringd/ringd/storage/sqlstore"
)

// Store is a storage.Store on a MySQL or MariaDB database.
type Store struct {
	*sqlstore.Store
}

// sqlMode is the session's sql_mode. Strict mode makes an over-long or
// mistyped value an error instead of a silently truncated row (MySQL 8
// and MariaDB 10.2+ default to it, but a server's my.cnf may not);
// nothing else of ringd depends on the mode. NO_BACKSLASH_ESCAPES is left
// out on purpose: the driver escapes interpolated values for either
// setting, and reads which one the session has.
const sqlMode = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

// Open connects to the database that dsn names, brings its schema up to
// date (under a lock, so that several processes may start at once) and
// returns a Store on it.
//
// dsn is a go-sql-driver/mysql data source name, such as
// "ringd:secret@tcp(db.example.net:3306)/ringd?tls=true". These settings
// are forced whatever it says: parseTime=true, charset utf8mb4 with
// collation utf8mb4_bin, interpolateParams=true (one round trip per
// statement instead of prepare, execute and close; safe with utf8mb4), no
// multiStatements, no clientFoundRows, the sql_mode above and
// innodb_lock_wait_timeout from opts. Other parameters (tls, timeouts, …)
// are kept. Errors name the server address and database, never the
// password (the server's own messages may name the user).
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("mysql: open: %w", err)
	}
	db, cfg, err := openDB(ctx, dsn, opts)
	if err != nil {
		return nil, fmt.Errorf("mysql: open: %w", err)
	}
	where := describe(cfg)
	if _, err := migrate(ctx, db, cfg.DBName); err != nil {
		return nil, errors.Join(fmt.Errorf("mysql: open %s: %w", where, err), db.Close())
	}
	s, err := sqlstore.New(db, Dialect(), sqlstore.Config{OfflineBatch: opts.OfflineBatch, OfflineCommitters: opts.OfflineCommitters})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("mysql: open %s: %w", where, err), db.Close())
	}
	return &Store{Store: s}, nil
}

// Migrate brings the schema of the database that dsn names up to date and
// returns the migrations it applied, for a `ringd migrate` command. It is
// safe while servers use the database and while other processes migrate
// it: they take turns on a named lock, and each migration is applied once.
func Migrate(ctx context.Context, dsn string) (applied []sqlstore.Migration, err error) {
	opts := Options{MaxOpenConns: 1}.withDefaults()
	db, cfg, err := openDB(ctx, dsn, opts)
	if err != nil {
		return nil, fmt.Errorf("mysql: migrate: %w", err)
	}
	where := describe(cfg)
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("mysql: close %s: %w", where, cerr))
		}
	}()
	applied, err = migrate(ctx, db, cfg.DBName)
	if err != nil {
		return applied, fmt.Errorf("mysql: migrate %s: %w", where, err)
	}
	return applied, nil
}

// Dialect is the sqlstore.Dialect of MySQL 8 and MariaDB 10.6+.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:        "mysql",
		Upsert:      sqlstore.UpsertOnDuplicateKey,
		IsConflict:  isConflict,
		IsRetryable: isRetryable,
		IsConnLost:  isConnLost,
		// InnoDB locks rows, not the database: writers on different rows
		// run in parallel, and those on one row queue in the engine.
		SingleWriter: false,
	}
}

// openDB connects with ringd's settings and checks that the server
// answers.
func openDB(ctx context.Context, dsn string, opts Options) (*sql.DB, *mysql.Config, error) {
	cfg, err := driverConfig(dsn, opts)
	if err != nil {
		return nil, nil, err
	}
	where := describe(cfg)
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", where, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	db.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("%s: %w", where, err), db.Close())
	}
	return db, cfg, nil
}

// describe names the server and database of cfg for messages, without
// the user or password: "tcp(db.example.net:3306)/ringd".
func describe(cfg *mysql.Config) string {
	return cfg.Net + "(" + cfg.Addr + ")/" + cfg.DBName
}

// driverConfig parses dsn and forces the settings Open documents.
func driverConfig(dsn string, opts Options) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The driver's messages quote no part of the DSN but a bad
		// parameter's name or value, never the password.
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("DSN for %s(%s) names no database (…/dbname)", cfg.Net, cfg.Addr)
	}
	cfg.ParseTime = true
	cfg.InterpolateParams = true
	cfg.MultiStatements = false
	// sqlstore reads "rows affected" as rows changed (the offline quota
	// claim depends on it), which clientFoundRows would turn into rows
	// matched.
	cfg.ClientFoundRows = false
	// Names and groups of roster items are utf8mb4 text (emoji); the
	// binary collation makes comparisons of literals exact, like those
	// of the VARBINARY key columns.
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_bin")); err != nil {
		return nil, fmt.Errorf("set charset: %w", err)
	}
	params := maps.Clone(cfg.Params)
	if params == nil {
		params = map[string]string{}
	}
	params["sql_mode"] = "'" + sqlMode + "'"
	params["innodb_lock_wait_timeout"] = strconv.FormatInt(opts.lockWaitSeconds(), 10)
	cfg.Params = params
	cfg.Logger = driverLogger{opts.Logger}
	return cfg, nil
}

// driverLogger hands the driver's messages to slog.
type driverLogger struct{ l *slog.Logger }

func (d driverLogger) Print(v ...any) {
	d.l.Warn("mysql driver", "detail", fmt.Sprint(v...))
}

// migrateLockWait is how long a migration waits, in seconds, for another
// process's migration of the same database to finish.
const migrateLockWait = 60

// migrateLockName names the lock that migrations of database dbName hold.
// GET_LOCK names are server-wide, so the name includes the database:
// ringd instances (or tests) on other databases of one server need not
// wait for each other. MySQL refuses names over 64 characters.
func migrateLockName(dbName string) string {
	name := "ringd_migrate:" + dbName
	if len(name) > 64 {
		sum := sha256.Sum256([]byte(dbName))
		name = "ringd_migrate:" + hex.EncodeToString(sum[:16])
	}
	return name
}

// migrate applies the pending migrations while holding the database's
// migration lock on the connection that runs them. MySQL commits each DDL
// statement on its own and takes no lock when sqlstore.Migrate checks
// what is applied, so without the lock two processes starting at once
// could both run a migration.
func migrate(ctx context.Context, db *sql.DB, dbName string) (applied []sqlstore.Migration, err error) {
	ms, err := sqlstore.MySQLMigrations()
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect for migration: %w", err)
	}
	name := migrateLockName(dbName)
	released := false
	defer func() {
		if !released {
			// A connection that may still hold the lock must not go back
			// to the pool: returning ErrBadConn from Raw makes
			// database/sql close it, and the server then drops the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		// Close only fails on a connection already returned, and the
		// error would add nothing to err.
		_ = conn.Close()
	}()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, migrateLockWait).Scan(&got); err != nil {
		return nil, fmt.Errorf("take migration lock %q: %w", name, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return nil, fmt.Errorf("take migration lock %q: another process held it for %d s", name, migrateLockWait)
	}
	applied, err = sqlstore.Migrate(ctx, conn, ms)
	if err != nil {
		return applied, err
	}
	var ok sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", name).Scan(&ok); err == nil && ok.Int64 == 1 {
		released = true
	}
	return applied, nil
}

// MySQL and MariaDB error numbers the dialect knows.
const (
	erDupEntry            = 1062 // duplicate key
	erLockWaitTimeout     = 1205 // innodb_lock_wait_timeout passed
	erLockDeadlock        = 1213 // chosen as deadlock victim; transaction rolled back
	erCheckRead           = 1020 // MariaDB 11.6+ innodb_snapshot_isolation: row changed since the snapshot
	erServerShutdown      = 1053 // server shutting down
	erConnectionKilled    = 1927 // MariaDB: KILL CONNECTION of this session
	erClientInteractionTO = 4031 // MySQL 8.0.24+: closed for inactivity (wait_timeout)
)

func mysqlErrno(err error) (uint16, bool) {
	var e *mysql.MySQLError
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Number, true
}

func isConflict(err error) bool {
	n, ok := mysqlErrno(err)
	return ok && n == erDupEntry
}

// isRetryable: the transaction lost a lock conflict and, run again from
// the start, may well succeed. A deadlock victim is rolled back by InnoDB;
// after a lock wait timeout only the statement is, and sqlstore rolls back
// the rest.
func isRetryable(err error) bool {
	n, ok := mysqlErrno(err)
	return ok && (n == erLockDeadlock || n == erLockWaitTimeout || n == erCheckRead)
}

// isConnLost: the connection broke under the operation. The driver says
// driver.ErrBadConn when it knows nothing was sent (database/sql then
// retries on another connection by itself) and ErrInvalidConn ("invalid
// connection") when a packet was cut short; the server says 1927, 1053 or
// 4031 before it hangs up.
func isConnLost(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) {
		return true
	}
	n, ok := mysqlErrno(err)
	return ok && (n == erConnectionKilled || n == erServerShutdown || n == erClientInteractionTO)
}
