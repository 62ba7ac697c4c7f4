package alerts

import (
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts/scan"
)

// Resume takes the open cluster alerts over as the tracks to follow,
// forgetting what this instance tracked before: an instance that becomes
// the leader continues the clusters its predecessor raised, so a cluster
// found again updates its alert instead of raising another.
func (c *ClusterSource) Resume(now time.Time) {
	open := c.m.List(Filter{Open: true, Source: SourceCluster})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tracker = scan.Tracker{Quiet: c.tracker.Quiet}
	c.last = map[string]string{}
	for _, a := range open {
		var cells []h3.Cell
		for _, id := range a.Cells {
			if cell := h3.CellFromString(id); cell.IsValid() {
				cells = append(cells, cell)
			}
		}
		if len(cells) > 0 {
			c.tracker.Resume(a.Fingerprint, a.Category, cells, now)
		}
	}
}
