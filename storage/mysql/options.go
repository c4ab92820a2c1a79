package mysql

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxOpenConns    = 16
	DefaultConnMaxLifetime = 30 * time.Minute
	DefaultConnMaxIdleTime = 5 * time.Minute
	DefaultLockWaitTimeout = 10 * time.Second
)

// Options tunes the connection pool and the sessions of a Store. The zero
// value is ready to use.
type Options struct {
	// MaxOpenConns bounds the connections to the server (0:
	// DefaultMaxOpenConns). Calls beyond it wait for a free connection,
	// within their ctx. Keep the sum over all ringd processes under the
	// server's max_connections.
	MaxOpenConns int
	// MaxIdleConns is how many connections stay open when idle (0: as
	// many as MaxOpenConns; negative: none).
	MaxIdleConns int
	// ConnMaxLifetime retires connections after this long, so that load
	// balancers, failovers and server-side wait_timeout (8 h by default)
	// never find them first (0: DefaultConnMaxLifetime; negative: never).
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes connections idle for this long (0:
	// DefaultConnMaxIdleTime; negative: never).
	ConnMaxIdleTime time.Duration
	// LockWaitTimeout is the session's innodb_lock_wait_timeout, rounded
	// up to whole seconds (0: DefaultLockWaitTimeout). InnoDB's default of
	// 50 s is far longer than any ringd call may wait; a transaction that
	// times out (error 1205) is retried from the start.
	LockWaitTimeout time.Duration
	// OfflineBatch is the most PushOffline calls committed in one
	// transaction (0: sqlstore.DefaultOfflineBatch; 1: no group commit).
	OfflineBatch int
	// OfflineCommitters is how many such transactions may run at once
	// (0: sqlstore.DefaultOfflineCommitters).
	OfflineCommitters int
	// Logger receives the driver's own messages (a connection that broke
	// mid-packet, say) at Warn level; nil discards them. Errors returned
	// by Store methods are not logged.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}
	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = o.MaxOpenConns
	}
	if o.ConnMaxLifetime == 0 {
		o.ConnMaxLifetime = DefaultConnMaxLifetime
	}
	if o.ConnMaxIdleTime == 0 {
		o.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	if o.LockWaitTimeout == 0 {
		o.LockWaitTimeout = DefaultLockWaitTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.MaxOpenConns < 1 {
		errs = append(errs, fmt.Errorf("MaxOpenConns %d: want at least 1", o.MaxOpenConns))
	}
	if o.MaxIdleConns > o.MaxOpenConns {
		errs = append(errs, fmt.Errorf("MaxIdleConns %d exceeds MaxOpenConns %d", o.MaxIdleConns, o.MaxOpenConns))
	}
	if o.LockWaitTimeout < 0 || o.LockWaitTimeout > 24*time.Hour {
		errs = append(errs, fmt.Errorf("LockWaitTimeout %v: want between 1 s and 24 h", o.LockWaitTimeout))
	}
	if o.OfflineBatch < 0 {
		errs = append(errs, fmt.Errorf("OfflineBatch %d: want at least 1 (0 for the default)", o.OfflineBatch))
	}
	if o.OfflineCommitters < 0 {
		errs = append(errs, fmt.Errorf("OfflineCommitters %d: want at least 1 (0 for the default)", o.OfflineCommitters))
	}
	return errors.Join(errs...)
}

// lockWaitSeconds is LockWaitTimeout in whole seconds, at least 1.
func (o Options) lockWaitSeconds() int64 {
	return max(1, int64((o.LockWaitTimeout+time.Second-1)/time.Second))
}
