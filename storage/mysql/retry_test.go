package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/ringd/ringd/storage"
)

// killConnections kills the store's connections to database dbName whose
// running statement starts with prefix (all of them for ""), and returns
// how many it killed.
func killConnections(t *testing.T, adm *sql.DB, dbName, prefix string) int {
	t.Helper()
	ctx := t.Context()
	rows, err := adm.QueryContext(ctx, `SELECT id FROM information_schema.processlist
		WHERE db = ? AND id <> CONNECTION_ID() AND (? = '' OR info LIKE CONCAT(?, '%'))`, dbName, prefix, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := adm.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
			t.Fatalf("KILL CONNECTION %d: %v", id, err)
		}
	}
	return len(ids)
}

// TestIdleConnectionsKilled: the server (or a proxy, or a failover) drops
// every pooled connection; the next calls reconnect without an error.
func TestIdleConnectionsKilled(t *testing.T) {
	dsn := freshDSN(t)
	name := dbName(t, dsn)
	s, err := Open(t.Context(), dsn, Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	// Fill the pool with idle connections.
	var conns []*sql.Conn
	for range 4 {
		c, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	// The dead connection is found at its next use; the database name
	// identifies the store's connections.
	if n := killConnections(t, admin(t), name, ""); n != 4 {
		t.Fatalf("killed %d connections, want the 4 of the pool", n)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { return s.CreateUser(ctx, "alice", storage.Credentials{Iterations: 1}) }},
		{"Credentials", func() error { _, err := s.Credentials(ctx, "alice"); return err }},
		{"PutRosterItem", func() error {
			_, err := s.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: "bob@example.net"})
			return err
		}},
		{"PushOffline", func() error { _, err := s.PushOffline(ctx, "alice", []byte("<message/>"), epochMS, 0); return err }},
		{"OfflineMessages", func() error { _, err := s.OfflineMessages(ctx, "alice", 0); return err }},
	}
	for _, c := range calls {
		if err := c.call(); err != nil {
			t.Errorf("%s after the pool was killed = %v", c.name, err)
		}
	}
}

// TestInFlightConnectionKilled kills the connection under a call while it
// waits for a row lock, so the driver fails the statement with "invalid
// connection", and checks that the call is retried on a new connection
// and takes effect exactly once. None of these has sent COMMIT when the
// connection dies, so each is safe to run again.
func TestInFlightConnectionKilled(t *testing.T) {
	testDSN(t)
	tests := []struct {
		name string
		// setup runs before the lock is taken.
		setup func(ctx context.Context, t *testing.T, s *Store)
		// lock is the row the call will wait for, as SQL run by the
		// other connection (%s is the database).
		lock string
		// prefix starts the statement that waits for it.
		prefix string
		call   func(ctx context.Context, s *Store) error
		check  func(ctx context.Context, t *testing.T, s *Store)
	}{
		{"SetCredentials",
			func(ctx context.Context, t *testing.T, s *Store) {
				if err := s.CreateUser(ctx, "alice", storage.Credentials{Iterations: 1}); err != nil {
					t.Fatal(err)
				}
			},
			"SELECT * FROM %s.users WHERE username = 'alice' FOR UPDATE", "UPDATE users",
			func(ctx context.Context, s *Store) error {
				return s.SetCredentials(ctx, "alice", storage.Credentials{Iterations: 2})
			},
			func(ctx context.Context, t *testing.T, s *Store) {
				if c, err := s.Credentials(ctx, "alice"); err != nil || c.Iterations != 2 {
					t.Errorf("Credentials(alice) = %d iterations, %v; want 2", c.Iterations, err)
				}
			}},
		{"PutRosterItem",
			func(ctx context.Context, t *testing.T, s *Store) {
				if _, err := s.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: "bob@example.net"}); err != nil {
					t.Fatal(err)
				}
			},
			"SELECT * FROM %s.roster_versions WHERE username = 'alice' FOR UPDATE", "INSERT INTO roster_versions",
			func(ctx context.Context, s *Store) error {
				_, err := s.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: "carol@example.net"})
				return err
			},
			func(ctx context.Context, t *testing.T, s *Store) {
				// Bumped once, not twice: the killed attempt rolled back.
				if items, v, err := s.Roster(ctx, "alice"); err != nil || v != 2 || len(items) != 2 {
					t.Errorf("Roster(alice) = %d items, version %d, %v; want 2, 2", len(items), v, err)
				}
			}},
		{"PushOffline",
			func(ctx context.Context, t *testing.T, s *Store) {
				if _, err := s.PushOffline(ctx, "alice", []byte("first"), epochMS, 10); err != nil {
					t.Fatal(err)
				}
			},
			"SELECT * FROM %s.offline_queues WHERE username = 'alice' FOR UPDATE", "INSERT INTO offline_queues",
			func(ctx context.Context, s *Store) error {
				_, err := s.PushOffline(ctx, "alice", []byte("second"), epochMS, 10)
				return err
			},
			func(ctx context.Context, t *testing.T, s *Store) {
				msgs, err := s.OfflineMessages(ctx, "alice", 0)
				if err != nil || len(msgs) != 2 || string(msgs[1].Stanza) != "second" {
					t.Errorf("OfflineMessages(alice) = %d messages, %v; want first and second, once each", len(msgs), err)
				}
				if n, err := s.CountOffline(ctx, "alice"); err != nil || n != 2 {
					t.Errorf("CountOffline(alice) = %d, %v; want 2", n, err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn := freshDSN(t)
			name := dbName(t, dsn)
			s, err := Open(t.Context(), dsn, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := t.Context()
			tc.setup(ctx, t, s)

			adm := admin(t)
			holder := begin(t, adm)
			defer holder.Rollback()
			mustExec(t, holder, fmt.Sprintf(tc.lock, name))
			done := make(chan error, 1)
			go func() { done <- tc.call(ctx, s) }()
			killed := 0
			waitFor(t, "the call to wait for the lock, to kill it", func() bool {
				killed = killConnections(t, adm, name, tc.prefix)
				return killed > 0
			})
			if err := holder.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("%s with its connection killed = %v, want it retried", tc.name, err)
			}
			tc.check(ctx, t, s)
		})
	}
}
