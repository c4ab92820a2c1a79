-- XEP-0191 block lists for MySQL 8 and MariaDB 10.6+. Keep in step with
-- ../sqlite/0005_blocking.sql.
--
-- One row per (user, blocked JID). A key of username VARBINARY(1023) and
-- a JID of up to 3071 bytes (RFC 7622) would not fit InnoDB's 3072-byte
-- index limit, so the key is the user and jid_key, the SHA-256 of the JID
-- computed by sqlstore (blocks.go): 1055 bytes. The primary key clusters
-- a user's list together, which is how it is read. VARBINARY compares and
-- sorts as bytes, as the other tables do.
CREATE TABLE IF NOT EXISTS blocked_jids (
	username VARBINARY(1023) NOT NULL,
	jid_key  BINARY(32)      NOT NULL,
	jid      VARBINARY(3071) NOT NULL,
	PRIMARY KEY (username, jid_key)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
