package server

import (
	"context"
	"log/slog"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/jingle"
	"github.com/ringd/ringd/presence"
	"github.com/ringd/ringd/roster"
	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/blocking"
	"github.com/ringd/ringd/xmpp/carbons"
	"github.com/ringd/ringd/xmpp/dedupe"
	"github.com/ringd/ringd/xmpp/disco"
	"github.com/ringd/ringd/xmpp/extdisco"
	"github.com/ringd/ringd/xmpp/offline"
	"github.com/ringd/ringd/xmpp/ping"
	"github.com/ringd/ringd/xmpp/push"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/version"
)

// registerFeatures plugs every feature into the router and returns the
// stream features they add after authentication.
func (s *Server) registerFeatures(rt *router.Router, store storage.Store, reg prometheus.Registerer) ([][]byte, error) {
	var streamFeatures [][]byte
	disco.Register(rt, "ringd")
	ping.Register(rt)
	version.Register(rt, "ringd", s.cfg.Version)
	// XEP-0359: the router stamps stanza-ids on messages it delivers.
	rt.AddFeature(router.ToAccount, router.NSSID)
	// XEP-0215: STUN/TURN services with fresh credentials, the embedded
	// relay's (started by Run) and external ones.
	if services := append(slices.Clone(s.turnServices), s.cfg.TURN.External...); len(services) > 0 {
		ed, err := extdisco.New(extdisco.Config{Services: services, TTL: s.cfg.TURN.TTL})
		if err != nil {
			return nil, err
		}
		ed.Register(rt)
	}

	ro, err := roster.New(roster.Config{Store: store, Logger: s.log.With("component", "roster")})
	if err != nil {
		return nil, err
	}
	ro.Register(rt)
	streamFeatures = append(streamFeatures, roster.StreamFeatures()...)

	// XEP-0191: the router's stanza gate, which sees every stanza before
	// the features below, so a blocked caller's offer is never stored,
	// pushed or rung.
	bl, err := blocking.New(blocking.Config{Store: store, Rosters: store, Logger: s.log.With("component", "blocking"), Registerer: reg})
	if err != nil {
		return nil, err
	}
	bl.Register(rt)

	pr, err := registerPresence(rt, store, bl, reg, s.log.With("component", "presence"))
	if err != nil {
		return nil, err
	}
	bl.SetDirected(pr) // a block also takes back directed presence
	var beforeDelete func(context.Context) error
	if j := s.journal; j != nil {
		beforeDelete = func(ctx context.Context) error { return j.WaitDurable(ctx, j.Batch()) }
	}
	off, err := offline.New(offline.Config{
		Router: rt, Store: store, Domain: s.cfg.Domain, Quota: s.cfg.Offline.Quota, BeforeDelete: beforeDelete,
		Logger: s.log.With("component", "offline"), Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	off.Register(rt)
	s.offline = off
	// XEP-0357: wake offline devices; after offline storage, never instead.
	ps, err := push.New(push.Config{Router: rt, Store: store, Logger: s.log.With("component", "push"), Registerer: reg})
	if err != nil {
		return nil, err
	}
	ps.Register(rt)

	// Retries are dropped before any other message filter sees them.
	dd, err := dedupe.New(dedupe.Config{Window: s.cfg.Delivery.DedupeWindow, Registerer: reg})
	if err != nil {
		return nil, err
	}
	dd.Register(rt)
	cb, err := carbons.New(carbons.Config{Logger: s.log.With("component", "carbons"), Registerer: reg})
	if err != nil {
		return nil, err
	}
	cb.Register(rt)

	// Calls (XEP-0353): after dedupe and carbons, so retries and forged
	// carbons never reach its filter. It routes call offers itself, so it
	// tells the router's message observers itself: keep Observers equal to
	// the observers registered above (push, dedupe, carbons), in the same
	// order.
	jg, err := jingle.New(jingle.Config{
		RingTimeout: s.cfg.Jingle.RingTimeout,
		Carbons:     cb,
		Observers:   []router.MessageObserver{ps, dd, cb},
		Offline:     off,
		Logger:      s.log.With("component", "jingle"),
		Registerer:  reg,
	})
	if err != nil {
		return nil, err
	}
	jg.Register(rt)
	rt.AddIQObserver(jingle.NS, jg)
	// A call offer stored before a crash is followed, at delivery, by the
	// missed-call record the ring timer could not store.
	off.SetFollower(jg)
	s.closers = append(s.closers, func(ctx context.Context) error { jg.Close(); return nil }, ps.Close)
	return streamFeatures, nil
}

// registerPresence installs the presence feature; blocker keeps its
// broadcasts and probe answers from crossing a XEP-0191 block.
func registerPresence(rt *router.Router, store storage.Store, blocker presence.Blocker, reg prometheus.Registerer, log *slog.Logger) (*presence.Presence, error) {
	p, err := presence.New(presence.Config{Router: rt, Rosters: store, Blocker: blocker, Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	p.Register(rt)
	return p, nil
}
