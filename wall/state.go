package wall

import (
	"time"
)

// Sources of what a wall shows.
const (
	SourceDefault  = "default"   // the wall's own set or tour
	SourceManual   = "manual"    // patrol staff or a commander, until the override ends
	SourceSchedule = "schedule:" // + the schedule's id
)

// Override is a manual switch holding off the schedule until Until or a
// release.
type Override struct {
	By    string    `json:"by"`
	Role  string    `json:"role"`
	Until time.Time `json:"until"`
}

// TourState is where a running tour is.
type TourState struct {
	ID     string        `json:"id"`
	Step   int           `json:"step"`
	Since  time.Time     `json:"since"` // when the step began (moved on resume by the paused time)
	Paused bool          `json:"paused,omitempty"`
	Left   time.Duration `json:"left,omitempty"` // of the step's dwell, while paused
}

// Push is a camera put into one slot by hand.
type Push struct {
	Camera string    `json:"camera"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// AlertPush is one alert's cameras on the slots marked alert.
type AlertPush struct {
	ID      string    `json:"id"`
	Cameras []string  `json:"cameras"`
	At      time.Time `json:"at"`
}

// wallState is one wall's persisted state.
type wallState struct {
	Layout   string          `json:"layout"`
	Set      string          `json:"set,omitempty"`
	Tour     *TourState      `json:"tour,omitempty"`
	Source   string          `json:"source"`
	RunStart time.Time       `json:"run_start,omitzero"` // of the schedule run being followed
	Override *Override       `json:"override,omitempty"`
	Pushes   map[string]Push `json:"pushes,omitempty"` // tile id → camera
	Version  uint64          `json:"version"`
	Changed  time.Time       `json:"changed,omitzero"`
}

func (s *wallState) clone() *wallState {
	c := *s
	if s.Tour != nil {
		t := *s.Tour
		c.Tour = &t
	}
	if s.Override != nil {
		o := *s.Override
		c.Override = &o
	}
	if s.Pushes != nil {
		c.Pushes = make(map[string]Push, len(s.Pushes))
		for k, v := range s.Pushes {
			c.Pushes[k] = v
		}
	}
	return &c
}

// Slot is what one video tile shows.
type Slot struct {
	Camera string `json:"camera,omitempty"` // "" for an empty slot
	Source string `json:"source"`           // set, tile, push, alert, none
	Alert  string `json:"alert,omitempty"`  // the alert whose camera this is
	By     string `json:"by,omitempty"`     // who pushed it
}

// Ref names a set, tour or schedule for display.
type Ref struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	NameEn string `json:"name_en,omitempty"`
}

// TourView is a running tour as displays and the console see it.
type TourView struct {
	Ref
	Step   int       `json:"step"`
	Steps  []Ref     `json:"steps"`
	Paused bool      `json:"paused"`
	Next   time.Time `json:"next,omitzero"` // when the next step comes, unless paused
	Left   float64   `json:"left_s,omitempty"`
}

// Control says who drives the wall now.
type Control struct {
	Source   string    `json:"source"`
	Schedule *Ref      `json:"schedule,omitempty"`
	Override *Override `json:"override,omitempty"`
	Version  uint64    `json:"version"`
	Changed  time.Time `json:"changed"`
}

// WallInfo is a wall's frame: its monitors.
type WallInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	NameEn  string `json:"name_en,omitempty"`
	Rows    int    `json:"rows"`
	Cols    int    `json:"cols"`
	Monitor [2]int `json:"monitor"`
	Canvas  [2]int `json:"canvas"`
}

// View is a wall's current state: the value of the wall/{id} topic's keys.
type View struct {
	Wall    WallInfo        `json:"wall"`
	Layout  Layout          `json:"layout"`
	Set     *Ref            `json:"set"`
	Slots   map[string]Slot `json:"slots"`
	Tour    *TourView       `json:"tour"`
	Control Control         `json:"control"`
}

func ref(id, name, en string) Ref { return Ref{ID: id, Name: name, NameEn: en} }

// view computes a wall's View from its state. The slots are filled in
// order of precedence: alert cameras over pushed ones, pushed over the
// tile's own camera, and the current set's cameras over the rest, in tile
// order.
func (m *Manager) view(w *Wall, st *wallState) View {
	cw, ch := w.Canvas()
	v := View{
		Wall:  WallInfo{ID: w.ID, Name: w.Name, NameEn: w.NameEn, Rows: w.Rows, Cols: w.Cols, Monitor: w.Monitor, Canvas: [2]int{cw, ch}},
		Slots: map[string]Slot{},
	}
	l := w.layout(st.Layout)
	if l == nil {
		l = w.layout(w.Layout)
	}
	if l != nil {
		v.Layout = *l
	}
	var cams []string
	if set := m.spec.set(st.Set); set != nil {
		r := ref(set.ID, set.Name, set.NameEn)
		v.Set = &r
		cams = set.Cameras
	}
	next := 0
	for _, t := range v.Layout.videoTiles() {
		s := Slot{Source: "none"}
		if c, _ := t.Opts["camera"].(string); c != "" {
			s = Slot{Camera: c, Source: "tile"}
		} else if next < len(cams) {
			s = Slot{Camera: cams[next], Source: "set"}
			next++
		}
		if p, ok := st.Pushes[t.ID]; ok {
			s = Slot{Camera: p.Camera, Source: "push", By: p.By}
		}
		v.Slots[t.ID] = s
	}
	// Alert cameras: newest alert first, over the slots marked alert.
	var alertTiles []string
	for _, t := range v.Layout.videoTiles() {
		if t.Alert {
			alertTiles = append(alertTiles, t.ID)
		}
	}
	i := 0
	for k := len(m.alerts) - 1; k >= 0 && i < len(alertTiles); k-- {
		a := m.alerts[k]
		for _, c := range a.Cameras {
			if i >= len(alertTiles) {
				break
			}
			v.Slots[alertTiles[i]] = Slot{Camera: c, Source: "alert", Alert: a.ID}
			i++
		}
	}
	if st.Tour != nil {
		if t := m.spec.tour(st.Tour.ID); t != nil {
			tv := &TourView{Ref: ref(t.ID, t.Name, t.NameEn), Step: st.Tour.Step, Paused: st.Tour.Paused}
			for _, s := range t.Steps {
				r := Ref{ID: s.Set}
				if set := m.spec.set(s.Set); set != nil {
					r = ref(set.ID, set.Name, set.NameEn)
				}
				tv.Steps = append(tv.Steps, r)
			}
			if st.Tour.Paused {
				tv.Left = st.Tour.Left.Seconds()
			} else if st.Tour.Step < len(t.Steps) {
				tv.Next = st.Tour.Since.Add(t.dwell(st.Tour.Step))
			}
			v.Tour = tv
		}
	}
	v.Control = Control{Source: st.Source, Override: st.Override, Version: st.Version, Changed: st.Changed}
	if id, ok := cutPrefix(st.Source, SourceSchedule); ok {
		for _, sc := range m.spec.Schedules {
			if sc.ID == id {
				r := ref(sc.ID, sc.Name, sc.NameEn)
				v.Control.Schedule = &r
			}
		}
	}
	return v
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}
