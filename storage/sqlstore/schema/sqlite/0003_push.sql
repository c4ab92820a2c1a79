-- XEP-0357 push registrations. Keep in step with ../mysql/0003_push.sql.
--
-- One row per (user, app server JID, node). The key is the user and
-- reg_key, the SHA-256 of service || 0x00 || node computed by sqlstore
-- (pushes.go): MySQL cannot index a 1023-byte username next to a JID of up
-- to 3071 bytes and a node of any length within its 3072-byte key limit,
-- and both engines keep one key so that the queries are the same. A JID
-- cannot contain NUL, so the separator makes the key unambiguous. options
-- is the publish-options data form as XML, NULL when the client gave none.
CREATE TABLE push_registrations (
	username   TEXT    NOT NULL,
	reg_key    BLOB    NOT NULL,
	service    TEXT    NOT NULL,
	node       TEXT    NOT NULL,
	options    BLOB,
	created_ms INTEGER NOT NULL,
	PRIMARY KEY (username, reg_key)
) STRICT, WITHOUT ROWID;
