package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlstore"
)

func TestZZGate(t *testing.T) {
	for round := range 3 {
		for _, gate := range []bool{false, true} {
			db, err := openDB(t.Context(), filepath.Join(t.TempDir(), "x.db"))
			if err != nil { t.Fatal(err) }
			ms, _ := sqlstore.SQLiteMigrations()
			sqlstore.Migrate(t.Context(), db, ms)
			d := Dialect()
			d.SingleWriter = gate
			s, _ := sqlstore.New(db, d)
			var mu sync.Mutex
			var lat []time.Duration
			start := time.Now()
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := range 50 {
						t0 := time.Now()
						if _, err := s.PutRosterItem(t.Context(), "alice", storage.RosterItem{Contact: fmt.Sprint(w, i)}); err != nil { t.Error(err) }
						mu.Lock(); lat = append(lat, time.Since(t0)); mu.Unlock()
					}
				})
			}
			wg.Wait()
			slices.Sort(lat)
			t.Logf("round %d gate=%v total=%v p50=%v p99=%v max=%v", round, gate, time.Since(start), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
			s.Close()
		}
	}
}
