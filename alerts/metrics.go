package alerts

import "github.com/prometheus/client_golang/prometheus"

// Metrics of alerting. Labels are sources, states and events: never an
// alert, a cell or a ticket.
type Metrics struct {
	open          *prometheus.GaugeVec
	raised        *prometheus.CounterVec
	notifications *prometheus.CounterVec
	escalations   *prometheus.CounterVec
	saveErrors    prometheus.Counter
	// ScanDuration is observed by the cluster source for each scan.
	ScanDuration prometheus.Histogram
	// ScanThreshold is the score a cluster needs, after calibration.
	ScanThreshold prometheus.Gauge
}

// NewMetrics registers alerting's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "citywall_alerts_open", Help: "Open alerts by source and state (firing, acknowledged).",
		}, []string{"source", "state"}),
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_raised_total", Help: "Alerts raised, by source.",
		}, []string{"source"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_notifications_total", Help: "Notifications sent to the notifiers (team push, webhooks, wall), by event.",
		}, []string{"event"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_escalations_total", Help: "Alerts escalated for want of acknowledgement, by source.",
		}, []string{"source"}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "citywall_alerts_state_save_errors_total", Help: "Failed saves of the alert state.",
		}),
		ScanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "citywall_alerts_scan_duration_seconds", Help: "Duration of one cluster scan.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		ScanThreshold: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citywall_alerts_scan_threshold", Help: "Score a cluster needs to raise an alert (calibrated).",
		}),
	}
	reg.MustRegister(m.open, m.raised, m.notifications, m.escalations, m.saveErrors, m.ScanDuration, m.ScanThreshold)
	for _, src := range metricSources {
		m.raised.WithLabelValues(src)
	}
	m.zeroOpen()
	return m
}

// metricSources are the sources whose series exist from the start, at
// zero, so a dashboard or a rule sees "none open" rather than no data.
var metricSources = []string{SourceCluster, SourceSLA, SourceCamera, SourceFeed, SourceHotIssue}

// zeroOpen empties the open gauge and sets every known source and open
// state back to zero.
func (m *Metrics) zeroOpen() {
	m.open.Reset()
	for _, src := range metricSources {
		for _, st := range []State{StateFiring, StateAcknowledged} {
			m.open.WithLabelValues(src, string(st)).Set(0)
		}
	}
}
