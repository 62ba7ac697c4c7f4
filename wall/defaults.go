package wall

import "time"

func tile(id, kind string, x, y, w, h int, opts map[string]any) Tile {
	return Tile{ID: id, Kind: kind, X: x, Y: y, W: w, H: h, Opts: opts}
}

func alertTile(t Tile) Tile { t.Alert = true; return t }

// DefaultSpec is the walls of a centre with no walls configured: a command
// wall of 4 × 2 monitors of 1920×1080 and a single duty screen, each with
// an overview layout and a video layout. Sets, tours and schedules name
// cameras, so they come from the configuration (or the demo overlay).
func DefaultSpec() Spec {
	layers := []any{"cameras", "alerts", "flood", "traffic"}
	return Spec{
		OverrideFor:   DefaultOverride,
		AuditKeep:     10000,
		AuditMaxBytes: 64 << 20,
		AuditMaxAge:   30 * 24 * time.Hour,
		Walls: []Wall{
			{
				ID: "main", Name: "指挥大屏", NameEn: "Command wall", Rows: 2, Cols: 4, Monitor: [2]int{1920, 1080},
				Layout: "command",
				Layouts: []Layout{
					{
						// Each monitor is 8 × 8 grid cells: the map takes the left
						// half, video the top right, panels the bottom right.
						ID: "command", Name: "指挥总览", NameEn: "Command overview", Grid: [2]int{32, 16},
						Tiles: []Tile{
							tile("map", KindMap, 0, 0, 16, 16, map[string]any{"layers": layers, "res": 8, "window": "1h", "zoom": 12.4, "center": []any{20.02, 110.33}}),
							tile("v1", KindVideo, 16, 0, 4, 4, nil),
							tile("v2", KindVideo, 20, 0, 4, 4, nil),
							tile("v3", KindVideo, 16, 4, 4, 4, nil),
							tile("v4", KindVideo, 20, 4, 4, 4, nil),
							tile("v5", KindVideo, 24, 0, 4, 4, nil),
							tile("v6", KindVideo, 28, 0, 4, 4, nil),
							alertTile(tile("v7", KindVideo, 24, 4, 4, 4, nil)),
							alertTile(tile("v8", KindVideo, 28, 4, 4, 4, nil)),
							tile("clock", KindClock, 16, 8, 8, 2, nil),
							tile("hot", KindHot, 16, 10, 4, 6, map[string]any{"window": "1h"}),
							tile("ticker", KindTicker, 20, 10, 4, 6, nil),
							tile("kpi", KindKPI, 24, 8, 8, 2, nil),
							tile("alerts", KindAlerts, 24, 10, 4, 6, nil),
							tile("flood", KindFlood, 28, 10, 4, 3, nil),
							tile("traffic", KindTraffic, 28, 13, 4, 3, nil),
						},
					},
					{
						ID: "video", Name: "视频巡查", NameEn: "Video patrol", Grid: [2]int{4, 2},
						Tiles: []Tile{
							tile("map", KindMap, 0, 0, 1, 1, map[string]any{"layers": []any{"cameras", "alerts"}}),
							tile("v1", KindVideo, 1, 0, 1, 1, nil),
							tile("v2", KindVideo, 2, 0, 1, 1, nil),
							tile("v3", KindVideo, 3, 0, 1, 1, nil),
							tile("alerts", KindAlerts, 0, 1, 1, 1, nil),
							tile("v4", KindVideo, 1, 1, 1, 1, nil),
							tile("v5", KindVideo, 2, 1, 1, 1, nil),
							alertTile(tile("v6", KindVideo, 3, 1, 1, 1, nil)),
						},
					},
				},
			},
			{
				ID: "overview", Name: "值班屏", NameEn: "Duty screen", Rows: 1, Cols: 1, Monitor: [2]int{1920, 1080},
				Layout: "city",
				Layouts: []Layout{
					{
						ID: "city", Name: "城市运行", NameEn: "City operations", Grid: [2]int{24, 12},
						Tiles: []Tile{
							tile("map", KindMap, 0, 0, 16, 12, map[string]any{"layers": []any{"cameras", "alerts"}, "res": 8, "window": "1h"}),
							tile("clock", KindClock, 16, 0, 8, 2, nil),
							tile("hot", KindHot, 16, 2, 8, 5, map[string]any{"window": "1h"}),
							tile("ticker", KindTicker, 16, 7, 8, 5, nil),
						},
					},
					{
						ID: "video", Name: "视频四分屏", NameEn: "Four cameras", Grid: [2]int{2, 2},
						Tiles: []Tile{
							tile("v1", KindVideo, 0, 0, 1, 1, nil),
							tile("v2", KindVideo, 1, 0, 1, 1, nil),
							tile("v3", KindVideo, 0, 1, 1, 1, nil),
							alertTile(tile("v4", KindVideo, 1, 1, 1, 1, nil)),
						},
					},
				},
			},
		},
	}
}
