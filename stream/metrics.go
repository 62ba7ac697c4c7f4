package stream

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections   prometheus.Gauge
	subscriptions prometheus.Gauge
	topics        prometheus.Gauge
	sent          prometheus.Counter
	dropped       prometheus.Counter
	slow          prometheus.Counter
	disconnects   *prometheus.CounterVec
	published     prometheus.Counter
	resumes       *prometheus.CounterVec
	errors        *prometheus.CounterVec
	latency       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citywall_hub_connections", Help: "Open WebSocket connections.",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citywall_hub_subscriptions", Help: "Topic subscriptions across all connections.",
		}),
		topics: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citywall_hub_topics", Help: "Topics the hub holds.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "citywall_hub_messages_sent_total", Help: "Messages written to clients.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "citywall_hub_messages_dropped_total", Help: "Messages discarded because their client was too slow and was disconnected.",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "citywall_hub_slow_disconnects_total", Help: "Clients disconnected for falling behind (close code 4001).",
		}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_hub_disconnects_total",
			Help: "Clients the hub cut off, by reason: slow (queue over hub.queue_bytes), write_timeout, write_failed, no_pong, read_limit, bad_frame, shutdown.",
		}, []string{"reason"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "citywall_hub_publications_total", Help: "Deltas published to topics.",
		}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_hub_subscribes_total", Help: "Subscriptions by how they started: snapshot or resumed from history.",
		}, []string{"start"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_hub_request_errors_total", Help: "Client requests refused, by error code.",
		}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "citywall_hub_delivery_latency_seconds",
			Help:    "From a change entering citywall (ingest) to its delta being written to a client.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.subscriptions, m.topics, m.sent, m.dropped, m.slow, m.disconnects, m.published, m.resumes, m.errors, m.latency)
	}
	return m
}
