package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/disco"
	"github.com/ringd/ringd/xmpp/ping"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/version"
)

// registerFeatures plugs every feature into the router and returns the
// stream features they add after authentication.
func (s *Server) registerFeatures(rt *router.Router, store storage.Store, reg prometheus.Registerer) ([][]byte, error) {
	disco.Register(rt, "ringd")
	ping.Register(rt)
	version.Register(rt, "ringd", defaultVersion)
	return nil, nil
}
