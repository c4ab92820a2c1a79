package main

import "testing"

func TestLuaString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bench0@localhost", `"bench0@localhost"`},
		{`pa"ss\word`, `"pa\"ss\\word"`},
		{"tab\there", `"tab\009here"`},
	}
	for _, tc := range tests {
		if got := luaString(tc.in); got != tc.want {
			t.Errorf("luaString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
