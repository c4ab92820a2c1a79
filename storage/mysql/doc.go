// Package mysql is ringd's production storage backend: MySQL 8 or MariaDB
// 10.6+ through go-sql-driver/mysql, served by the shared SQL in
// storage/sqlstore.
//
//	s, err := mysql.Open(ctx, "ringd:secret@tcp(db.example.net:3306)/ringd?tls=true", mysql.Options{})
//
// Open parses the DSN, forces the settings the schema relies on
// (parseTime, utf8mb4 with utf8mb4_bin, interpolated parameters, strict
// sql_mode, a short innodb_lock_wait_timeout) and sizes the connection pool
// from Options; then it applies pending migrations while holding
// GET_LOCK('ringd_migrate:<database>', 60) on the connection that runs
// them, so several processes may start at once. Migrate does only the
// latter, for a `ringd migrate` command. Neither needs multiStatements:
// migrations run one statement at a time.
//
// The schema (storage/sqlstore/schema/mysql) stores usernames and JIDs as
// VARBINARY, already PRECIS-normalised, since any character collation
// would make "BOB", "böb" and "bob" one key; free text is utf8mb4 so
// emoji survive; times are BIGINT milliseconds; stanzas are MEDIUMBLOB.
// Upserts use ON DUPLICATE KEY UPDATE c = VALUES(c), which both engines
// accept (MariaDB rejects MySQL 8's "AS new" alias).
//
// Errors the dialect recognises: 1062 is storage.ErrConflict; 1213
// (deadlock victim), 1205 (lock wait timeout) and 1020 (MariaDB 11.6+
// snapshot isolation) make sqlstore run the transaction again; a broken
// connection (driver.ErrBadConn, the driver's "invalid connection", or
// the server's 1927 connection killed, 1053 shutdown, 4031 idle timeout)
// is retried when that is safe: always if it broke before COMMIT was sent,
// and at COMMIT only for operations that may be applied twice — reads,
// SetCredentials, PutSubscriptionRequest, DeleteSubscriptionRequest and
// DeleteOffline. CreateUser, DeleteUser, PutRosterItem, DeleteRosterItem
// and PushOffline then return the error, since their outcome is unknown.
//
// It must not hold SQL of its own beyond session settings and the
// migration lock (queries and DDL live in storage/sqlstore), nor put the
// DSN's password in errors or logs.
//
// Tests need a server: scripts/mariadb.sh starts a throwaway MariaDB and
// exports RINGD_TEST_MYSQL_DSN; each test then works in a database of its
// own. Without the variable the tests skip, or fail when CI=true.
package mysql
