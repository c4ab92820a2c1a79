package c2s

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/xmpp/wire"
)

type metrics struct {
	connections  prometheus.Gauge
	accepted     *prometheus.CounterVec
	auth         *prometheus.CounterVec
	streamErrors *prometheus.CounterVec
	slowCutoffs  prometheus.Counter

	// The per-stanza counters, looked up once: a label lookup hashes the
	// label values on every call, which the hot path should not pay.
	stanzasIn  [wire.KindIQ + 1]prometheus.Counter // by wire.Kind
	stanzasOut [wire.KindIQ + 1]prometheus.Counter
}

// stanzaOut counts a stanza written to a client, by the kind its bytes
// start with.
func (m *metrics) stanzaOut(b []byte) {
	k := wire.KindOther
	if len(b) > 2 {
		switch b[1] {
		case 'm':
			k = wire.KindMessage
		case 'p':
			k = wire.KindPresence
		case 'i':
			k = wire.KindIQ
		}
	}
	m.stanzasOut[k].Inc()
}

// streamError counts a stream ended with the condition.
func (m *metrics) streamError(cond string) {
	m.streamErrors.WithLabelValues(cond).Inc()
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
		streamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_c2s_stream_errors_total", Help: "Streams ended with a stream error, by condition.",
		}, []string{"condition"}),
		slowCutoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_c2s_slow_consumer_disconnects_total", Help: "Sessions cut off because their outbound queue overflowed.",
		}),
	}
	in := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_c2s_stanzas_in_total", Help: "Stanzas read from clients, by kind.",
	}, []string{"kind"})
	out := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_c2s_stanzas_out_total", Help: "Stanzas written to clients, by kind.",
	}, []string{"kind"})
	for k := range m.stanzasIn {
		m.stanzasIn[k] = in.WithLabelValues(wire.Kind(k).String())
		m.stanzasOut[k] = out.WithLabelValues(wire.Kind(k).String())
	}
	// Export every mechanism/result pair from the start, so dashboards show
	// zero rather than nothing.
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "other"} {
		for _, res := range []string{"success", "failure"} {
			m.auth.WithLabelValues(mech, res)
		}
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.connections, m.accepted, m.auth, in, out, m.streamErrors, m.slowCutoffs} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
