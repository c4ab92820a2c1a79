-- Offline storage (XEP-0160). Keep in step with ../mysql/0002_offline.sql.
--
-- One row per stored stanza. AUTOINCREMENT, unlike a plain rowid, never
-- hands out an id again after the newest row was deleted: clients of the
-- store delete by id, and an id that came back could delete a stanza that
-- arrived later. Ids grow with arrival, so ORDER BY id is arrival order.
CREATE TABLE offline_messages (
	id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	username   TEXT    NOT NULL,
	stanza     BLOB    NOT NULL,
	created_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX offline_messages_by_user ON offline_messages (username, id);

-- How many rows offline_messages holds for each user, kept in the
-- transaction of every insert and delete. A push claims a place with one
-- upsert of this row that checks the quota and locks the row, so
-- concurrent pushes for one user serialise here and can never overshoot
-- the quota (see sqlstore/offline.go).
CREATE TABLE offline_queues (
	username TEXT    NOT NULL PRIMARY KEY,
	queued   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
