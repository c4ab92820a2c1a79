package c2s

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections  prometheus.Gauge
	accepted     *prometheus.CounterVec
	auth         *prometheus.CounterVec
	stanzasIn    *prometheus.CounterVec
	stanzasOut   *prometheus.CounterVec
	streamErrors *prometheus.CounterVec
	slowCutoffs  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringd_c2s_connections", Help: "Open client connections, authenticated or not.",
		}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_c2s_connections_total", Help: "Accepted client connections by listener.",
		}, []string{"listener"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_c2s_auth_total", Help: "SASL authentications by mechanism and result.",
		}, []string{"mechanism", "result"}),
		stanzasIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_c2s_stanzas_in_total", Help: "Stanzas read from clients, by kind.",
		}, []string{"kind"}),
		stanzasOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_c2s_stanzas_out_total", Help: "Stanzas written to clients, by kind.",
		}, []string{"kind"}),
		streamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_c2s_stream_errors_total", Help: "Streams ended with a stream error, by condition.",
		}, []string{"condition"}),
		slowCutoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_c2s_slow_consumer_disconnects_total", Help: "Sessions cut off because their outbound queue overflowed.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.connections, m.accepted, m.auth, m.stanzasIn, m.stanzasOut, m.streamErrors, m.slowCutoffs} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
