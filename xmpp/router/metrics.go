package router

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/xmpp/wire"
)

type metrics struct {
	sessions      prometheus.Gauge
	stanzasIn     *prometheus.CounterVec
	in            [4]prometheus.Counter // stanzasIn by wire.Kind, resolved once
	delivered     prometheus.Counter
	undeliverable prometheus.Counter
	bounced       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringd_router_sessions", Help: "Bound sessions (resources) in the session table.",
		}),
		stanzasIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_router_stanzas_in_total", Help: "Stanzas routed from local sessions, by kind.",
		}, []string{"kind"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_router_stanzas_out_total", Help: "Stanzas queued to local sessions.",
		}),
		undeliverable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_router_undeliverable_total", Help: "Stanzas a closing or overloaded session did not take.",
		}),
		bounced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_router_errors_total", Help: "Stanza errors returned to senders, by condition.",
		}, []string{"condition"}),
	}
	for k := range m.in {
		m.in[k] = m.stanzasIn.WithLabelValues(wire.Kind(k).String())
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sessions, m.stanzasIn, m.delivered, m.undeliverable, m.bounced} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
