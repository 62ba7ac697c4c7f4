package web

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/citywall/citywall/geo"
)

type appMetrics struct {
	items  *prometheus.CounterVec
	events *prometheus.CounterVec
}

func newAppMetrics(reg *prometheus.Registry, a *App) *appMetrics {
	m := &appMetrics{
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_ingest_tickets_total",
			Help: "Tickets posted or simulated, by result (accepted, duplicate, rejected) and, for rejections, the reason (the field at fault, conflict, malformed, body_too_large, ...).",
		}, []string{"result", "reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_ingest_events_rejected_total",
			Help: "Lifecycle events rejected, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.items, m.events,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "citywall_tickets_stored", Help: "Tickets held for dedup and lifecycle.",
		}, func() float64 { return float64(a.store.Len()) }),
		&windowCollector{engine: a.engine},
	)
	return m
}

func (m *appMetrics) rejected(reason string) {
	m.items.WithLabelValues(string(statusRejected), reason).Inc()
}

func (m *appMetrics) eventsRejected(reason string) { m.events.WithLabelValues(reason).Inc() }

// windowCollector reports the engine's window sizes at scrape time.
type windowCollector struct{ engine *geo.Engine }

var (
	windowCellsDesc = prometheus.NewDesc("citywall_geo_window_cells",
		"H3 cells with a non-zero count, per resolution and window (all categories).", []string{"res", "window"}, nil)
	windowCategoriesDesc = prometheus.NewDesc("citywall_geo_categories",
		"Categories counted separately.", nil, nil)
)

func (c *windowCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- windowCellsDesc
	ch <- windowCategoriesDesc
}

func (c *windowCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.engine.Stats()
	for _, w := range st.Windows {
		ch <- prometheus.MustNewConstMetric(windowCellsDesc, prometheus.GaugeValue, float64(w.Cells),
			strconv.Itoa(w.Res), geo.WindowName(w.Window))
	}
	ch <- prometheus.MustNewConstMetric(windowCategoriesDesc, prometheus.GaugeValue, float64(st.Categories))
}
