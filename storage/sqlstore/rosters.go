package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/ringd/ringd/storage"
)

// Groups live in one JSON-array column of the item rather than in a table
// of their own: an item and its groups are always read and replaced
// together, one row keeps a put to a single upsert, the array keeps the
// order, and MySQL is spared a third key column on top of (username,
// contact), which already uses 3070 of InnoDB's 3072 index bytes.
const (
	insertRosterItemSQL = `INSERT INTO roster_items
	(username, contact, name, subscription, ask, approved, groups_json)
	VALUES (?, ?, ?, ?, ?, ?, ?)`
	deleteRosterItemSQL    = `DELETE FROM roster_items WHERE username = ? AND contact = ?`
	selectRosterItemSQL    = `SELECT contact, name, subscription, ask, approved, groups_json FROM roster_items WHERE username = ? AND contact = ?`
	selectRosterSQL        = `SELECT contact, name, subscription, ask, approved, groups_json FROM roster_items WHERE username = ? ORDER BY contact`
	insertRosterVersionSQL = `INSERT INTO roster_versions (username, version) VALUES (?, 1)`
	selectRosterVersionSQL = `SELECT version FROM roster_versions WHERE username = ?`

	deleteUserRosterItemsSQL   = `DELETE FROM roster_items WHERE username = ?`
	deleteUserRosterVersionSQL = `DELETE FROM roster_versions WHERE username = ?`
)

// Roster implements storage.Rosters.
func (s *Store) Roster(ctx context.Context, user string) ([]storage.RosterItem, int64, error) {
	var (
		items []storage.RosterItem
		ver   int64
	)
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if ver, err = rosterVersion(ctx, tx, user); err != nil {
			return err
		}
		items, err = roster(ctx, tx, user)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: roster of %q: %w", user, err)
	}
	return items, ver, nil
}

func roster(ctx context.Context, tx *sql.Tx, user string) ([]storage.RosterItem, error) {
	rows, err := tx.QueryContext(ctx, selectRosterSQL, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []storage.RosterItem
	for rows.Next() {
		it, err := scanRosterItem(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// RosterItem implements storage.Rosters.
func (s *Store) RosterItem(ctx context.Context, user, contact string) (storage.RosterItem, error) {
	var it storage.RosterItem
	err := s.query(ctx, func() (err error) {
		it, err = scanRosterItem(s.db.QueryRowContext(ctx, selectRosterItemSQL, user, contact))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return storage.RosterItem{}, fmt.Errorf("sqlstore: roster item %q/%q: %w", user, contact, err)
	}
	return it, nil
}

// PutRosterItem implements storage.Rosters.
func (s *Store) PutRosterItem(ctx context.Context, user string, item storage.RosterItem) (int64, error) {
	if err := checkText(item); err != nil {
		return 0, fmt.Errorf("sqlstore: put roster item %q/%q: %w", user, item.Contact, err)
	}
	groups, err := encodeGroups(item.Groups)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: put roster item %q/%q: %w", user, item.Contact, err)
	}
	var ver int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.putRosterItem, user, item.Contact, item.Name,
			string(item.Subscription), item.Ask, item.Approved, groups)
		if err != nil {
			return err
		}
		ver, err = s.bumpRosterVersion(ctx, tx, user)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: put roster item %q/%q: %w", user, item.Contact, err)
	}
	return ver, nil
}

// DeleteRosterItem implements storage.Rosters.
func (s *Store) DeleteRosterItem(ctx context.Context, user, contact string) (int64, error) {
	var ver int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, deleteRosterItemSQL, user, contact)
		if err != nil {
			return err
		}
		n, err := rowsAffected(res)
		if err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		ver, err = s.bumpRosterVersion(ctx, tx, user)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete roster item %q/%q: %w", user, contact, err)
	}
	return ver, nil
}

// RosterVersion implements storage.Rosters.
func (s *Store) RosterVersion(ctx context.Context, user string) (int64, error) {
	var ver int64
	err := s.query(ctx, func() (err error) {
		ver, err = rosterVersion(ctx, s.db, user)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: roster version of %q: %w", user, err)
	}
	return ver, nil
}

type queryRower interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

func rosterVersion(ctx context.Context, q queryRower, user string) (int64, error) {
	var ver int64
	err := q.QueryRowContext(ctx, selectRosterVersionSQL, user).Scan(&ver)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return ver, err
}

// bumpRosterVersion increments the user's roster version inside tx, the
// transaction of the change it versions, and returns the new value. The
// upsert takes the row lock first, so concurrent changes serialise on it and
// each sees the previous one's increment.
func (s *Store) bumpRosterVersion(ctx context.Context, tx *sql.Tx, user string) (int64, error) {
	if _, err := tx.ExecContext(ctx, s.q.bumpRosterVersion, user); err != nil {
		return 0, err
	}
	return rosterVersion(ctx, tx, user)
}

type scanner interface {
	Scan(dest ...any) error
}

func scanRosterItem(sc scanner) (storage.RosterItem, error) {
	var (
		it     storage.RosterItem
		sub    string
		groups []byte
	)
	if err := sc.Scan(&it.Contact, &it.Name, &sub, &it.Ask, &it.Approved, &groups); err != nil {
		return storage.RosterItem{}, err
	}
	it.Subscription = storage.Subscription(sub)
	var err error
	if it.Groups, err = decodeGroups(groups); err != nil {
		return storage.RosterItem{}, fmt.Errorf("contact %q: %w", it.Contact, err)
	}
	return it, nil
}

// checkText refuses names and groups that are not UTF-8. They come from XML
// character data, so this only catches bugs, but it catches them the same
// way on every engine: JSON would silently replace the bad bytes and a
// MySQL utf8mb4 column would reject them.
func checkText(item storage.RosterItem) error {
	if !utf8.ValidString(item.Name) {
		return errors.New("name is not valid UTF-8")
	}
	for _, g := range item.Groups {
		if !utf8.ValidString(g) {
			return fmt.Errorf("group %q is not valid UTF-8", g)
		}
	}
	return nil
}

func encodeGroups(groups []string) (string, error) {
	if groups == nil {
		groups = []string{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Keep "<" and "&" readable in the column; HTML escaping buys nothing
	// here.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(groups); err != nil {
		return "", fmt.Errorf("encode groups: %w", err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

func decodeGroups(b []byte) ([]string, error) {
	var groups []string
	if err := json.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("decode groups: %w", err)
	}
	if len(groups) == 0 {
		return nil, nil
	}
	return groups, nil
}
