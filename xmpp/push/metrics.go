package push

import "github.com/prometheus/client_golang/prometheus"

// priority is the priority label of a notification.
type priority uint8

const (
	normal priority = iota
	urgent
	numPriorities
)

func (p priority) String() string {
	if p == urgent {
		return "urgent"
	}
	return "normal"
}

// result is what became of a notification: the result label.
type result uint8

const (
	// sent: the publish IQ was queued for the app server's session.
	sent result = iota
	// unreachable: the app server is not a bound local JID (another
	// domain: no federation; or nobody bound), or its session refused
	// the IQ. Counted per registration.
	unreachable
	// dropped: the queue was full or the feature closing. Counted per
	// message, before its registrations were read.
	dropped
	// failed: reading the account's registrations failed. Counted per
	// message.
	failed
	numResults
)

func (r result) String() string {
	return [...]string{"sent", "unreachable", "dropped", "error"}[r]
}

type metrics struct {
	notifications [numPriorities][numResults]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_push_notifications_total",
		Help: "XEP-0357 notifications for offline messages, by priority (urgent: call proposals; normal) and result (sent, unreachable, dropped, error).",
	}, []string{"priority", "result"})
	m := &metrics{}
	for p := range numPriorities {
		for r := range numResults {
			m.notifications[p][r] = vec.WithLabelValues(p.String(), r.String())
		}
	}
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) count(p priority, r result, n int) {
	m.notifications[p][r].Add(float64(n))
}
