package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/geo/ticket"
)

type metrics struct {
	items    *prometheus.CounterVec
	events   *prometheus.CounterVec
	readings *prometheus.CounterVec
	calls    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_ingest_tickets_total",
			Help: "Tickets posted or simulated, by result (accepted, duplicate, rejected) and, for rejections, the reason (the field at fault, conflict, malformed, body_too_large, ...).",
		}, []string{"result", "reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_ingest_events_rejected_total",
			Help: "Lifecycle events rejected, by reason.",
		}, []string{"reason"}),
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_feeds_readings_total", Help: "Readings and incidents taken, by result and station kind.",
		}, []string{"result", "kind"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_feeds_calls_total", Help: "Call-centre events taken, by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.items, m.events, m.readings, m.calls)
	}
	return m
}

// Rejected counts a ticket refused before it reached the pipeline (a
// decode failure) or by it, under reason.
func (p *Pipeline) Rejected(reason string) {
	p.metrics.items.WithLabelValues(string(ticket.StatusRejected), reason).Inc()
}

// EventRejected counts a refused lifecycle event.
func (p *Pipeline) EventRejected(reason string) { p.metrics.events.WithLabelValues(reason).Inc() }

// ReadingsMalformed counts a readings body that did not decode.
func (p *Pipeline) ReadingsMalformed() { p.metrics.readings.WithLabelValues("malformed", "").Inc() }

// CallsMalformed counts a calls body that did not decode.
func (p *Pipeline) CallsMalformed() { p.metrics.calls.WithLabelValues("malformed").Inc() }
