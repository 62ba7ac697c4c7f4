package ticket

import "github.com/prometheus/client_golang/prometheus"

// Collector reports how many tickets the store holds, at scrape time:
// citywall_tickets_stored.
func (s *Store) Collector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "citywall_tickets_stored", Help: "Tickets held for dedup and lifecycle.",
	}, func() float64 { return float64(s.Len()) })
}
