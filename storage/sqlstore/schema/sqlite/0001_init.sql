-- ringd schema for SQLite. Keep in step with ../mysql/0001_init.sql.
--
-- Usernames and JIDs arrive PRECIS-normalised and are compared as bytes:
-- TEXT's default BINARY collation is memcmp, so "bob", "Bob" and "böb" are
-- three keys and ORDER BY is byte order. Times are unix milliseconds.
-- STRICT makes a wrongly typed bind an error instead of a silent
-- conversion.

-- Accounts hold SCRAM keys only (RFC 5802 §3), never a password.
CREATE TABLE users (
	username          TEXT    NOT NULL PRIMARY KEY,
	salt              BLOB,
	iterations        INTEGER NOT NULL,
	stored_key_sha1   BLOB,
	server_key_sha1   BLOB,
	stored_key_sha256 BLOB,
	server_key_sha256 BLOB,
	created_ms        INTEGER NOT NULL
) STRICT;

-- groups_json is a JSON array of strings, in the client's order.
CREATE TABLE roster_items (
	username     TEXT    NOT NULL,
	contact      TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	subscription TEXT    NOT NULL,
	ask          INTEGER NOT NULL CHECK (ask IN (0, 1)),
	approved     INTEGER NOT NULL CHECK (approved IN (0, 1)),
	groups_json  TEXT    NOT NULL,
	PRIMARY KEY (username, contact)
) STRICT, WITHOUT ROWID;

-- One counter per user (XEP-0237), bumped in the transaction of each
-- roster change; no row means version 0.
CREATE TABLE roster_versions (
	username TEXT    NOT NULL PRIMARY KEY,
	version  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Inbound subscription requests not yet answered (RFC 6121 §3.1.3).
CREATE TABLE subscription_requests (
	username   TEXT    NOT NULL,
	contact    TEXT    NOT NULL,
	stanza     BLOB    NOT NULL,
	created_ms INTEGER NOT NULL,
	PRIMARY KEY (username, contact)
) STRICT;

CREATE INDEX subscription_requests_by_age ON subscription_requests (username, created_ms, contact);
