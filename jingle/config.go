package jingle

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/xmpp/router"
)

// Defaults for Config.
const (
	DefaultRingTimeout = 60 * time.Second
	DefaultCallTimeout = time.Hour
	DefaultMaxCalls    = 100_000
	DefaultMaxRinging  = 16
	DefaultMaxCounted  = 10_000
)

// CarbonState says which sessions get XEP-0280 carbons; xmpp/carbons'
// Handler implements it. Jingle uses it to send a direct copy of an answer
// only to the devices that will not get a carbon of it.
type CarbonState interface {
	Enabled(s *router.Session) bool
}

// Config configures the call feature. Its zero value works (no carbons,
// no offline storage of missed-call records, no metrics).
type Config struct {
	// RingTimeout ends a call nobody answered as missed; default 60s.
	RingTimeout time.Duration
	// CallTimeout is how long an answered call stays in the registry
	// without a <finish/> or session-terminate; default 1h.
	CallTimeout time.Duration
	// MaxCalls bounds the registry (about 0.5 KB a call); when it is full
	// the oldest call is forgotten; default 100,000.
	MaxCalls int
	// MaxRinging bounds the calls one account may have ringing at once; a
	// propose beyond it is refused with resource-constraint; default 16.
	MaxRinging int
	// MaxCounted bounds the calls offered through offline storage that
	// are remembered once counted (about 150 bytes each), so that an
	// offer delivered again, after a delivery was cut short, is not
	// counted twice; default 10,000.
	MaxCounted int

	// Carbons tells which sessions get carbons; nil: none do.
	Carbons CarbonState
	// Observers are told about the call messages this package routes
	// itself. It routes them in a router.MessageFilter, so the router does
	// not tell its own observers: pass the same ones (dedupe, carbons,
	// push) in the same order.
	Observers []router.MessageObserver
	// Offline keeps the missed-call retract the server makes when a call
	// offered to an offline account times out; nil: it is not kept.
	Offline router.OfflineHandler

	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
}

func (c Config) withDefaults() Config {
	if c.RingTimeout == 0 {
		c.RingTimeout = DefaultRingTimeout
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = DefaultMaxCalls
	}
	if c.MaxRinging == 0 {
		c.MaxRinging = DefaultMaxRinging
	}
	if c.MaxCounted == 0 {
		c.MaxCounted = DefaultMaxCounted
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.RingTimeout < 0 {
		errs = append(errs, errors.New("jingle: negative ring timeout"))
	}
	if c.CallTimeout < 0 {
		errs = append(errs, errors.New("jingle: negative call timeout"))
	}
	if c.MaxCalls < 0 {
		errs = append(errs, errors.New("jingle: negative max calls"))
	}
	if c.MaxRinging < 0 {
		errs = append(errs, errors.New("jingle: negative max ringing calls"))
	}
	if c.MaxCounted < 0 {
		errs = append(errs, errors.New("jingle: negative max counted calls"))
	}
	return errors.Join(errs...)
}
