package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ringd/ringd/storage"
)

// A batch of pushes is written with a fixed number of statements, whatever
// its size, so that a server a network hop away costs a few round trips
// per batch rather than two per push:
//
//  1. one upsert creates the missing queue rows of the batch's users and
//     locks them all, in username order (the batch is sorted);
//  2. one SELECT reads their lengths and newest ids, now that no one else
//     can change them (on InnoDB the snapshot is taken at this first
//     plain read, after the locks; under READ COMMITTED or SERIALIZABLE
//     it sees the latest rows anyway);
//  3. Go decides, push by push in arrival order, which fit their quota;
//  4. multi-row INSERTs store the accepted stanzas, in that order;
//  5. one upsert writes the new lengths;
//  6. one SELECT reads back the ids of the new rows: for each user, those
//     above the newest id seen in step 2. No one else can have inserted
//     for these users meanwhile, and ids grow in insertion order, so they
//     map onto the accepted pushes in order. This relies on nothing about
//     how an engine numbers the rows of one multi-row INSERT.
const (
	insertOfflineQueuesPrefix = `INSERT INTO offline_queues (username, queued) VALUES `
	selectOfflineQueuesPrefix = `SELECT q.username, q.queued,
	COALESCE((SELECT MAX(m.id) FROM offline_messages AS m WHERE m.username = q.username), 0)
	FROM offline_queues AS q WHERE q.username IN (`
	insertOfflinesPrefix   = `INSERT INTO offline_messages (username, stanza, created_ms) VALUES `
	selectNewOfflinePrefix = `SELECT username, id FROM offline_messages WHERE `
)

// Bounds of one multi-row INSERT of stanzas: well under MySQL's
// max_allowed_packet (16 MiB on MariaDB, 64 MiB on MySQL 8, and escaping
// may double the bytes) and SQLite's limit on bound parameters.
const (
	insertChunkRows  = 128
	insertChunkBytes = 1 << 20
)

// batchMin is the smallest batch written the multi-row way; smaller ones
// take fewer statements push by push (two each).
const batchMin = 3

type queueState struct {
	queued, newestID int64
	accepted         []int // indexes into the batch, in order
}

// pushBatchTx stores the requests of reqs, sorted by user with each user's
// requests in arrival order, inside tx, setting each one's result: an id,
// or storage.ErrQuotaExceeded. An error it returns fails the whole batch.
func (s *Store) pushBatchTx(ctx context.Context, tx *sql.Tx, reqs []*pushRequest, results []pushResult) error {
	if len(reqs) < batchMin {
		for i, r := range reqs {
			results[i].id, results[i].err = s.pushTx(ctx, tx, r)
			if results[i].err != nil && !errors.Is(results[i].err, storage.ErrQuotaExceeded) {
				return results[i].err
			}
		}
		return nil
	}
	var users []string
	for i, r := range reqs {
		if i == 0 || r.user != reqs[i-1].user {
			users = append(users, r.user)
		}
	}
	args := make([]any, len(users))
	for i, u := range users {
		args[i] = u
	}

	// 1. Create and lock.
	q := insertOfflineQueuesPrefix + repeatJoin("(?, 0)", len(users)) + " " + s.q.keepOfflineQueues
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("lock queues: %w", err)
	}
	// 2. Read.
	state, err := readQueues(ctx, tx, users, args)
	if err != nil {
		return err
	}
	// 3. Decide.
	accepted := 0
	for i, r := range reqs {
		st := state[r.user]
		if st.queued >= r.quota {
			results[i].err = storage.ErrQuotaExceeded
			continue
		}
		st.queued++
		st.accepted = append(st.accepted, i)
		accepted++
	}
	if accepted == 0 {
		return nil
	}
	// 4. Store.
	if err := insertStanzas(ctx, tx, reqs, results); err != nil {
		return err
	}
	// 5. Count.
	var counts []any
	for _, u := range users {
		if st := state[u]; len(st.accepted) > 0 {
			counts = append(counts, u, st.queued)
		}
	}
	q = insertOfflineQueuesPrefix + repeatJoin("(?, ?)", len(counts)/2) + " " + s.q.setOfflineQueues
	if _, err := tx.ExecContext(ctx, q, counts...); err != nil {
		return fmt.Errorf("update queue lengths: %w", err)
	}
	// 6. Read back the ids.
	return newIDs(ctx, tx, users, state, results, accepted)
}

func readQueues(ctx context.Context, tx *sql.Tx, users []string, args []any) (map[string]*queueState, error) {
	q := selectOfflineQueuesPrefix + repeatJoin("?", len(users)) + ")"
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read queues: %w", err)
	}
	defer rows.Close()
	state := make(map[string]*queueState, len(users))
	for rows.Next() {
		var (
			u  string
			st queueState
		)
		if err := rows.Scan(&u, &st.queued, &st.newestID); err != nil {
			return nil, fmt.Errorf("read queues: %w", err)
		}
		state[u] = &st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read queues: %w", err)
	}
	if len(state) != len(users) {
		return nil, fmt.Errorf("read queues: %d of %d queue rows found after creating them", len(state), len(users))
	}
	return state, nil
}

// insertStanzas inserts the accepted requests (those without a result
// error yet) in order, in statements of bounded size.
func insertStanzas(ctx context.Context, tx *sql.Tx, reqs []*pushRequest, results []pushResult) error {
	var (
		args  []any
		rows  int
		bytes int
	)
	flush := func() error {
		if rows == 0 {
			return nil
		}
		q := insertOfflinesPrefix + repeatJoin("(?, ?, ?)", rows)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert %d stanzas: %w", rows, err)
		}
		args, rows, bytes = args[:0], 0, 0
		return nil
	}
	for i, r := range reqs {
		if results[i].err != nil {
			continue
		}
		if rows > 0 && (rows == insertChunkRows || bytes+len(r.stanza) > insertChunkBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		args = append(args, r.user, r.stanza, r.created)
		rows++
		bytes += len(r.stanza)
	}
	return flush()
}

func newIDs(ctx context.Context, tx *sql.Tx, users []string, state map[string]*queueState, results []pushResult, accepted int) error {
	var (
		where []string
		args  []any
	)
	for _, u := range users {
		if st := state[u]; len(st.accepted) > 0 {
			where = append(where, "(username = ? AND id > ?)")
			args = append(args, u, st.newestID)
		}
	}
	q := selectNewOfflinePrefix + strings.Join(where, " OR ") + " ORDER BY username, id"
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read new ids: %w", err)
	}
	defer rows.Close()
	next := make(map[string]int, len(users))
	found := 0
	for rows.Next() {
		var (
			u  string
			id int64
		)
		if err := rows.Scan(&u, &id); err != nil {
			return fmt.Errorf("read new ids: %w", err)
		}
		st := state[u]
		k := next[u]
		if st == nil || k >= len(st.accepted) {
			return fmt.Errorf("read new ids: unexpected row %d of %q", id, u)
		}
		results[st.accepted[k]].id = id
		next[u] = k + 1
		found++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read new ids: %w", err)
	}
	if found != accepted {
		return fmt.Errorf("read new ids: found %d, inserted %d", found, accepted)
	}
	return nil
}

// repeatJoin returns n copies of s separated by ", ".
func repeatJoin(s string, n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat(s+", ", n-1) + s
}
