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
	replayAge     prometheus.Histogram
	muxed         prometheus.Histogram
	firstFragment prometheus.Histogram
	checks        *prometheus.CounterVec
	transcodes    prometheus.Gauge
	txRestarts    *prometheus.CounterVec
	txRefused     *prometheus.CounterVec
	handovers     *prometheus.CounterVec
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
			Help:    "From a live frame's last packet read from the camera to its fragment written to a viewer (cached frames a joining viewer starts from are in citywall_video_replay_age_seconds).",
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
		}),
		replayAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citywall_video_replay_age_seconds",
			Help:    "Age of the cached frames (the group of pictures since the last keyframe) a joining viewer starts from, when written to it.",
			Buckets: []float64{.04, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60, 300, 900},
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
		transcodes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citywall_video_transcodes", Help: "Transcodes of H.265 to H.264 running (one ffmpeg each, shared by a stream's viewers that need it).",
		}),
		txRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_transcode_restarts_total", Help: "Times a camera's transcode (ffmpeg) crashed or stuck and was started again.",
		}, []string{"camera"}),
		txRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_transcode_refused_total", Help: "Viewers that needed a transcode while all video.max_transcodes ran (moved to the sub stream, or told why there is no picture).",
		}, []string{"camera"}),
		handovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_video_handovers_total",
			Help: "Streams that moved to another leg (the camera, or the instance that owns it) after a change of owners, by how: keyframe (the new leg took over at its first keyframe, no gap) or forced (the old leg ended first, or the move ran past its limit; viewers wait for the new leg's keyframe).",
		}, []string{"how"}),
	}
	if reg != nil {
		reg.MustRegister(m.viewers, m.state, m.bytesIn, m.bytesOut, m.dropped, m.reconnects,
			m.frozenReports, m.timeJumps, m.latency, m.replayAge, m.muxed, m.firstFragment, m.checks,
			m.transcodes, m.txRestarts, m.txRefused, m.handovers)
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
	txRestarts    prometheus.Counter
	txRefused     prometheus.Counter
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
		txRestarts:    m.txRestarts.WithLabelValues(id),
		txRefused:     m.txRefused.WithLabelValues(id),
	}
}
