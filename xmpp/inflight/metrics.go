package inflight

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	written, cancelled, deleted, commits, errors prometheus.Counter
	recovered, recoverFailed                     prometheus.Counter
	commitSeconds                                prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_inflight_" + name, Help: help})
	}
	m := &metrics{
		written:       counter("written_total", "In-flight records written to storage."),
		cancelled:     counter("cancelled_total", "In-flight records acknowledged before their batch was committed, so never written."),
		deleted:       counter("deleted_total", "In-flight records deleted from storage after the recipient acknowledged."),
		commits:       counter("commits_total", "Batches of in-flight records committed."),
		errors:        counter("commit_errors_total", "Failed commits of in-flight records (retried)."),
		recovered:     counter("recovered_total", "In-flight records moved to offline storage at start-up."),
		recoverFailed: counter("recover_failures_total", "In-flight records that could not be moved to offline storage at start-up (kept for the next start)."),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringd_inflight_commit_seconds",
			Help:    "Time to commit one batch of in-flight records.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.written, m.cancelled, m.deleted, m.commits, m.errors, m.recovered, m.recoverFailed, m.commitSeconds} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
