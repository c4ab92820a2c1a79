package c2s

import (
	"time"

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

	// The latency ringd adds to a stanza, in two halves, each sampled on
	// one stanza in sampleEvery: from decoding a client's stanza to the
	// router's return (queued for its recipients, or stored), and from
	// being queued for a client to being written and flushed to it.
	routeSeconds, writeSeconds prometheus.Histogram
}

// sampleEvery: one stanza in this many is timed for the latency
// histograms, so the clock reads and observations stay off most of the
// routing path.
const sampleEvery = 16

// monoStart is the origin of monotonic timestamps carried in queue
// entries (entry.at); set once, never changed.
var monoStart = time.Now()

// monoNow is nanoseconds since monoStart on the monotonic clock, never 0.
func monoNow() int64 { return int64(time.Since(monoStart)) | 1 }

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
		routeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringd_c2s_route_seconds",
			Help:    "Time from decoding a client's stanza to the router's return (queued for the recipients or stored); one stanza in 16.",
			Buckets: latencyBuckets,
		}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringd_c2s_queue_write_seconds",
			Help:    "Time from queueing a stanza for a client to writing and flushing it; one stanza in 16.",
			Buckets: latencyBuckets,
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
			m.smEnabled, m.smResumed, m.smResumeFailed, m.smHibernating, requeued, m.routeSeconds, m.writeSeconds} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// latencyBuckets span 5µs to about 40ms, finely enough to read a p99
// under a millisecond.
var latencyBuckets = prometheus.ExponentialBuckets(5e-6, 1.35, 31)
