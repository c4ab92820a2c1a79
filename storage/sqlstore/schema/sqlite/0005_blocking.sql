-- XEP-0191 block lists. Keep in step with ../mysql/0005_blocking.sql.
--
-- One row per (user, blocked JID). The JID is a full JID, a bare JID, a
-- domain or a domain/resource, canonical, up to 3071 bytes (RFC 7622).
-- The key is the user and jid_key, the SHA-256 of the JID computed by
-- sqlstore (blocks.go): MySQL cannot index a 1023-byte username next to
-- a 3071-byte JID within its 3072-byte key limit, and both engines keep
-- one key so that the queries are the same. A user's list is read whole
-- (a short range scan of the primary key) and cached by the server.
CREATE TABLE blocked_jids (
	username TEXT NOT NULL,
	jid_key  BLOB NOT NULL,
	jid      TEXT NOT NULL,
	PRIMARY KEY (username, jid_key)
) STRICT, WITHOUT ROWID;
