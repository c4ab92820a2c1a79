package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ringd/ringd/storage"
)

const (
	insertUserSQL = `INSERT INTO users
	(username, salt, iterations, stored_key_sha1, server_key_sha1, stored_key_sha256, server_key_sha256, created_ms)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	deleteUserSQL        = `DELETE FROM users WHERE username = ?`
	updateCredentialsSQL = `UPDATE users SET salt = ?, iterations = ?, stored_key_sha1 = ?, server_key_sha1 = ?, stored_key_sha256 = ?, server_key_sha256 = ? WHERE username = ?`
	selectCredentialsSQL = `SELECT salt, iterations, stored_key_sha1, server_key_sha1, stored_key_sha256, server_key_sha256 FROM users WHERE username = ?`
	selectUserExistsSQL  = `SELECT 1 FROM users WHERE username = ?`
	selectUsernamesSQL   = `SELECT username FROM users ORDER BY username`
	countUsersSQL        = `SELECT COUNT(*) FROM users`
)

// CreateUser implements storage.Users.
func (s *Store) CreateUser(ctx context.Context, username string, cred storage.Credentials) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertUserSQL, username, cred.Salt, cred.Iterations,
			cred.StoredKey1, cred.ServerKey1, cred.StoredKey256, cred.ServerKey256,
			time.Now().UnixMilli())
		if err != nil {
			if s.d.IsConflict(err) {
				return storage.ErrConflict
			}
			return err
		}
		// A roster write racing a DeleteUser (the server acting for a
		// session that the CLI is deleting) can leave rows behind; a new
		// account must not inherit them.
		return s.purgeUser(ctx, tx, username)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create user %q: %w", username, err)
	}
	return nil
}

// DeleteUser implements storage.Users.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, deleteUserSQL, username)
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
		return s.purgeUser(ctx, tx, username)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete user %q: %w", username, err)
	}
	return nil
}

func (s *Store) purgeUser(ctx context.Context, tx *sql.Tx, username string) error {
	for _, q := range s.q.purgeUser {
		if _, err := tx.ExecContext(ctx, q, username); err != nil {
			return err
		}
	}
	return nil
}

// SetCredentials implements storage.Users.
func (s *Store) SetCredentials(ctx context.Context, username string, cred storage.Credentials) error {
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, updateCredentialsSQL, cred.Salt, cred.Iterations,
			cred.StoredKey1, cred.ServerKey1, cred.StoredKey256, cred.ServerKey256, username)
		if err != nil {
			return err
		}
		n, err := rowsAffected(res)
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		// MySQL counts changed rows, not matched ones: rewriting identical
		// credentials reports 0 though the user exists.
		ok, err := exists(ctx, tx, selectUserExistsSQL, username)
		if err != nil {
			return err
		}
		if !ok {
			return storage.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: set credentials of %q: %w", username, err)
	}
	return nil
}

// Credentials implements storage.Users.
func (s *Store) Credentials(ctx context.Context, username string) (storage.Credentials, error) {
	var c storage.Credentials
	err := s.query(ctx, func() error {
		return s.db.QueryRowContext(ctx, selectCredentialsSQL, username).Scan(
			&c.Salt, &c.Iterations, &c.StoredKey1, &c.ServerKey1, &c.StoredKey256, &c.ServerKey256)
	})
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return storage.Credentials{}, fmt.Errorf("sqlstore: credentials of %q: %w", username, err)
	}
	return c, nil
}

// UserExists implements storage.Users.
func (s *Store) UserExists(ctx context.Context, username string) (bool, error) {
	var ok bool
	err := s.query(ctx, func() (err error) {
		ok, err = exists(ctx, s.db, selectUserExistsSQL, username)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: user exists %q: %w", username, err)
	}
	return ok, nil
}

// ListUsers implements storage.Users. Byte order comes from the schema:
// usernames are BINARY-collated TEXT in SQLite and VARBINARY in MySQL.
func (s *Store) ListUsers(ctx context.Context) ([]string, error) {
	var users []string
	err := s.query(ctx, func() (err error) {
		users, err = s.listUsers(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	return users, nil
}

func (s *Store) listUsers(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, selectUsernamesSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// CountUsers implements storage.Users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.query(ctx, func() error { return s.db.QueryRowContext(ctx, countUsersSQL).Scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("sqlstore: count users: %w", err)
	}
	return n, nil
}
