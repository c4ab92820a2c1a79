package jingle

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	timeToRing   prometheus.Histogram
	timeToAnswer prometheus.Histogram
	callSetup    prometheus.Histogram
	callsBy      *prometheus.CounterVec
	calls        [numOutcomes]prometheus.Counter // resolved once
	active       prometheus.Gauge
	duplicates   prometheus.Counter
	copies       prometheus.Counter
	refused      prometheus.Counter
	evictions    prometheus.Counter
	entries      prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, entries func() int) (*metrics, error) {
	m := &metrics{
		timeToRing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringd_jingle_time_to_ring_seconds",
			Help:    "Time from a call offer (propose) to the first device reporting it rings.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60},
		}),
		timeToAnswer: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringd_jingle_time_to_answer_seconds",
			Help:    "Time from a call offer (propose) to its answer (proceed).",
			Buckets: []float64{0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120},
		}),
		callSetup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringd_jingle_call_setup_seconds",
			Help:    "Time from a call's answer (proceed) to the Jingle session-accept.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
		}),
		callsBy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_jingle_calls_total",
			Help: "Calls by outcome (answered, rejected, cancelled, missed, failed, glare).",
		}, []string{"outcome"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringd_jingle_calls_active", Help: "Calls ringing or in progress.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_jingle_duplicate_proposes_total",
			Help: "Retried call offers (same caller, same id) dropped instead of ringing again.",
		}),
		copies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_jingle_answer_copies_total",
			Help: "Answers (proceed, accept, reject) copied directly to the callee's other devices, those that get no carbon.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_jingle_refused_proposes_total",
			Help: "Call offers refused because the caller had too many calls ringing.",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_jingle_registry_evictions_total",
			Help: "Calls forgotten before they ended because the registry was full.",
		}),
		entries: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ringd_jingle_registry_entries", Help: "Calls in the registry, ended ones included.",
		}, func() float64 { return float64(entries()) }),
	}
	for o := range m.calls {
		m.calls[o] = m.callsBy.WithLabelValues(outcome(o).String())
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{
			m.timeToRing, m.timeToAnswer, m.callSetup, m.callsBy, m.active,
			m.duplicates, m.copies, m.refused, m.evictions, m.entries,
		} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
