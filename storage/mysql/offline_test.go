package mysql

import (
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/storagetest"
)

// TestOfflineQuotaRaceAcrossProcesses: the conformance suite races pushes
// within one Store, where the group committer serialises them anyway. Here
// two Stores on one database (two ringd processes) race for the last place
// of a queue, and InnoDB alone must keep the quota.
func TestOfflineQuotaRaceAcrossProcesses(t *testing.T) {
	testDSN(t)
	tests := []struct {
		name  string
		batch int
	}{
		{"GroupCommit", 0},
		{"NoGroupCommit", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn := freshDSN(t)
			ctx := t.Context()
			var stores [2]*Store
			for i := range stores {
				s, err := Open(ctx, dsn, Options{OfflineBatch: tc.batch})
				if err != nil {
					t.Fatalf("Open() #%d = %v", i+1, err)
				}
				defer s.Close()
				stores[i] = s
			}
			const quota, racers, rounds = 10, 16, 5
			for round := range rounds {
				user := fmt.Sprintf("user%d", round)
				for i := range quota - 1 {
					if _, err := stores[i%2].PushOffline(ctx, user, []byte("old"), epochMS, quota); err != nil {
						t.Fatal(err)
					}
				}
				errs := make([]error, racers)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for r := range racers {
					wg.Go(func() {
						<-start
						_, errs[r] = stores[r%2].PushOffline(ctx, user, fmt.Appendf(nil, "racer %d", r), epochMS, quota)
					})
				}
				close(start)
				wg.Wait()
				won := 0
				for r, err := range errs {
					switch {
					case err == nil:
						won++
					case !errors.Is(err, storage.ErrQuotaExceeded):
						t.Errorf("round %d: PushOffline #%d = %v, want nil or ErrQuotaExceeded", round, r, err)
					}
				}
				if won != 1 {
					t.Errorf("round %d: %d pushes from two processes won the last place, want 1", round, won)
				}
				for i, s := range stores {
					if n, err := s.CountOffline(ctx, user); err != nil || n != quota {
						t.Errorf("round %d: CountOffline via store %d = %d, %v; want %d", round, i+1, n, err, quota)
					}
				}
				if msgs, err := stores[0].OfflineMessages(ctx, user, 0); err != nil || len(msgs) != quota {
					t.Errorf("round %d: %d messages stored, %v; want %d", round, len(msgs), err, quota)
				}
			}
		})
	}
}

// BenchmarkOfflinePushFetch: see storagetest.BenchOfflinePushFetch. It
// also reports the server's commits and statements per stanza, which
// group commit exists to cut: on a server across the network each
// statement is a round trip, and each commit a log flush.
func BenchmarkOfflinePushFetch(b *testing.B) {
	testDSN(b)
	adm := admin(b)
	storagetest.BenchOfflinePushFetch(b, func(b *testing.B, groupCommit bool) storage.Store {
		opts := Options{}
		if !groupCommit {
			opts.OfflineBatch = 1
		}
		return openFresh(b, opts)
	}, func(b *testing.B, _ storage.Store) map[string]int64 {
		return serverCounters(b, adm)
	})
}

// serverCounters reads the server's global commit and statement counts.
// They include every client's work; nothing else uses the test server
// while the benchmark runs.
func serverCounters(b *testing.B, adm *sql.DB) map[string]int64 {
	b.Helper()
	rows, err := adm.QueryContext(b.Context(), `SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_commit', 'Questions')`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			name string
			v    int64
		)
		if err := rows.Scan(&name, &v); err != nil {
			b.Fatal(err)
		}
		out[map[string]string{"Com_commit": "commits", "Questions": "stmts"}[name]] = v
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}
