package wall

import (
	"time"
)

// Spec is the walls section of the configuration: the walls, their
// layouts, the camera sets, tours and schedules. The API changes it at run
// time; every change is validated as a whole before it is taken.
type Spec struct {
	StateFile   string        `yaml:"state_file" json:"-"`   // where the state is kept across restarts; "" keeps it in memory only
	OverrideFor time.Duration `yaml:"override_for" json:"-"` // how long a manual switch holds off the schedule
	AuditKeep   int           `yaml:"audit_keep" json:"-"`   // audit entries the API shows (held in memory)
	// The audit file (StateFile + ".audit") is only ever appended to; past
	// AuditMaxBytes, or once its first entry is AuditMaxAge old, it is
	// renamed to StateFile + ".audit.<UTC time>" and kept, never trimmed.
	AuditMaxBytes int64         `yaml:"audit_max_bytes" json:"-"`
	AuditMaxAge   time.Duration `yaml:"audit_max_age" json:"-"`
	Default       string        `yaml:"default" json:"default"` // the wall /wall shows; "": the first single-monitor wall, else the first
	Walls         []Wall        `yaml:"walls" json:"walls"`
	Sets          []Set         `yaml:"sets" json:"sets"`
	Tours         []Tour        `yaml:"tours" json:"tours"`
	Schedules     []Schedule    `yaml:"schedules" json:"schedules"`
}

// Wall is a canvas of Rows × Cols monitors of Monitor pixels each.
type Wall struct {
	ID      string   `yaml:"id" json:"id"`
	Name    string   `yaml:"name" json:"name"`
	NameEn  string   `yaml:"name_en" json:"name_en,omitempty"`
	Rows    int      `yaml:"rows" json:"rows"`
	Cols    int      `yaml:"cols" json:"cols"`
	Monitor [2]int   `yaml:"monitor" json:"monitor"` // width, height in pixels
	Layout  string   `yaml:"layout" json:"layout"`   // shown when nothing else is chosen
	Set     string   `yaml:"set" json:"set,omitempty"`
	Tour    string   `yaml:"tour" json:"tour,omitempty"` // rotates when no schedule applies (instead of Set)
	Layouts []Layout `yaml:"layouts" json:"layouts"`
}

// Canvas is the wall's size in pixels.
func (w Wall) Canvas() (int, int) { return w.Cols * w.Monitor[0], w.Rows * w.Monitor[1] }

// Layout places tiles on a Grid[0] × Grid[1] grid spread over the whole
// canvas.
type Layout struct {
	ID     string `yaml:"id" json:"id"`
	Name   string `yaml:"name" json:"name"`
	NameEn string `yaml:"name_en" json:"name_en,omitempty"`
	Grid   [2]int `yaml:"grid" json:"grid"` // columns, rows
	Tiles  []Tile `yaml:"tiles" json:"tiles"`
}

// Tile is one widget on the grid: columns X..X+W-1, rows Y..Y+H-1.
type Tile struct {
	ID    string         `yaml:"id" json:"id"`
	Kind  string         `yaml:"kind" json:"kind"`
	X     int            `yaml:"x" json:"x"`
	Y     int            `yaml:"y" json:"y"`
	W     int            `yaml:"w" json:"w"`
	H     int            `yaml:"h" json:"h"`
	Alert bool           `yaml:"alert" json:"alert,omitempty"` // a video slot that alert camera linkage may take
	Opts  map[string]any `yaml:"opts" json:"opts,omitempty"`
}

// Widget kinds a tile may hold.
const (
	KindMap     = "map"
	KindKPI     = "kpi"
	KindHot     = "hot"
	KindAlerts  = "alerts"
	KindFlood   = "flood"
	KindTraffic = "traffic"
	KindClock   = "clock"
	KindTicker  = "ticker"
	KindVideo   = "video"
)

// Kinds lists every widget kind.
var Kinds = []string{KindMap, KindKPI, KindHot, KindAlerts, KindFlood, KindTraffic, KindClock, KindTicker, KindVideo}

// Set is a named list of cameras that fills a layout's video slots in order.
type Set struct {
	ID      string   `yaml:"id" json:"id"`
	Name    string   `yaml:"name" json:"name"`
	NameEn  string   `yaml:"name_en" json:"name_en,omitempty"`
	Cameras []string `yaml:"cameras" json:"cameras"`
}

// Tour shows its sets one after another, each for its dwell.
type Tour struct {
	ID     string        `yaml:"id" json:"id"`
	Name   string        `yaml:"name" json:"name"`
	NameEn string        `yaml:"name_en" json:"name_en,omitempty"`
	Dwell  time.Duration `yaml:"dwell" json:"dwell"` // default for steps without their own; 30m when 0
	Steps  []Step        `yaml:"steps" json:"steps"`
}

// Step is one set of a tour.
type Step struct {
	Set   string        `yaml:"set" json:"set"`
	Dwell time.Duration `yaml:"dwell" json:"dwell,omitempty"`
}

// DefaultDwell is a tour step's dwell when neither it nor its tour sets one.
const DefaultDwell = 30 * time.Minute

// dwell is step i's dwell.
func (t Tour) dwell(i int) time.Duration {
	if d := t.Steps[i].Dwell; d > 0 {
		return d
	}
	if t.Dwell > 0 {
		return t.Dwell
	}
	return DefaultDwell
}

// Schedule starts a set or a tour on Wall (every wall when empty) on the
// given days from Start to End, in the city's time zone. End before Start
// crosses midnight: the schedule runs into the next day.
type Schedule struct {
	ID     string   `yaml:"id" json:"id"`
	Name   string   `yaml:"name" json:"name"`
	NameEn string   `yaml:"name_en" json:"name_en,omitempty"`
	Wall   string   `yaml:"wall" json:"wall,omitempty"`
	Days   []string `yaml:"days" json:"days"`   // mon..sun, or workdays, weekend, daily
	Start  string   `yaml:"start" json:"start"` // HH:MM
	End    string   `yaml:"end" json:"end"`     // HH:MM
	Set    string   `yaml:"set" json:"set,omitempty"`
	Tour   string   `yaml:"tour" json:"tour,omitempty"`
	Layout string   `yaml:"layout" json:"layout,omitempty"` // optional layout to switch to
}

// Camera is what the wall knows of a camera: enough to validate sets and
// to search in the console.
type Camera struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	NameEn string   `json:"name_en,omitempty"`
	Lat    float64  `json:"lat"`
	Lng    float64  `json:"lng"`
	Tags   []string `json:"tags,omitempty"`
}

func (s *Spec) wall(id string) *Wall {
	for i := range s.Walls {
		if s.Walls[i].ID == id {
			return &s.Walls[i]
		}
	}
	return nil
}

func (w *Wall) layout(id string) *Layout {
	for i := range w.Layouts {
		if w.Layouts[i].ID == id {
			return &w.Layouts[i]
		}
	}
	return nil
}

func (s *Spec) set(id string) *Set {
	for i := range s.Sets {
		if s.Sets[i].ID == id {
			return &s.Sets[i]
		}
	}
	return nil
}

func (s *Spec) tour(id string) *Tour {
	for i := range s.Tours {
		if s.Tours[i].ID == id {
			return &s.Tours[i]
		}
	}
	return nil
}

// videoTiles are a layout's video slots in fill order.
func (l *Layout) videoTiles() []Tile {
	var out []Tile
	for _, t := range l.Tiles {
		if t.Kind == KindVideo {
			out = append(out, t)
		}
	}
	return out
}
