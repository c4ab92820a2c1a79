package sqlite

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlstore"
	"github.com/ringd/ringd/storage/storagetest"
)

// The figures include an fsync per commit (synchronous=FULL), so they
// depend on the disk more than on the CPU.

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchCredentials() storage.Credentials {
	return storage.Credentials{
		Salt: make([]byte, 16), Iterations: 4096,
		StoredKey1: make([]byte, 20), ServerKey1: make([]byte, 20),
		StoredKey256: make([]byte, 32), ServerKey256: make([]byte, 32),
	}
}

func BenchmarkCreateUser(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	cred := benchCredentials()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.CreateUser(ctx, fmt.Sprintf("user%d", i), cred); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCredentials is the lookup every SCRAM login does.
func BenchmarkCredentials(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	const users = 1000
	for i := range users {
		if err := s.CreateUser(ctx, fmt.Sprintf("user%d", i), benchCredentials()); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Credentials(ctx, fmt.Sprintf("user%d", i%users)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Credentials(ctx, fmt.Sprintf("user%d", n.Add(1)%users)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkPutRosterItem(b *testing.B) {
	item := func(i int) storage.RosterItem {
		return storage.RosterItem{
			Contact:      fmt.Sprintf("contact%d@example.net", i%200),
			Name:         "Contact",
			Subscription: storage.SubBoth,
			Groups:       []string{"Friends", "Work"},
		}
	}
	b.Run("Serial", func(b *testing.B) {
		s := benchStore(b)
		ctx := b.Context()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.PutRosterItem(ctx, "alice", item(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("ParallelOneUser", func(b *testing.B) {
		s := benchStore(b)
		ctx := b.Context()
		b.ReportAllocs()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.PutRosterItem(ctx, "alice", item(int(n.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkRoster(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	const items = 200
	for i := range items {
		it := storage.RosterItem{Contact: fmt.Sprintf("contact%03d@example.net", i), Name: "Contact", Subscription: storage.SubBoth, Groups: []string{"Friends"}}
		if _, err := s.PutRosterItem(ctx, "alice", it); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		got, _, err := s.Roster(ctx, "alice")
		if err != nil || len(got) != items {
			b.Fatalf("Roster() = %d items, %v", len(got), err)
		}
	}
}

// BenchmarkOfflinePushFetch: see storagetest.BenchOfflinePushFetch. With
// group commit off, every push is a transaction and an fsync of its own.
func BenchmarkOfflinePushFetch(b *testing.B) {
	storagetest.BenchOfflinePushFetch(b, func(b *testing.B, groupCommit bool) storage.Store {
		cfg := sqlstore.Config{}
		if !groupCommit {
			cfg.OfflineBatch = 1
		}
		s, err := open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), cfg)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}, nil)
}
