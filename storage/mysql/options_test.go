package mysql

import (
	"strings"
	"testing"
	"time"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name    string
		in      Options
		want    Options // Logger is not compared
		wantErr string
	}{
		{"Zero", Options{}, Options{
			MaxOpenConns: DefaultMaxOpenConns, MaxIdleConns: DefaultMaxOpenConns,
			ConnMaxLifetime: DefaultConnMaxLifetime, ConnMaxIdleTime: DefaultConnMaxIdleTime,
			LockWaitTimeout: DefaultLockWaitTimeout,
		}, ""},
		{"IdleFollowsOpen", Options{MaxOpenConns: 4}, Options{
			MaxOpenConns: 4, MaxIdleConns: 4,
			ConnMaxLifetime: DefaultConnMaxLifetime, ConnMaxIdleTime: DefaultConnMaxIdleTime,
			LockWaitTimeout: DefaultLockWaitTimeout,
		}, ""},
		{"NegativeMeansNone", Options{MaxOpenConns: 2, MaxIdleConns: -1, ConnMaxLifetime: -1, ConnMaxIdleTime: -1, OfflineBatch: 1}, Options{
			MaxOpenConns: 2, MaxIdleConns: -1, ConnMaxLifetime: -1, ConnMaxIdleTime: -1,
			LockWaitTimeout: DefaultLockWaitTimeout, OfflineBatch: 1,
		}, ""},
		{"NegativeOpen", Options{MaxOpenConns: -1}, Options{}, "MaxOpenConns"},
		{"IdleOverOpen", Options{MaxOpenConns: 2, MaxIdleConns: 3}, Options{}, "MaxIdleConns"},
		{"NegativeLockWait", Options{LockWaitTimeout: -time.Second}, Options{}, "LockWaitTimeout"},
		{"NegativeBatch", Options{OfflineBatch: -1}, Options{}, "OfflineBatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.withDefaults()
			err := got.validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("validate() = %v, want an error about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate() = %v", err)
			}
			if got.Logger == nil {
				t.Error("withDefaults() left Logger nil")
			}
			got.Logger = nil
			if got != tc.want {
				t.Errorf("withDefaults() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLockWaitSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{{time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {10 * time.Second, 10}} {
		if got := (Options{LockWaitTimeout: tc.d}).lockWaitSeconds(); got != tc.want {
			t.Errorf("lockWaitSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestDriverConfigForcesSettings(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
	}{
		{"Plain", "ringd:pw@tcp(db.example.net:3306)/ringd"},
		{"Contrary", "ringd:pw@tcp(db.example.net)/ringd?parseTime=false&charset=latin1&collation=latin1_swedish_ci&interpolateParams=false&multiStatements=true&clientFoundRows=true&sql_mode=%27%27&innodb_lock_wait_timeout=50"},
		{"UnixSocket", "ringd:pw@unix(/run/mysqld/mysqld.sock)/ringd?tls=false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := driverConfig(tc.dsn, Options{LockWaitTimeout: 3 * time.Second}.withDefaults())
			if err != nil {
				t.Fatalf("driverConfig() = %v", err)
			}
			if !cfg.ParseTime || !cfg.InterpolateParams || cfg.MultiStatements || cfg.ClientFoundRows || cfg.Collation != "utf8mb4_bin" {
				t.Errorf("ParseTime %v, InterpolateParams %v, MultiStatements %v, ClientFoundRows %v, Collation %q; want true, true, false, false, utf8mb4_bin",
					cfg.ParseTime, cfg.InterpolateParams, cfg.MultiStatements, cfg.ClientFoundRows, cfg.Collation)
			}
			if got := cfg.Params["sql_mode"]; got != "'"+sqlMode+"'" {
				t.Errorf("sql_mode = %s, want '%s'", got, sqlMode)
			}
			if got := cfg.Params["innodb_lock_wait_timeout"]; got != "3" {
				t.Errorf("innodb_lock_wait_timeout = %s, want 3", got)
			}
			// The charset itself is unexported in the driver's Config; it
			// shows in the DSN the config formats.
			if f := cfg.FormatDSN(); !strings.Contains(f, "charset=utf8mb4") {
				t.Errorf("FormatDSN() = %q, want charset=utf8mb4", f)
			}
		})
	}
}

func TestDriverConfigErrors(t *testing.T) {
	const secret = "s3cr3t-pa55"
	tests := []struct {
		name string
		dsn  string
		want string
	}{
		{"NoDatabase", "ringd:" + secret + "@tcp(db.example.net:3306)/", "names no database"},
		{"NoSlash", "ringd:" + secret + "@tcp(db.example.net:3306)", "parse DSN"},
		{"BadParam", "ringd:" + secret + "@tcp(db.example.net:3306)/ringd?parseTime=maybe", "parse DSN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := driverConfig(tc.dsn, Options{}.withDefaults())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("driverConfig(%q) = %v, want an error saying %q", tc.dsn, err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestMigrateLockName(t *testing.T) {
	long := strings.Repeat("d", 64)
	tests := []struct {
		db   string
		want string
	}{
		{"ringd", "ringd_migrate:ringd"},
		{long, ""},
	}
	for _, tc := range tests {
		got := migrateLockName(tc.db)
		if tc.want != "" && got != tc.want {
			t.Errorf("migrateLockName(%q) = %q, want %q", tc.db, got, tc.want)
		}
		if len(got) > 64 {
			t.Errorf("migrateLockName(%q) = %q: %d characters, MySQL allows 64", tc.db, got, len(got))
		}
	}
	if migrateLockName(long) == migrateLockName(long+"x") {
		t.Error("two long database names share a lock name")
	}
}
