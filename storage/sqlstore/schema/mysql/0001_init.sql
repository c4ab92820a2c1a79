-- ringd schema for MySQL 8 and MariaDB 10.6+. Keep in step with
-- ../sqlite/0001_init.sql.
--
-- Usernames and JIDs are VARBINARY: they arrive PRECIS-normalised, and any
-- character collation would make "bob", "BOB" and "böb" one key. Sizes
-- follow RFC 7622: a localpart is at most 1023 bytes, a bare JID 2047, so
-- (username, contact) takes 3070 of InnoDB's 3072 key bytes (DYNAMIC row
-- format). Free text is utf8mb4 with a binary collation so it round-trips
-- emoji and compares exactly. Times are BIGINT unix milliseconds, which
-- sidesteps time zones and parseTime. Every statement is IF NOT EXISTS:
-- MySQL commits DDL one statement at a time, so a migration that failed
-- halfway must be safe to run again.

-- Accounts hold SCRAM keys only (RFC 5802 §3), never a password.
CREATE TABLE IF NOT EXISTS users (
	username          VARBINARY(1023) NOT NULL,
	salt              VARBINARY(255),
	iterations        INT             NOT NULL,
	stored_key_sha1   VARBINARY(255),
	server_key_sha1   VARBINARY(255),
	stored_key_sha256 VARBINARY(255),
	server_key_sha256 VARBINARY(255),
	created_ms        BIGINT          NOT NULL,
	PRIMARY KEY (username)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- groups_json is a JSON array of strings, in the client's order.
CREATE TABLE IF NOT EXISTS roster_items (
	username     VARBINARY(1023) NOT NULL,
	contact      VARBINARY(2047) NOT NULL,
	name         TEXT            NOT NULL,
	subscription VARBINARY(8)    NOT NULL,
	ask          BOOLEAN         NOT NULL,
	approved     BOOLEAN         NOT NULL,
	groups_json  MEDIUMTEXT      NOT NULL,
	PRIMARY KEY (username, contact)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One counter per user (XEP-0237), bumped in the transaction of each
-- roster change; no row means version 0.
CREATE TABLE IF NOT EXISTS roster_versions (
	username VARBINARY(1023) NOT NULL,
	version  BIGINT          NOT NULL,
	PRIMARY KEY (username)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Inbound subscription requests not yet answered (RFC 6121 §3.1.3).
-- MEDIUMBLOB: a stanza may exceed BLOB's 64 KiB.
CREATE TABLE IF NOT EXISTS subscription_requests (
	username   VARBINARY(1023) NOT NULL,
	contact    VARBINARY(2047) NOT NULL,
	stanza     MEDIUMBLOB      NOT NULL,
	created_ms BIGINT          NOT NULL,
	PRIMARY KEY (username, contact),
	KEY subscription_requests_by_age (username, created_ms)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
