package web

import (
	"fmt"
	"strings"

	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/wall"
)

// The hub's topics besides the heat maps (heat/{res}/{window}/{category})
// and the walls (wall/{id}); docs/protocol.md describes their values.
const (
	TopicTickets    = ingest.TopicTickets // events: accepted tickets
	TopicStats      = "stats"             // "today" → today's counts
	TopicHotPrefix  = "hot/"              // hot/{window}: category → count, trend
	TopicCameras    = "cameras"           // camera id → its state
	TopicKPI        = "kpi"               // "today" → kpi.Report
	TopicAlerts     = "alerts"            // alert id → open alert
	TopicAlertsTeam = "alerts/team/"      // alerts/team/{id}: the team's open alerts
)

// ResolveTopic tells the hub which topics exist.
func (s *Server) ResolveTopic(name string) (stream.Kind, error) {
	switch {
	case name == TopicTickets:
		return stream.KindEvents, nil
	case name == TopicStats:
		return stream.KindState, nil
	case name == TopicCameras:
		return stream.KindState, nil
	case name == TopicAlerts || strings.HasPrefix(name, TopicAlertsTeam):
		return s.resolveAlertTopic(name)
	case name == feeds.TopicFlood || name == feeds.TopicTraffic || name == TopicKPI:
		return stream.KindState, nil
	case strings.HasPrefix(name, wall.TopicPrefix):
		return s.resolveWallTopic(name)
	case strings.HasPrefix(name, TopicHotPrefix):
		w, err := geo.ParseWindowName(strings.TrimPrefix(name, TopicHotPrefix))
		if err != nil || !s.hasWindow(w) {
			return 0, fmt.Errorf("%w: %q: window is not one of %s", stream.ErrUnknownTopic, name, s.windowNames())
		}
		return stream.KindState, nil
	case strings.HasPrefix(name, "heat/"):
		k, err := geo.ParseHeatTopic(name)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", stream.ErrUnknownTopic, err)
		}
		if !s.hasWindow(k.Window) || !s.hasRes(k.Res) {
			return 0, fmt.Errorf("%w: %q: resolution must be one of %v and window one of %s",
				stream.ErrUnknownTopic, name, s.cfg.Geo.Resolutions, s.windowNames())
		}
		return stream.KindState, nil
	}
	return 0, fmt.Errorf("%w: %q", stream.ErrUnknownTopic, name)
}
