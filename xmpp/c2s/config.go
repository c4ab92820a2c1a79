package c2s

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

// Config configures the c2s server.
type Config struct {
	Domain string
	TLS    *tls.Config // certificate for STARTTLS and direct TLS
	Users  storage.Users
	Router *router.Router
	// Secret (≥16 bytes, stable across restarts) derives the fake SCRAM
	// salts shown for unknown users, so they cannot be told from real ones.
	Secret []byte
	// Journal, when set, keeps a durable record of every message queued
	// for a client with stream management until that client acknowledges
	// it, and the server's acknowledgements to senders wait for those
	// records (see sm.go). nil keeps such messages in memory only.
	Journal Journal

	MaxStanzaBytes     int           // default 256 KiB
	AuthTimeout        time.Duration // connect → bound resource; default 30s
	OutboundQueueBytes int           // default 1 MiB
	WriteTimeout       time.Duration // per batch written to a client; default 30s
	MaxAuthAttempts    int           // failed SASL attempts per connection; default 3
	// CloseTimeout is how long the server waits for the client to close
	// its stream after sending its own closing tag (RFC 6120 §4.4) before
	// closing the socket; default 2s.
	CloseTimeout time.Duration

	// Stream management (XEP-0198). ResumeTimeout is how long a session
	// whose connection broke waits, bound and queueing, for the client
	// to resume it; default 5 minutes. MaxUnacked is how many stanzas a
	// client may leave unacknowledged: the server writes no more until
	// acks come (the rest waits in the queue, bounded by
	// OutboundQueueBytes), and a hibernating session that would hold more
	// ends; default 1000. AckEvery is how many stanzas the server writes
	// before it asks for an ack with <r/> (it also asks when it has
	// nothing more to write, with one request outstanding at most);
	// default 10. ResumeLocation is the host:port offered for resumption
	// (<enabled location/>); empty: none, the client reconnects as usual.
	ResumeTimeout  time.Duration
	MaxUnacked     int
	AckEvery       int
	ResumeLocation string

	// StreamFeatures are extra elements offered after authentication (e.g.
	// roster versioning); each is a complete element.
	StreamFeatures [][]byte

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.MaxStanzaBytes <= 0 {
		c.MaxStanzaBytes = 256 << 10
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 30 * time.Second
	}
	if c.OutboundQueueBytes <= 0 {
		c.OutboundQueueBytes = 1 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 2 * time.Second
	}
	if c.ResumeTimeout <= 0 {
		c.ResumeTimeout = 5 * time.Minute
	}
	if c.MaxUnacked <= 0 {
		c.MaxUnacked = 1000
	}
	if c.AckEvery <= 0 {
		c.AckEvery = 10
	}
	if c.MaxAuthAttempts <= 0 {
		c.MaxAuthAttempts = 3
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Domain == "" {
		errs = append(errs, errors.New("c2s: no domain"))
	}
	if c.TLS == nil {
		errs = append(errs, errors.New("c2s: no TLS config"))
	}
	if c.Users == nil {
		errs = append(errs, errors.New("c2s: no user store"))
	}
	if len(c.Secret) < 16 {
		errs = append(errs, errors.New("c2s: secret must be at least 16 bytes"))
	}
	if c.Router == nil {
		errs = append(errs, errors.New("c2s: no router"))
	}
	return errors.Join(errs...)
}

// Journal keeps the in-flight records of messages queued for clients that
// acknowledge (XEP-0198); *inflight.Journal implements it. Records are
// committed in numbered batches.
type Journal interface {
	// Add records raw, queued for a client of the account user, and
	// returns the record's id, 0 when it keeps no record.
	Add(user string, raw []byte) int64
	// Release ends records: their messages were acknowledged by the
	// client or handed back to the router.
	Release(ids ...int64)
	// Added counts the records ever added.
	Added() uint64
	// Batch is the number of the batch being filled.
	Batch() uint64
	// Durable reports whether batch seq and all before it are committed.
	Durable(seq uint64) bool
	// OnDurable runs fn (which must not block) once batch seq is durable.
	OnDurable(seq uint64, fn func())
	// WaitDurable waits until batch seq is durable.
	WaitDurable(ctx context.Context, seq uint64) error
}
