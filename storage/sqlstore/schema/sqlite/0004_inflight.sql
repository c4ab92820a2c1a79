-- In-flight records: messages queued for a client that acknowledges
-- (XEP-0198) and has not acknowledged them yet. Keep in step with
-- ../mysql/0004_inflight.sql.
--
-- The server chooses the ids (they are known before the row is written,
-- so the queue can carry them), and ids grow with arrival. Rows live for
-- about one client round trip; the table is read only at start-up, when
-- leftovers move to offline_messages.
CREATE TABLE inflight_messages (
	id         INTEGER NOT NULL PRIMARY KEY,
	username   TEXT    NOT NULL,
	stanza     BLOB    NOT NULL,
	created_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX inflight_messages_by_user ON inflight_messages (username);
