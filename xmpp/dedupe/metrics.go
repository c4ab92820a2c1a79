package dedupe

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	duplicates prometheus.Counter
	evictions  prometheus.Counter
	entries    prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, entries func() int) (*metrics, error) {
	m := &metrics{
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_dedupe_duplicates_total", Help: "Retried messages dropped because a copy was routed within the window.",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_dedupe_evictions_total", Help: "Messages forgotten before their window ended because the table was full.",
		}),
		entries: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ringd_dedupe_entries", Help: "Messages remembered for deduplication.",
		}, func() float64 { return float64(entries()) }),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.duplicates, m.evictions, m.entries} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
