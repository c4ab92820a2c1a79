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

	// Stream management (XEP-0198).
	smEnabled      prometheus.Counter
	smResumed      prometheus.Counter
	smResumeFailed prometheus.Counter
	smHibernating  prometheus.Gauge
	requeued       [wire.KindIQ + 1]prometheus.Counter // by wire.Kind

	// The per-stanza counters, looked up once: a label lookup hashes the
	// label values on every call, which the hot path should not pay.
	stanzasIn  [wire.KindIQ + 1]prometheus.Counter // by wire.Kind
	stanzasOut [wire.KindIQ + 1]prometheus.Counter
}

// stanzaOut counts a stanza written to a client, by the kind its bytes
// start with.
func (m *metrics) stanzaOut(b []byte) {
	m.stanzasOut[kindOf(b)].Inc()
}

// kindOf is the kind of a serialised stanza, by the bytes it starts with.
func kindOf(b []byte) wire.Kind {
	if len(b) > 2 {
		switch b[1] {
		case 'm':
			return wire.KindMessage
		case 'p':
			return wire.KindPresence
		case 'i':
			return wire.KindIQ
		}
	}
	return wire.KindOther
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
		smEnabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_c2s_sm_enabled_total", Help: "Streams that enabled stream management (XEP-0198).",
		}),
		smResumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_c2s_sm_resumed_total", Help: "Sessions resumed on a new connection (XEP-0198).",
		}),
		smResumeFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_c2s_sm_resume_failed_total", Help: "Resumption attempts refused (unknown, expired or foreign session id; bad h).",
		}),
		smHibernating: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ringd_c2s_sm_hibernating", Help: "Sessions whose connection broke, waiting to be resumed.",
		}),
	}
	requeued := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_c2s_requeued_total",
		Help: "Stanzas a session held (unacknowledged or unsent) when it ended, handed back to the router, by kind.",
	}, []string{"kind"})
	in := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_c2s_stanzas_in_total", Help: "Stanzas read from clients, by kind.",
	}, []string{"kind"})
	out := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_c2s_stanzas_out_total", Help: "Stanzas written to clients, by kind.",
	}, []string{"kind"})
	for k := range m.stanzasIn {
		m.stanzasIn[k] = in.WithLabelValues(wire.Kind(k).String())
		m.stanzasOut[k] = out.WithLabelValues(wire.Kind(k).String())
		m.requeued[k] = requeued.WithLabelValues(wire.Kind(k).String())
	}
	// Export every mechanism/result pair from the start, so dashboards show
	// zero rather than nothing.
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "other"} {
		for _, res := range []string{"success", "failure"} {
			m.auth.WithLabelValues(mech, res)
		}
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.connections, m.accepted, m.auth, in, out, m.streamErrors, m.slowCutoffs,
			m.smEnabled, m.smResumed, m.smResumeFailed, m.smHibernating, requeued} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
