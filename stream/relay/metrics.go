package relay

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	viewers       *prometheus.GaugeVec
	state         *prometheus.GaugeVec
	bytesIn       *prometheus.CounterVec
	bytesOut      *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	reconnects    *prometheus.CounterVec
	frozenReports *prometheus.CounterVec
	timeJumps     *prometheus.CounterVec
	latency       prometheus.Histogram
	muxed         prometheus.Histogram
	firstFragment prometheus.Histogram
	checks        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		viewers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "citywall_video_viewers", Help: "Viewers of a camera (main and sub stream).",
		}, []string{"camera"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "citywall_video_state",
			Help: "A camera's state: 0 idle, 1 connecting, 2 live, 3 stalled, 4 offline, 5 unsupported.",
		}, []string{"camera"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_bytes_in_total", Help: "Media bytes received from a camera.",
		}, []string{"camera"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_bytes_out_total", Help: "Bytes written to a camera's viewers.",
		}, []string{"camera"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_frames_dropped_total", Help: "Frames dropped for viewers that fell behind (they skip to the next keyframe).",
		}, []string{"camera"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_reconnects_total", Help: "Times a camera's upstream session ended and was dialled again.",
		}, []string{"camera"}),
		frozenReports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_frozen_reports_total", Help: "Players that reported a frozen picture while connected.",
		}, []string{"camera"}),
		timeJumps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_timestamp_jumps_total", Help: "Jumps in a camera's timestamps that the relay smoothed over.",
		}, []string{"camera"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citywall_video_relay_latency_seconds",
			Help:    "From a frame's last packet read from the camera to its fragment written to a viewer.",
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
		}),
		muxed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citywall_video_mux_seconds",
			Help:    "From a frame's last packet read from the camera to its fragment queued for every viewer.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .005, .01, .05},
		}),
		firstFragment: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citywall_video_first_fragment_seconds",
			Help:    "From a viewer joining to its first fragment being handed to it.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_checks_total",
			Help: "Checks of cameras nobody watched (dialled until video came), by result: ok or failed.",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.viewers, m.state, m.bytesIn, m.bytesOut, m.dropped, m.reconnects,
			m.frozenReports, m.timeJumps, m.latency, m.muxed, m.firstFragment, m.checks)
	}
	return m
}

// cameraMetrics are one camera's children of the vectors.
type cameraMetrics struct {
	viewers       prometheus.Gauge
	state         prometheus.Gauge
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	dropped       prometheus.Counter
	reconnects    prometheus.Counter
	frozenReports prometheus.Counter
	timeJumps     prometheus.Counter
}

func (m *metrics) camera(id string) cameraMetrics {
	return cameraMetrics{
		viewers:       m.viewers.WithLabelValues(id),
		state:         m.state.WithLabelValues(id),
		bytesIn:       m.bytesIn.WithLabelValues(id),
		bytesOut:      m.bytesOut.WithLabelValues(id),
		dropped:       m.dropped.WithLabelValues(id),
		reconnects:    m.reconnects.WithLabelValues(id),
		frozenReports: m.frozenReports.WithLabelValues(id),
		timeJumps:     m.timeJumps.WithLabelValues(id),
	}
}
