-- XEP-0357 push registrations for MySQL 8 and MariaDB 10.6+. Keep in step
-- with ../sqlite/0003_push.sql.
--
-- One row per (user, app server JID, node). A key of username
-- VARBINARY(1023), a JID of up to 3071 bytes (RFC 7622) and a node of any
-- length (XEP-0060 sets none) would not fit InnoDB's 3072-byte index
-- limit, so the key is the user and reg_key, the SHA-256 of service ||
-- 0x00 || node computed by sqlstore (pushes.go): 1055 bytes. A JID cannot
-- contain NUL, so the separator makes the key unambiguous. The primary
-- key clusters a user's registrations together, which is the only way
-- they are read. options is the publish-options data form as XML, NULL
-- when the client gave none; MEDIUMBLOB because it arrived in a stanza,
-- which may exceed BLOB's 64 KiB.
CREATE TABLE IF NOT EXISTS push_registrations (
	username   VARBINARY(1023) NOT NULL,
	reg_key    BINARY(32)      NOT NULL,
	service    VARBINARY(3071) NOT NULL,
	node       BLOB            NOT NULL,
	options    MEDIUMBLOB,
	created_ms BIGINT          NOT NULL,
	PRIMARY KEY (username, reg_key)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
