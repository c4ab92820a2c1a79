package presence

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	broadcasts prometheus.Counter
	deliveries prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		broadcasts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_presence_broadcasts_total",
			Help: "Broadcast presence stanzas fanned out (available, unavailable and generated on disconnect).",
		}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_presence_deliveries_total",
			Help: "Presence stanzas handed to local sessions (broadcast copies, probe answers, directed presence).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.broadcasts, m.deliveries} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
