-- Offline storage (XEP-0160) for MySQL 8 and MariaDB 10.6+. Keep in step
-- with ../sqlite/0002_offline.sql.
--
-- One row per stored stanza, clustered by user so that fetching a queue
-- reads one range of the primary key (the stanzas included) instead of
-- one random lookup per row. The AUTO_INCREMENT id orders a user's rows
-- by arrival; InnoDB needs an index that starts with it, and persists
-- the counter across restarts (MySQL 8, MariaDB 10.2.4+), so an id is
-- never handed out twice. MEDIUMBLOB holds up to 16 MiB: stanzas of
-- 256 KiB and more do not fit BLOB's 64 KiB.
CREATE TABLE IF NOT EXISTS offline_messages (
	id         BIGINT          NOT NULL AUTO_INCREMENT,
	username   VARBINARY(1023) NOT NULL,
	stanza     MEDIUMBLOB      NOT NULL,
	created_ms BIGINT          NOT NULL,
	PRIMARY KEY (username, id),
	KEY offline_messages_by_id (id)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- How many rows offline_messages holds for each user, kept in the
-- transaction of every insert and delete. A push claims a place with one
-- upsert of this row, which reads the latest committed value and locks
-- the row whatever the isolation level, so concurrent pushes for one user
-- (from any number of processes) serialise here and can never overshoot
-- the quota (see sqlstore/offline.go).
CREATE TABLE IF NOT EXISTS offline_queues (
	username VARBINARY(1023) NOT NULL,
	queued   BIGINT          NOT NULL,
	PRIMARY KEY (username)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
