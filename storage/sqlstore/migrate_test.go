package sqlstore

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string
	}{
		{"Empty", "", nil},
		{"OnlyComments", "-- nothing\n/* at all */\n", nil},
		{"One", "CREATE TABLE a (x INT)", []string{"CREATE TABLE a (x INT)"}},
		{"TrailingSemicolonAndComment", "CREATE TABLE a (x INT);\n-- the end\n", []string{"CREATE TABLE a (x INT)"}},
		{"Several", "CREATE TABLE a (x INT);\n\nCREATE TABLE b (y INT);;", []string{"CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"}},
		{"SemicolonInQuotes", "INSERT INTO a VALUES ('x;y', \"p;q\", `r;s`); SELECT 1", []string{"INSERT INTO a VALUES ('x;y', \"p;q\", `r;s`)", "SELECT 1"}},
		{"DoubledQuote", "SELECT 'it''s; fine'; SELECT 2", []string{"SELECT 'it''s; fine'", "SELECT 2"}},
		{"SemicolonInComments", "-- a; b\nSELECT 1; /* c; d */ SELECT 2", []string{"-- a; b\nSELECT 1", "/* c; d */ SELECT 2"}},
		{"CommentAtEnd", "SELECT 1 -- trailing; comment", []string{"SELECT 1 -- trailing; comment"}},
		{"UnterminatedBlockComment", "SELECT 1; /* open", []string{"SELECT 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitStatements(tc.script); !slices.Equal(got, tc.want) {
				t.Errorf("SplitStatements(%q) = %q, want %q", tc.script, got, tc.want)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name     string
		files    fstest.MapFS
		versions []int64
		wantErr  bool
	}{
		{"Ordered", fstest.MapFS{
			"m/0010_later.sql":  file("B"),
			"m/0002_second.sql": file("A"),
			"m/0001_first.sql":  file("C"),
			"m/README.md":       file("not a migration"),
		}, []int64{1, 2, 10}, false},
		{"Empty", fstest.MapFS{"m/README.md": file("")}, nil, false},
		{"DuplicateVersion", fstest.MapFS{"m/0001_a.sql": file(""), "m/1_b.sql": file("")}, nil, true},
		{"NoUnderscore", fstest.MapFS{"m/0001.sql": file("")}, nil, true},
		{"NotANumber", fstest.MapFS{"m/first_a.sql": file("")}, nil, true},
		{"Zero", fstest.MapFS{"m/0000_a.sql": file("")}, nil, true},
		{"MissingDir", fstest.MapFS{}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := LoadMigrations(tc.files, "m")
			if (err != nil) != tc.wantErr {
				t.Fatalf("LoadMigrations() error = %v, want error %v", err, tc.wantErr)
			}
			var got []int64
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if !slices.Equal(got, tc.versions) {
				t.Errorf("LoadMigrations() versions = %v, want %v", got, tc.versions)
			}
		})
	}
}

var createTableRE = regexp.MustCompile(`(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)`)

// TestSchemasMatch holds the two engines' migrations to the same versions
// and tables, so that one is not changed without the other.
func TestSchemasMatch(t *testing.T) {
	lite, err := SQLiteMigrations()
	if err != nil {
		t.Fatalf("SQLiteMigrations() = %v", err)
	}
	my, err := MySQLMigrations()
	if err != nil {
		t.Fatalf("MySQLMigrations() = %v", err)
	}
	if len(lite) == 0 {
		t.Fatal("SQLiteMigrations() is empty")
	}
	if len(lite) != len(my) {
		t.Fatalf("%d SQLite migrations, %d MySQL ones; want the same", len(lite), len(my))
	}
	for i := range lite {
		if lite[i].Version != my[i].Version {
			t.Errorf("migration %d: SQLite %s, MySQL %s; want the same version", i, lite[i].Name, my[i].Name)
		}
		lt, mt := tables(lite[i].SQL), tables(my[i].SQL)
		if !slices.Equal(lt, mt) {
			t.Errorf("%s creates tables %q on SQLite, %q on MySQL; want the same", lite[i].Name, lt, mt)
		}
		for _, stmt := range SplitStatements(my[i].SQL) {
			if strings.HasPrefix(strings.ToUpper(stripComments(stmt)), "CREATE TABLE") && !strings.Contains(strings.ToUpper(stmt), "IF NOT EXISTS") {
				t.Errorf("%s: MySQL CREATE TABLE without IF NOT EXISTS cannot be re-run: %.60q", my[i].Name, stmt)
			}
		}
	}
}

func tables(script string) []string {
	var ts []string
	for _, m := range createTableRE.FindAllStringSubmatch(script, -1) {
		ts = append(ts, m[1])
	}
	slices.Sort(ts)
	return ts
}

func stripComments(stmt string) string {
	var lines []string
	for _, l := range strings.Split(stmt, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func TestUpsert(t *testing.T) {
	tests := []struct {
		name  string
		style UpsertStyle
		set   string
		raw   string
	}{
		{"OnConflict", UpsertOnConflict,
			"ON CONFLICT (username, contact) DO UPDATE SET name = excluded.name, ask = excluded.ask",
			"ON CONFLICT (username) DO UPDATE SET version = version + 1"},
		{"OnDuplicateKey", UpsertOnDuplicateKey,
			"ON DUPLICATE KEY UPDATE name = VALUES(name), ask = VALUES(ask)",
			"ON DUPLICATE KEY UPDATE version = version + 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Dialect{Upsert: tc.style}
			if got := d.upsertSet([]string{"username", "contact"}, "name", "ask"); got != tc.set {
				t.Errorf("upsertSet() = %q, want %q", got, tc.set)
			}
			if got := d.upsertRaw([]string{"username"}, "version = version + 1"); got != tc.raw {
				t.Errorf("upsertRaw() = %q, want %q", got, tc.raw)
			}
		})
	}
}

func TestNewValidatesDialect(t *testing.T) {
	yes := func(error) bool { return true }
	tests := []struct {
		name string
		d    Dialect
		ok   bool
	}{
		{"Complete", Dialect{Name: "x", Upsert: UpsertOnConflict, IsConflict: yes, IsRetryable: yes}, true},
		{"NoName", Dialect{Upsert: UpsertOnConflict, IsConflict: yes, IsRetryable: yes}, false},
		{"NoUpsert", Dialect{Name: "x", IsConflict: yes, IsRetryable: yes}, false},
		{"NoIsConflict", Dialect{Name: "x", Upsert: UpsertOnDuplicateKey, IsRetryable: yes}, false},
		{"NoIsRetryable", Dialect{Name: "x", Upsert: UpsertOnDuplicateKey, IsConflict: yes}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.d.validate(); (err == nil) != tc.ok {
				t.Errorf("validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
