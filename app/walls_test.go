package app_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/wall"
)

// wallView is the part of a wall's state these tests read.
type wallView struct {
	Wall    wall.WallInfo        `json:"wall"`
	Layout  wall.Layout          `json:"layout"`
	Set     *wall.Ref            `json:"set"`
	Slots   map[string]wall.Slot `json:"slots"`
	Tour    *wall.TourView       `json:"tour"`
	Control wall.Control         `json:"control"`
	Layouts []wall.Layout        `json:"layouts"`
}

// demoWalls is the demo city (its cameras, sets and tour) without the
// simulator's load, keeping its wall state in dir.
func demoWalls(t testing.TB, dir string) (config.Config, map[config.Role]string) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Demo.PerDay = 1
	cfg.Walls.StateFile = filepath.Join(dir, "walls.json")
	return withTokens(t, cfg)
}

func (s *server) wallDo(method, path, role, body string) (int, []byte) {
	s.t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	} else {
		r = strings.NewReader("")
	}
	code, _, b := s.do(method, path, s.tokens[config.Role(role)], "application/json", r)
	return code, b
}

// TestWallAPI: roles, bad input with {code, reason} naming what is wrong,
// the changes themselves, and the audit trail.
func TestWallAPI(t *testing.T) {
	cfg, tokens := demoWalls(t, t.TempDir())
	s := startWith(t, cfg, tokens)

	var list struct {
		Default string            `json:"default"`
		Walls   []wallView        `json:"walls"`
		Sets    []wall.Set        `json:"sets"`
		Cameras []wall.Camera     `json:"cameras"`
		Layouts map[string][]any  `json:"layouts"`
		Tours   []json.RawMessage `json:"tours"`
	}
	s.getJSON("/api/v1/walls", s.tokens[config.RoleWall], &list)
	if list.Default != "overview" || len(list.Walls) != 2 || len(list.Cameras) != len(city.Cameras()) || len(list.Sets) != 5 {
		t.Fatalf("walls: default %q, %d walls, %d cameras, %d sets", list.Default, len(list.Walls), len(list.Cameras), len(list.Sets))
	}
	if w := list.Walls[0]; w.Wall.Canvas != [2]int{7680, 2160} || w.Layout.ID != "command" {
		t.Fatalf("main wall: %+v layout %q", w.Wall, w.Layout.ID)
	}

	cases := []struct {
		name, method, path, role, body string
		status                         int
		code                           string
		mention                        []string
	}{
		{"wall role may not switch", "POST", "/api/v1/walls/main/set", "wall", `{"set":"kitchens"}`, 403, "forbidden", nil},
		{"team role may not switch", "POST", "/api/v1/walls/main/set", "team", `{"set":"kitchens"}`, 403, "forbidden", nil},
		{"unknown wall", "POST", "/api/v1/walls/nope/set", "patrol", `{"set":"kitchens"}`, 404, "not_found", []string{`"nope"`}},
		{"unknown set", "POST", "/api/v1/walls/main/set", "patrol", `{"set":"bakeries"}`, 422, "invalid", []string{"'set'", `"bakeries"`, "unknown set"}},
		{"malformed body", "POST", "/api/v1/walls/main/set", "patrol", `{"set":`, 400, "bad_request", []string{"malformed"}},
		{"unknown field", "POST", "/api/v1/walls/main/set", "patrol", `{"set":"kitchens","color":"red"}`, 400, "bad_request", []string{"color"}},
		{"two values", "POST", "/api/v1/walls/main/set", "patrol", `{"set":"kitchens"}{}`, 400, "bad_request", []string{"more than one"}},
		{"bad duration", "POST", "/api/v1/walls/main/set", "patrol", `{"set":"kitchens","for":"forever"}`, 422, "invalid", []string{"'for'", "forever"}},
		{"unknown layout", "POST", "/api/v1/walls/main/layout", "commander", `{"layout":"city"}`, 422, "invalid", []string{"'layout'", `"city"`}},
		{"unknown camera", "POST", "/api/v1/walls/main/push", "patrol", `{"slot":"v1","camera":"cam-x"}`, 422, "invalid", []string{"'camera'", `"cam-x"`, "unknown camera"}},
		{"not a video slot", "POST", "/api/v1/walls/main/push", "patrol", `{"slot":"map","camera":"road-binhai"}`, 422, "invalid", []string{"'slot'", `"map"`}},
		{"unknown tour action", "POST", "/api/v1/walls/main/tour", "patrol", `{"action":"rewind"}`, 422, "invalid", []string{"'action'", "rewind"}},
		{"unknown tour", "POST", "/api/v1/walls/main/tour", "patrol", `{"action":"start","tour":"zz"}`, 422, "invalid", []string{"'tour'", `"zz"`}},
		{"overlapping tiles", "PUT", "/api/v1/walls/main/layouts/bad", "patrol",
			`{"name":"Bad","grid":[4,2],"tiles":[{"id":"a","kind":"map","x":0,"y":0,"w":2,"h":2},{"id":"b","kind":"video","x":1,"y":0,"w":2,"h":1}]}`,
			422, "invalid", []string{"walls[0].layouts[2].tiles[1]", "overlaps", `"a"`}},
		{"tile off the canvas", "PUT", "/api/v1/walls/main/layouts/bad", "patrol",
			`{"name":"Bad","grid":[4,2],"tiles":[{"id":"a","kind":"video","x":3,"y":0,"w":2,"h":1}]}`, 422, "invalid", []string{"off the canvas"}},
		{"unknown widget kind", "PUT", "/api/v1/walls/main/layouts/bad", "patrol",
			`{"name":"Bad","grid":[4,2],"tiles":[{"id":"a","kind":"weather","x":0,"y":0,"w":1,"h":1}]}`, 422, "invalid", []string{"kind", `"weather"`}},
		{"id differs from the path", "PUT", "/api/v1/camera-sets/a", "patrol", `{"id":"b","name":"B","cameras":["road-binhai"]}`, 422, "invalid", []string{`"b"`}},
		{"set with an unknown camera", "PUT", "/api/v1/camera-sets/x", "patrol", `{"name":"X","cameras":["road-binhai","cam-9"]}`, 422, "invalid", []string{"sets[5].cameras[1]", `"cam-9"`, "unknown camera"}},
		{"tour of an unknown set", "PUT", "/api/v1/tours/x", "patrol", `{"name":"X","steps":[{"set":"zz"}]}`, 422, "invalid", []string{"steps[0].set", `"zz"`}},
		{"tour dwell", "PUT", "/api/v1/tours/x", "patrol", `{"name":"X","dwell":"often","steps":[{"set":"roads"}]}`, 422, "invalid", []string{"dwell"}},
		{"schedule that never fires", "PUT", "/api/v1/schedules/x", "patrol", `{"name":"X","days":["mon"],"start":"09:00","end":"09:00","set":"roads"}`, 422, "invalid", []string{"never fires"}},
		{"deleting a set in use", "DELETE", "/api/v1/camera-sets/roads", "commander", "", 422, "invalid", []string{"unknown set", `"roads"`}},
		{"audit since", "GET", "/api/v1/audit?since=yesterday", "wall", "", 400, "bad_request", []string{"since"}},
		{"audit limit", "GET", "/api/v1/audit?limit=0", "wall", "", 400, "bad_request", []string{"limit"}},
		{"audit of an unknown wall", "GET", "/api/v1/audit?wall=zz", "wall", "", 404, "not_found", []string{`"zz"`}},
		{"page of an unknown wall", "GET", "/wall/zz", "wall", "", 404, "not_found", []string{`"zz"`}},
		{"console for a wall display", "GET", "/console", "wall", "", 403, "forbidden", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, b := s.with(t).wallDo(c.method, c.path, c.role, c.body)
			checkError(t, c.name, code, b, c.status, c.code, c.mention...)
		})
	}
	code, _, b := s.do("POST", "/api/v1/walls/main/set", s.tokens[config.RolePatrol], "text/plain", strings.NewReader(`{"set":"roads"}`))
	checkError(t, "text body", code, b, http.StatusUnsupportedMediaType, "unsupported_media_type")
	code, b = s.wallDo("PUT", "/api/v1/camera-sets/big", "patrol", `{"name":"`+strings.Repeat("x", 300<<10)+`","cameras":["road-binhai"]}`)
	checkError(t, "huge body", code, b, http.StatusRequestEntityTooLarge, "body_too_large", "262144")

	// The changes.
	var v wallView
	ok := func(method, path, role, body string) {
		t.Helper()
		code, b := s.wallDo(method, path, role, body)
		if code != 200 && code != 204 {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		if code == 200 {
			v = wallView{}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
		}
	}
	ok("POST", "/api/v1/walls/main/set", "patrol", `{"set":"kitchens","for":"30m"}`)
	if v.Set == nil || v.Set.ID != "kitchens" || v.Slots["v1"].Camera != "kitchen-guomao-1" || v.Control.Source != "manual" || v.Control.Override.By != "patrol-1" {
		t.Fatalf("after set: %+v", v)
	}
	ok("POST", "/api/v1/walls/main/push", "commander", `{"slot":"v2","camera":"road-binhai"}`)
	if v.Slots["v2"] != (wall.Slot{Camera: "road-binhai", Source: "push", By: "commander-1"}) {
		t.Fatalf("after push: %+v", v.Slots)
	}
	ok("POST", "/api/v1/walls/main/tour", "admin", `{"action":"start","tour":"patrol"}`)
	ok("POST", "/api/v1/walls/main/tour", "patrol", `{"action":"skip"}`)
	if v.Tour == nil || v.Tour.Step != 1 || v.Set.ID != "kitchens" {
		t.Fatalf("after skip: tour %+v set %+v", v.Tour, v.Set)
	}
	ok("POST", "/api/v1/walls/main/tour", "patrol", `{"action":"pause"}`)
	if !v.Tour.Paused {
		t.Fatal("pause did not pause")
	}
	ok("PUT", "/api/v1/walls/main/layouts/six", "patrol",
		`{"name":"六分屏","grid":[3,2],"tiles":[{"id":"v1","kind":"video","x":0,"y":0,"w":1,"h":1},{"id":"v2","kind":"video","x":1,"y":0,"w":1,"h":1},{"id":"v3","kind":"video","x":2,"y":0,"w":1,"h":1},{"id":"map","kind":"map","x":0,"y":1,"w":2,"h":1,"opts":{"layers":["cameras"]}},{"id":"v4","kind":"video","x":2,"y":1,"w":1,"h":1,"alert":true}]}`)
	ok("POST", "/api/v1/walls/main/layout", "patrol", `{"layout":"six"}`)
	if v.Layout.ID != "six" || len(v.Slots) != 4 {
		t.Fatalf("after layout: %q slots %+v", v.Layout.ID, v.Slots)
	}
	ok("PUT", "/api/v1/camera-sets/gates-east", "commander", `{"name":"东部校门","name_en":"Eastern school gates","cameras":["school-meilan-1","school-qiongshan-1"]}`)
	ok("PUT", "/api/v1/tours/short", "commander", `{"name":"短轮巡","dwell":"10m","steps":[{"set":"gates-east"},{"set":"roads","dwell":"5m"}]}`)
	ok("PUT", "/api/v1/schedules/late", "commander", `{"name":"深夜","wall":"main","days":["weekend"],"start":"23:00","end":"01:00","tour":"short"}`)
	var all struct {
		Tours []wall.Tour `json:"tours"`
	}
	s.getJSON("/api/v1/walls", s.tokens[config.RoleWall], &all)
	if tr := all.Tours[len(all.Tours)-1]; tr.ID != "short" || tr.Steps[1].Dwell.Minutes() != 5 {
		t.Fatalf("tour read back: %+v", tr)
	}
	ok("POST", "/api/v1/walls/main/release", "patrol", "")
	if v.Control.Source == "manual" || v.Control.Override != nil || v.Layout.ID != "command" {
		t.Fatalf("after release: %+v layout %q", v.Control, v.Layout.ID)
	}

	var audit struct {
		Entries []wall.Entry `json:"entries"`
	}
	s.getJSON("/api/v1/audit?wall=main&limit=50", s.tokens[config.RoleWall], &audit)
	want := []string{"release", "schedule.put", "tour.put", "set.put", "layout", "layout.put", "tour", "tour", "tour", "push", "set"}
	var got []string
	for _, e := range audit.Entries {
		if e.Role != "system" {
			got = append(got, e.Action)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("audit actions %v, want %v", got, want)
	}
	if e := audit.Entries[len(audit.Entries)-1]; e.Who != "patrol-1" || e.Role != "patrol" || e.Detail != "kitchens" || e.Time.IsZero() {
		t.Fatalf("first entry: %+v", e)
	}
	for _, e := range audit.Entries {
		if e.Action == "tour" && e.Detail == "start patrol" && (e.Who != "admin-1" || e.Role != "admin") {
			t.Fatalf("tour start by %s/%s", e.Who, e.Role)
		}
	}

	// Hub: the wall's topic; a wall that does not exist is not a topic.
	c := s.connect(s.tokens[config.RoleWall])
	snap := c.subscribe("wall/main")
	var st map[string]json.RawMessage
	if err := json.Unmarshal(snap.Data, &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"wall", "layout", "set", "slots", "tour", "control"} {
		if _, ok := st[k]; !ok {
			t.Errorf("wall/main snapshot lacks %q: %s", k, snap.Data)
		}
	}
	c.send(map[string]any{"op": "subscribe", "id": 99, "topic": "wall/zz"})
	c.waitFor("unknown wall topic", func(m wsMsg) bool { return m.Type == "error" && m.ID == 99 && m.Code == "unknown_topic" })
	ok("POST", "/api/v1/walls/main/set", "patrol", `{"set":"reservoirs"}`)
	c.waitFor("the switch on the hub", func(m wsMsg) bool {
		return m.Type == "delta" && m.Topic == "wall/main" && strings.Contains(string(m.Data), `"reservoirs"`)
	})

	// Alert camera linkage through the seam.
	if err := s.app.WallPusher().PushAlert(t.Context(), "al-7", []string{"underpass-haifu"}); err != nil {
		t.Fatal(err)
	}
	c.waitFor("the alert camera", func(m wsMsg) bool {
		return m.Type == "delta" && m.Topic == "wall/main" && strings.Contains(string(m.Data), `"alert":"al-7"`)
	})
	if n, found := metric(t, s.reg, "citywall_wall_changes_total", map[string]string{"action": "set"}); !found || n != 2 {
		t.Errorf("citywall_wall_changes_total{action=set} = %v (found %v), want 2", n, found)
	}
}

// TestWallStateSurvivesRestart: a server started again on the same state
// file shows what the last one showed, with the same override and audit.
func TestWallStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg, tokens := demoWalls(t, dir)
	s := startWith(t, cfg, tokens)
	code, b := s.wallDo("POST", "/api/v1/walls/main/set", "patrol", `{"set":"roads","for":"3h"}`)
	if code != 200 {
		t.Fatalf("set: %d %s", code, b)
	}
	code, b = s.wallDo("PUT", "/api/v1/walls/overview/layouts/two", "commander",
		`{"name":"双画面","grid":[2,1],"tiles":[{"id":"v1","kind":"video","x":0,"y":0,"w":1,"h":1},{"id":"v2","kind":"video","x":1,"y":0,"w":1,"h":1}]}`)
	if code != 204 {
		t.Fatalf("put layout: %d %s", code, b)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	s2 := startWith(t, cfg, tokens)
	var v wallView
	s2.getJSON("/api/v1/walls/main", s2.tokens[config.RoleWall], &v)
	if v.Set == nil || v.Set.ID != "roads" || v.Control.Override == nil || v.Control.Override.By != "patrol-1" {
		t.Fatalf("after restart: set %+v control %+v", v.Set, v.Control)
	}
	s2.getJSON("/api/v1/walls/overview", s2.tokens[config.RoleWall], &v)
	if len(v.Layouts) != 3 || v.Layouts[2].ID != "two" {
		t.Fatalf("after restart the overview has layouts %+v", v.Layouts)
	}
	var audit struct {
		Entries []wall.Entry `json:"entries"`
	}
	s2.getJSON("/api/v1/audit?limit=5", s2.tokens[config.RoleWall], &audit)
	if len(audit.Entries) < 2 || audit.Entries[0].Action != "layout.put" || audit.Entries[1].Action != "set" {
		t.Fatalf("audit after restart: %+v", audit.Entries)
	}
}
