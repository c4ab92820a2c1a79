-- In-flight records: messages queued for a client that acknowledges
-- (XEP-0198) and has not acknowledged them yet. Keep in step with
-- ../sqlite/0004_inflight.sql.
--
-- The server chooses the ids (they are known before the row is written,
-- so the queue can carry them), and ids grow with arrival: clustering by
-- id makes each batch an append and each delete a short range. The
-- username index serves DeleteUser only.
CREATE TABLE IF NOT EXISTS inflight_messages (
	id         BIGINT          NOT NULL,
	username   VARBINARY(1023) NOT NULL,
	stanza     MEDIUMBLOB      NOT NULL,
	created_ms BIGINT          NOT NULL,
	PRIMARY KEY (id),
	KEY inflight_messages_by_user (username)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
