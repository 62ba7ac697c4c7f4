package wall

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the walls' counters; their Change and StoreError are the
// Manager's OnChange and OnError.
type Metrics struct {
	changes     *prometheus.CounterVec
	storeErrors prometheus.Counter
}

// NewMetrics registers the walls' counters with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_wall_changes_total",
			Help: "Changes of what a wall shows or of the walls' spec, by action (set, layout, push, tour, release, auto, alert.push, …).",
		}, []string{"action"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "citywall_wall_store_errors_total",
			Help: "Failed writes of the wall state or the audit trail.",
		}),
	}
	reg.MustRegister(m.changes, m.storeErrors)
	return m
}

// Change counts one audited change.
func (m *Metrics) Change(e Entry) { m.changes.WithLabelValues(e.Action).Inc() }

// StoreError counts a failed write.
func (m *Metrics) StoreError(error) { m.storeErrors.Inc() }
