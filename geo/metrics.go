package geo

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector reports the engine's window sizes at scrape time:
// citywall_geo_window_cells{res,window} and citywall_geo_categories.
func (e *Engine) Collector() prometheus.Collector { return &windowCollector{engine: e} }

// windowCollector reports the engine's window sizes at scrape time.
type windowCollector struct{ engine *Engine }

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
			strconv.Itoa(w.Res), WindowName(w.Window))
	}
	ch <- prometheus.MustNewConstMetric(windowCategoriesDesc, prometheus.GaugeValue, float64(st.Categories))
}
