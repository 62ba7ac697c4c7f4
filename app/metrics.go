package app

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
)

// registerMetrics registers the process's and the stored state's
// gauges; every part registers its own counters.
func registerMetrics(reg prometheus.Registerer, store *ticket.Store, engine *geo.Engine) {
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "citywall_tickets_stored", Help: "Tickets held for dedup and lifecycle.",
		}, func() float64 { return float64(store.Len()) }),
		&windowCollector{engine: engine},
	)
}

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
