package turn

import "github.com/prometheus/client_golang/prometheus"

// Label values of ringd_turn_allocations_total{result}.
const (
	resultCreated      = "created"      // the allocation exists
	resultUnauthorized = "unauthorized" // bad, expired or tampered credentials: 401
	resultQuota        = "quota"        // the user's quota was full: 486
)

// Label values of ringd_turn_auth_failures_total{reason}.
const (
	authExpired  = "expired" // the username's expiry has passed
	authInvalid  = "invalid" // not a TURN REST username, or MESSAGE-INTEGRITY does not match
	authBadRealm = "realm"   // the request names another realm
)

type metrics struct {
	allocations      prometheus.Gauge
	allocationsTotal *prometheus.CounterVec
	toPeer, fromPeer prometheus.Counter
	authFailures     *prometheus.CounterVec
	peersDenied      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	relayed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_turn_relayed_bytes_total",
		Help: "UDP payload bytes through relay sockets: sent to peers (to_peer) and received from them (from_peer).",
	}, []string{"direction"})
	m := &metrics{
		allocations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringd_turn_allocations", Help: "Active TURN allocations on the embedded relay.",
		}),
		allocationsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_turn_allocations_total", Help: "TURN allocation requests by result: created, unauthorized (401), quota (486).",
		}, []string{"result"}),
		toPeer:   relayed.WithLabelValues("to_peer"),
		fromPeer: relayed.WithLabelValues("from_peer"),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_turn_auth_failures_total", Help: "TURN requests refused with 401, by reason: expired, invalid, realm.",
		}, []string{"reason"}),
		peersDenied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_turn_peers_denied_total", Help: "Permissions and channel bindings refused because the peer address is in a denied range.",
		}),
	}
	for _, r := range []string{resultCreated, resultUnauthorized, resultQuota} {
		m.allocationsTotal.WithLabelValues(r)
	}
	for _, r := range []string{authExpired, authInvalid, authBadRealm} {
		m.authFailures.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.allocations, m.allocationsTotal, relayed, m.authFailures, m.peersDenied} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
