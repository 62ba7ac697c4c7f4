package wall

import (
	"encoding/json"
	"testing"
)

// FuzzLayoutJSON: any body sent to PUT .../layouts/{id} decodes and
// validates without a panic, and a layout that validates has every tile on
// the grid and no two tiles overlapping.
func FuzzLayoutJSON(f *testing.F) {
	f.Add(`{"id":"a","name":"A","grid":[4,2],"tiles":[{"id":"m","kind":"map","x":0,"y":0,"w":2,"h":2},{"id":"v","kind":"video","x":2,"y":0,"w":2,"h":1,"alert":true,"opts":{"camera":"a1"}}]}`)
	f.Add(`{"id":"a","name":"A","grid":[96,96],"tiles":[{"id":"m","kind":"map","x":95,"y":95,"w":1,"h":1,"opts":{"layers":["cameras",1]}}]}`)
	f.Add(`{"grid":[-1,0],"tiles":null}`)
	f.Add(`{"id":"a","name":"A","grid":[2,2],"tiles":[{"id":"a","kind":"hot","x":9223372036854775807,"y":0,"w":9223372036854775807,"h":1}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var l Layout
		if err := strictJSON([]byte(body), &l); err != nil {
			return
		}
		s := testSpec()
		s.Walls[0].Layouts = append(s.Walls[0].Layouts, l)
		if Validate(&s, knownTest) != nil {
			return
		}
		for i, a := range l.Tiles {
			if a.X < 0 || a.Y < 0 || a.W < 1 || a.H < 1 || a.W > l.Grid[0] || a.H > l.Grid[1] || a.X > l.Grid[0]-a.W || a.Y > l.Grid[1]-a.H {
				t.Fatalf("tile %d %+v off a %v grid passed", i, a, l.Grid)
			}
			for _, b := range l.Tiles[:i] {
				if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
					t.Fatalf("overlapping tiles %+v and %+v passed", a, b)
				}
			}
		}
	})
}

// FuzzSnapshot: a state file of any content loads into a Manager without a
// panic; what it names that the spec lacks is dropped.
func FuzzSnapshot(f *testing.F) {
	good, _ := json.Marshal(&Snapshot{Walls: map[string]*wallState{"w": {Layout: "m", Set: "b", Tour: &TourState{ID: "t", Step: 7}, Pushes: map[string]Push{"v1": {Camera: "x9"}, "map": {Camera: "a1"}}}}})
	f.Add(string(good))
	f.Add(`{"walls":{"w":null,"zz":{"layout":"q"}},"alerts":[{"id":"a","cameras":["zz","a1"]}],"edits":{"sets":{"a":null}}}`)
	f.Add(`{"walls":{"w":{"tour":{"id":"t","step":-5,"since":"2000-01-01T00:00:00Z","paused":true,"left":-1}}}}`)
	f.Fuzz(func(t *testing.T, data string) {
		store := &MemoryStore{snap: []byte(data)}
		m, err := New(Options{Spec: testSpec(), Cameras: testCams, Store: store})
		if err != nil {
			return
		}
		v, err := m.View("w")
		if err != nil {
			t.Fatal(err)
		}
		if v.Layout.ID == "" {
			t.Fatalf("no layout after loading %q", data)
		}
		for id, s := range v.Slots {
			if s.Camera != "" && !knownTest(s.Camera) {
				t.Fatalf("slot %s shows unknown camera %q", id, s.Camera)
			}
		}
	})
}
