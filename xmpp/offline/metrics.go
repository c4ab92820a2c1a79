package offline

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	stored, delivered, dropped, quotaRejected prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_offline_stored_total", Help: "Messages written to offline storage.",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_offline_delivered_total", Help: "Offline messages delivered and deleted.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_offline_not_kept_total", Help: "Messages for offline accounts not worth keeping (no body, no store hint).",
		}),
		quotaRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_offline_quota_rejections_total", Help: "Messages refused because the account's offline quota was full.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.stored, m.delivered, m.dropped, m.quotaRejected} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
