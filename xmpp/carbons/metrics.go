package carbons

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	sessions prometheus.Gauge
	copiesBy *prometheus.CounterVec
	copies   [2]prometheus.Counter // by direction, resolved once
	refused  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringd_carbons_sessions", Help: "Sessions with message carbons enabled.",
		}),
		copiesBy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_carbons_copies_total", Help: "Carbon copies queued, by direction (sent, received).",
		}, []string{"direction"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_carbons_refused_total", Help: "Messages refused because the client put a carbon wrapper in them.",
		}),
	}
	for d := range m.copies {
		m.copies[d] = m.copiesBy.WithLabelValues(direction(d).String())
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sessions, m.copiesBy, m.refused} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
