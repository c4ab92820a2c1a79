package main

import (
	"testing"
)

// TestContactGraph checks what the scenario relies on: every user has
// exactly K distinct contacts, and contact is symmetric.
func TestContactGraph(t *testing.T) {
	for _, g := range []contactGraph{{2, 1}, {3, 2}, {10, 1}, {10, 3}, {10, 9}, {11, 4}, {100, 20}, {1000, 51}} {
		for i := range g.users {
			cs := g.of(i)
			if len(cs) != g.contacts {
				t.Fatalf("%+v: user %d has %d contacts %v", g, i, len(cs), cs)
			}
			for _, j := range cs {
				if j == i || !g.isContact(j, i) {
					t.Fatalf("%+v: %d→%d is not symmetric or is a self-contact", g, i, j)
				}
			}
		}
	}
	if (contactGraph{10, 2}).isContact(0, 10) {
		t.Error("out-of-range user counted as a contact")
	}
}

func TestUserIndex(t *testing.T) {
	tests := []struct {
		jid  string
		want int
		ok   bool
	}{
		{"bench0@localhost", 0, true},
		{"bench1234@localhost/rb", 1234, true},
		{"bench12@localhost", 12, true},
		{"bench012@localhost", 0, false},
		{"bench@localhost", 0, false},
		{"bench1x@localhost", 0, false},
		{"bench1@example.org", 0, false},
		{"other1@localhost", 0, false},
		{"bench1234567890@localhost", 0, false},
		{"localhost", 0, false},
	}
	for _, tc := range tests {
		got, ok := userIndex([]byte(tc.jid), "bench", "localhost")
		if ok != tc.ok || got != tc.want {
			t.Errorf("userIndex(%q) = %d, %v; want %d, %v", tc.jid, got, ok, tc.want, tc.ok)
		}
	}
}
