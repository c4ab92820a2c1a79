package blocking

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/xmpp/wire"
)

// direction is the direction label of a refused stanza, from the point of
// view of the user who blocked.
type direction uint8

const (
	dirIn  direction = iota // from a blocked JID to the user
	dirOut                  // from the user to a JID they blocked
)

type metrics struct {
	refusedBy *prometheus.CounterVec
	// refusals by direction and stanza kind (message, presence, iq),
	// resolved once so the gate does no label lookup.
	refusals  [2][4]prometheus.Counter
	loads     prometheus.Counter
	evictions prometheus.Counter
	cached    prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, cached func() int) (*metrics, error) {
	m := &metrics{
		refusedBy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_blocking_refused_total",
			Help: "Stanzas refused because of a XEP-0191 block, by direction (in: from a blocked JID; out: to one) and kind.",
		}, []string{"direction", "kind"}),
		loads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_blocking_list_loads_total",
			Help: "Block lists read from storage into the cache.",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_blocking_list_evictions_total",
			Help: "Block lists dropped from the cache because it was full.",
		}),
		cached: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ringd_blocking_lists_cached",
			Help: "Block lists in the cache, empty ones included.",
		}, func() float64 { return float64(cached()) }),
	}
	for d, dir := range []string{"in", "out"} {
		for _, k := range []wire.Kind{wire.KindMessage, wire.KindPresence, wire.KindIQ} {
			m.refusals[d][k] = m.refusedBy.WithLabelValues(dir, k.String())
		}
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.refusedBy, m.loads, m.evictions, m.cached} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// refused returns the counter of refusals of kind k in direction d.
func (m *metrics) refused(d direction, k wire.Kind) prometheus.Counter {
	return m.refusals[d][k]
}
