package wall

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var testCams = []Camera{
	{ID: "a1", Name: "A1", Tags: []string{"a"}}, {ID: "a2", Name: "A2", Tags: []string{"a"}},
	{ID: "b1", Name: "B1", Tags: []string{"b"}}, {ID: "c1", Name: "C1", Tags: []string{"c"}},
	{ID: "x9", Name: "X9"},
}

// testSpec is one wall of 2×1 monitors with two video slots (the second
// marked alert), sets a, b, c and a tour through them.
func testSpec() Spec {
	return Spec{
		Walls: []Wall{{
			ID: "w", Name: "W", Rows: 1, Cols: 2, Monitor: [2]int{1920, 1080}, Layout: "l", Tour: "t",
			Layouts: []Layout{
				{ID: "l", Name: "L", Grid: [2]int{4, 2}, Tiles: []Tile{
					{ID: "map", Kind: KindMap, X: 0, Y: 0, W: 2, H: 2},
					{ID: "v1", Kind: KindVideo, X: 2, Y: 0, W: 2, H: 1},
					{ID: "v2", Kind: KindVideo, X: 2, Y: 1, W: 2, H: 1, Alert: true},
				}},
				{ID: "m", Name: "M", Grid: [2]int{1, 1}, Tiles: []Tile{{ID: "v1", Kind: KindVideo, W: 1, H: 1}}},
			},
		}},
		Sets: []Set{
			{ID: "a", Name: "A", Cameras: []string{"a1", "a2"}},
			{ID: "b", Name: "B", Cameras: []string{"b1"}},
			{ID: "c", Name: "C", Cameras: []string{"c1"}},
		},
		Tours: []Tour{{ID: "t", Name: "T", Steps: []Step{{Set: "a"}, {Set: "b"}, {Set: "c", Dwell: 10 * time.Minute}}}},
	}
}

// recorder is a Publisher keeping each wall topic's latest state.
type recorder struct {
	mu    sync.Mutex
	state map[string]map[string]json.RawMessage
	n     int
}

func (r *recorder) PublishState(_ context.Context, topic string, set map[string]json.RawMessage, del []string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == nil {
		r.state = map[string]map[string]json.RawMessage{}
	}
	if r.state[topic] == nil {
		r.state[topic] = map[string]json.RawMessage{}
	}
	for k, v := range set {
		r.state[topic][k] = v
	}
	r.n++
	return nil
}

func (r *recorder) get(topic, key string, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = json.Unmarshal(r.state[topic][key], v)
}

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// harness runs a Manager in the test's bubble.
type harness struct {
	t      *testing.T
	m      *Manager
	pub    *recorder
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, spec Spec, store Store) *harness {
	t.Helper()
	pub := &recorder{}
	m, err := New(Options{Spec: spec, Cameras: testCams, Location: shanghai, Store: store, Publisher: pub})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, m: m, pub: pub, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(h.done); m.Run(ctx) }()
	synctest.Wait()
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

func (h *harness) view() View {
	h.t.Helper()
	v, err := h.m.View("w")
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

func (h *harness) wantSet(when, set string) {
	h.t.Helper()
	v := h.view()
	got := ""
	if v.Set != nil {
		got = v.Set.ID
	}
	if got != set {
		h.t.Fatalf("%s: set %q, want %q (source %s, tour %+v)", when, got, set, v.Control.Source, v.Tour)
	}
	// What displays see is the same.
	var pub *Ref
	h.pub.get("wall/w", "set", &pub)
	if (pub == nil && set != "") || (pub != nil && pub.ID != set) {
		h.t.Fatalf("%s: published set %+v, want %q", when, pub, set)
	}
}

var operator = Actor{Name: "patrol-1", Role: "patrol"}

// TestTourDwell: a tour shows each set for its dwell (30 minutes by
// default, 10 for the step that says so) and starts over.
func TestTourDwell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testSpec(), nil)
		defer h.stop()
		h.wantSet("start", "a")
		v := h.view()
		if v.Slots["v1"].Camera != "a1" || v.Slots["v2"].Camera != "a2" {
			t.Fatalf("slots %+v, want a1, a2 from set a", v.Slots)
		}
		if v.Tour == nil || v.Tour.Next.Sub(time.Now()) != DefaultDwell {
			t.Fatalf("tour %+v: next step should be in %s", v.Tour, DefaultDwell)
		}
		time.Sleep(30*time.Minute - time.Second)
		synctest.Wait()
		h.wantSet("29:59", "a")
		time.Sleep(time.Second)
		synctest.Wait()
		h.wantSet("30:00", "b")
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		h.wantSet("60:00", "c")
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		h.wantSet("70:00", "a")
		if got := h.view().Control.Version; got < 3 {
			t.Errorf("version %d after three steps", got)
		}
	})
}

// TestTourPauseSkipResume: a paused tour holds its step; skip moves on at
// once; resume keeps what was left of the dwell.
func TestTourPauseSkipResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testSpec(), nil)
		defer h.stop()
		ctx := context.Background()
		time.Sleep(20 * time.Minute)
		if _, err := h.m.TourAction(ctx, operator, "w", TourPause, "", 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		h.wantSet("paused an hour", "a")
		if v := h.view(); !v.Tour.Paused || v.Tour.Left != (10*time.Minute).Seconds() {
			t.Fatalf("tour %+v: want paused with 600 s left", v.Tour)
		}
		if _, err := h.m.TourAction(ctx, operator, "w", TourResume, "", 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10*time.Minute - time.Second)
		synctest.Wait()
		h.wantSet("resumed 9:59", "a")
		time.Sleep(time.Second)
		synctest.Wait()
		h.wantSet("resumed 10:00", "b")
		if _, err := h.m.TourAction(ctx, operator, "w", TourSkip, "", 0); err != nil {
			t.Fatal(err)
		}
		h.wantSet("skipped", "c")
		if v := h.view(); v.Control.Source != SourceManual || v.Control.Override == nil || v.Control.Override.By != "patrol-1" {
			t.Fatalf("control %+v: a manual tour action overrides the schedule", v.Control)
		}
		_, err := h.m.TourAction(ctx, operator, "w", "rewind", "", 0)
		var we *Error
		if !errors.As(err, &we) || we.Key != "action" {
			t.Fatalf("unknown action: %v", err)
		}
	})
}

// TestOverrideExpiry: a manual set holds until its time is up, then the
// wall's default (the tour) takes over again; release ends it at once.
func TestOverrideExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testSpec(), nil)
		defer h.stop()
		ctx := context.Background()
		if _, err := h.m.ShowSet(ctx, operator, "w", "c", 45*time.Minute); err != nil {
			t.Fatal(err)
		}
		h.wantSet("manual", "c")
		time.Sleep(45*time.Minute - time.Second)
		synctest.Wait()
		h.wantSet("44:59", "c")
		time.Sleep(time.Second)
		synctest.Wait()
		h.wantSet("45:00", "a") // the tour starts over from its first step
		if v := h.view(); v.Control.Source != SourceDefault || v.Control.Override != nil {
			t.Fatalf("control %+v after expiry", v.Control)
		}
		if _, err := h.m.PushCamera(ctx, operator, "w", "v1", "x9", 0); err != nil {
			t.Fatal(err)
		}
		if v := h.view(); v.Slots["v1"] != (Slot{Camera: "x9", Source: "push", By: "patrol-1"}) || !v.Control.Override.Until.Equal(time.Now().Add(DefaultOverride)) {
			t.Fatalf("after push: slots %+v, control %+v", v.Slots, v.Control)
		}
		if _, err := h.m.Release(ctx, operator, "w"); err != nil {
			t.Fatal(err)
		}
		if v := h.view(); v.Slots["v1"].Camera != "a1" || v.Control.Source != SourceDefault {
			t.Fatalf("after release: slots %+v, control %+v", v.Slots, v.Control)
		}
	})
}

// TestScheduleCrossingMidnight: a Friday 22:00–06:00 rule runs into
// Saturday morning, in the city's time zone, and the wall returns to its
// default when it ends.
func TestScheduleCrossingMidnight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := testSpec()
		spec.Walls[0].Tour, spec.Walls[0].Set = "", "a"
		spec.Schedules = []Schedule{{ID: "night", Name: "Night", Days: []string{"fri"}, Start: "22:00", End: "06:00", Set: "c"}}
		// The bubble starts at 2000-01-01 00:00 UTC: Saturday 08:00 in
		// Shanghai. Move to Friday 2000-01-07 21:59 local.
		target := time.Date(2000, 1, 7, 21, 59, 0, 0, shanghai)
		time.Sleep(target.Sub(time.Now()))
		h := start(t, spec, nil)
		defer h.stop()
		h.wantSet("Fri 21:59", "a")
		time.Sleep(time.Minute)
		synctest.Wait()
		h.wantSet("Fri 22:00", "c")
		if v := h.view(); v.Control.Schedule == nil || v.Control.Schedule.ID != "night" {
			t.Fatalf("control %+v: want the night schedule", v.Control)
		}
		time.Sleep(3 * time.Hour) // Sat 01:00, a day the rule does not name
		synctest.Wait()
		h.wantSet("Sat 01:00", "c")
		time.Sleep(5*time.Hour - time.Second)
		synctest.Wait()
		h.wantSet("Sat 05:59:59", "c")
		time.Sleep(time.Second)
		synctest.Wait()
		h.wantSet("Sat 06:00", "a")
		time.Sleep(16 * time.Hour) // Sat 22:00: not Friday
		synctest.Wait()
		h.wantSet("Sat 22:00", "a")
		if now := time.Now().In(shanghai); now.Weekday() != time.Saturday || now.Hour() != 22 {
			t.Fatalf("clock at %s", now)
		}
	})
}

// TestScheduleOverride: a manual switch holds off a schedule that starts
// during it; when the override ends the schedule's run takes over.
func TestScheduleOverride(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := testSpec()
		spec.Schedules = []Schedule{{ID: "gates", Name: "Gates", Days: []string{"daily"}, Start: "17:00", End: "18:00", Set: "b", Layout: "m"}}
		time.Sleep(time.Date(2000, 1, 3, 16, 30, 0, 0, shanghai).Sub(time.Now()))
		h := start(t, spec, nil)
		defer h.stop()
		if _, err := h.m.ShowSet(context.Background(), operator, "w", "c", time.Hour); err != nil {
			t.Fatal(err)
		}
		time.Sleep(45 * time.Minute) // 17:15, the schedule has started
		synctest.Wait()
		h.wantSet("17:15 override", "c")
		time.Sleep(15 * time.Minute) // 17:30, the override is over
		synctest.Wait()
		h.wantSet("17:30", "b")
		if v := h.view(); v.Layout.ID != "m" || v.Control.Source != "schedule:gates" {
			t.Fatalf("layout %q source %q: the schedule's layout and source", v.Layout.ID, v.Control.Source)
		}
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if v := h.view(); v.Layout.ID != "l" || v.Control.Source != SourceDefault {
			t.Fatalf("after the schedule: layout %q source %q", v.Layout.ID, v.Control.Source)
		}
	})
}

// TestRestartMidTour: the state file brings a restarted server back to the
// step the tour would be at, counting the time it was down.
func TestRestartMidTour(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		store := &FileStore{Path: filepath.Join(dir, "walls.json")}
		t0 := time.Now()
		h := start(t, testSpec(), store)
		time.Sleep(45 * time.Minute) // step b since 30:00
		synctest.Wait()
		h.wantSet("45:00", "b")
		if _, err := h.m.PushCamera(context.Background(), operator, "w", "v1", "x9", 3*time.Hour); err != nil {
			t.Fatal(err)
		}
		h.stop()
		time.Sleep(20 * time.Minute) // down from 45:00 to 65:00
		h2 := start(t, testSpec(), &FileStore{Path: store.Path})
		defer h2.stop()
		v := h2.view()
		// The push made a manual override; the tour goes on under it.
		if v.Tour == nil || v.Tour.Step != 2 || !v.Tour.Next.Equal(t0.Add(70*time.Minute)) {
			t.Fatalf("after restart at 65:00: tour %+v, want step 3 (c) until 70:00", v.Tour)
		}
		if v.Slots["v1"].Camera != "x9" || v.Control.Override == nil || v.Control.Override.By != "patrol-1" {
			t.Fatalf("after restart: slots %+v control %+v: the push and its override survive", v.Slots, v.Control)
		}
		entries := h2.m.Audit(AuditQuery{Wall: "w"})
		if len(entries) == 0 || entries[0].Action != "push" && entries[0].Action != "auto" {
			t.Fatalf("audit after restart: %+v", entries)
		}
	})
}

// TestAlertLinkage: an alert's cameras take the slots marked alert, newest
// alert first, and Revert gives the slot back.
func TestAlertLinkage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testSpec(), nil)
		defer h.stop()
		ctx := context.Background()
		var _ interface {
			PushAlert(context.Context, string, []string) error
			Revert(context.Context, string) error
		} = h.m
		if err := h.m.PushAlert(ctx, "al-1", []string{"nope", "c1"}); err != nil {
			t.Fatal(err)
		}
		if v := h.view(); v.Slots["v2"] != (Slot{Camera: "c1", Source: "alert", Alert: "al-1"}) || v.Slots["v1"].Camera != "a1" {
			t.Fatalf("slots %+v: want c1 on the alert slot v2 only", v.Slots)
		}
		var slots map[string]Slot
		h.pub.get("wall/w", "slots", &slots)
		if slots["v2"].Alert != "al-1" {
			t.Fatalf("published slots %+v", slots)
		}
		if err := h.m.PushAlert(ctx, "al-2", []string{"x9"}); err != nil {
			t.Fatal(err)
		}
		if v := h.view(); v.Slots["v2"].Alert != "al-2" {
			t.Fatalf("slots %+v: the newest alert shows", v.Slots)
		}
		if err := h.m.Revert(ctx, "al-2"); err != nil {
			t.Fatal(err)
		}
		if v := h.view(); v.Slots["v2"].Alert != "al-1" {
			t.Fatalf("slots %+v after reverting al-2", v.Slots)
		}
		if err := h.m.Revert(ctx, "al-1"); err != nil {
			t.Fatal(err)
		}
		if v := h.view(); v.Slots["v2"] != (Slot{Camera: "a2", Source: "set"}) {
			t.Fatalf("slots %+v: the set's camera comes back", v.Slots)
		}
		if err := h.m.Revert(ctx, "al-1"); err != nil {
			t.Fatalf("revert twice: %v", err)
		}
		if err := h.m.PushAlert(ctx, "al-3", []string{"nope"}); err == nil {
			t.Fatal("an alert with no known camera was taken")
		}
		e := h.m.Audit(AuditQuery{Limit: 1})
		if len(e) != 1 || e[0].Action != "alert.revert" || e[0].Who != "alerts" {
			t.Fatalf("audit %+v", e)
		}
	})
}

// TestAudit: every change is recorded with who, role, what and when, and
// the query filters by wall, time and count.
func TestAudit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testSpec(), nil)
		defer h.stop()
		ctx := context.Background()
		cmd := Actor{Name: "duty-1", Role: "commander"}
		t0 := time.Now()
		if _, err := h.m.ShowSet(ctx, operator, "w", "b", 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if _, err := h.m.ShowLayout(ctx, cmd, "w", "m", 0); err != nil {
			t.Fatal(err)
		}
		if err := h.m.PutSet(ctx, cmd, Set{ID: "d", Name: "D", Cameras: []string{"x9"}}); err != nil {
			t.Fatal(err)
		}
		all := h.m.Audit(AuditQuery{})
		if len(all) != 3 {
			t.Fatalf("audit %+v: want 3 entries", all)
		}
		if e := all[2]; e.Who != "patrol-1" || e.Role != "patrol" || e.Action != "set" || e.Detail != "b" || e.Wall != "w" || !e.Time.Equal(t0) {
			t.Fatalf("oldest entry %+v", e)
		}
		if e := all[0]; e.Who != "duty-1" || e.Action != "set.put" || e.Wall != "" {
			t.Fatalf("newest entry %+v", e)
		}
		if got := h.m.Audit(AuditQuery{Since: t0.Add(time.Second)}); len(got) != 2 {
			t.Fatalf("since: %+v", got)
		}
		if got := h.m.Audit(AuditQuery{Limit: 1}); len(got) != 1 || got[0].Action != "set.put" {
			t.Fatalf("limit: %+v", got)
		}
		if got := h.m.Audit(AuditQuery{Wall: "other"}); len(got) != 1 {
			t.Fatalf("another wall sees only the changes of no one wall: %+v", got)
		}
	})
}

// TestEditsSurviveRestart: a layout and a set changed through the API are
// there after a restart, and a change that breaks a rule is refused whole.
func TestEditsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "walls.json")
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testSpec(), &FileStore{Path: path})
		ctx := context.Background()
		l := Layout{ID: "n", Name: "N", Grid: [2]int{2, 1}, Tiles: []Tile{{ID: "v1", Kind: KindVideo, W: 1, H: 1}, {ID: "v2", Kind: KindVideo, X: 1, W: 1, H: 1}}}
		if err := h.m.PutLayout(ctx, operator, "w", l); err != nil {
			t.Fatal(err)
		}
		if _, err := h.m.ShowLayout(ctx, operator, "w", "n", 0); err != nil {
			t.Fatal(err)
		}
		bad := l
		bad.Tiles = append([]Tile{}, l.Tiles...)
		bad.Tiles[1].X = 0
		err := h.m.PutLayout(ctx, operator, "w", bad)
		if err == nil || !strings.Contains(err.Error(), "overlaps") {
			t.Fatalf("overlapping layout: %v", err)
		}
		if err := h.m.DeleteSet(ctx, operator, "a"); err == nil || !strings.Contains(err.Error(), "unknown set") {
			t.Fatalf("deleting a set a tour uses: %v", err)
		}
		h.stop()
		h2 := start(t, testSpec(), &FileStore{Path: path})
		defer h2.stop()
		if v := h2.view(); v.Layout.ID != "n" || len(v.Layout.Tiles) != 2 {
			t.Fatalf("after restart the layout is %+v", v.Layout)
		}
	})
}

// TestFileStoreAtomic: a save replaces the file whole; a temporary file
// left by a crash before the rename changes nothing; a torn audit line is
// skipped; the audit file is compacted to what is kept.
func TestFileStoreAtomic(t *testing.T) {
	dir := t.TempDir()
	fs := &FileStore{Path: filepath.Join(dir, "sub", "walls.json"), Keep: 5}
	if s, err := fs.Load(); s != nil || err != nil {
		t.Fatalf("empty store: %v %v", s, err)
	}
	snap := &Snapshot{Walls: map[string]*wallState{"w": {Layout: "l", Set: "a", Version: 7}}}
	if err := fs.Save(snap); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves a temporary file, never a torn state file.
	if err := os.WriteFile(filepath.Join(dir, "sub", ".walls.json.123.tmp"), []byte(`{"walls": {"w": {"lay`), 0o644); err != nil {
		t.Fatal(err)
	}
	snap.Walls["w"].Version = 8
	if err := fs.Save(snap); err != nil {
		t.Fatal(err)
	}
	got, err := fs.Load()
	if err != nil || got.Walls["w"].Version != 8 || got.Walls["w"].Set != "a" {
		t.Fatalf("load: %+v %v", got, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "sub", ".walls.json.*.tmp"))
	if len(left) != 1 {
		t.Fatalf("temporary files %v: saves leave none of their own", left)
	}
	if err := os.WriteFile(fs.Path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Load(); err == nil || !strings.Contains(err.Error(), "walls.json") {
		t.Fatalf("a corrupt state file is an error naming it: %v", err)
	}
	if _, err := os.Stat(fs.Path + ".unreadable"); err != nil {
		t.Fatalf("the corrupt file is not kept aside: %v", err)
	}
	if err := os.WriteFile(fs.Path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	var failed int
	m, err := New(Options{Spec: testSpec(), Cameras: testCams, Store: fs, OnError: func(error) { failed++ }})
	if err != nil || failed != 1 {
		t.Fatalf("a wall with an unreadable state file must still start: %v (%d errors reported)", err, failed)
	}
	if v, _ := m.View("w"); v.Layout.ID != "l" {
		t.Fatalf("after an unreadable state file: layout %q", v.Layout.ID)
	}

	for i := range 12 {
		if err := fs.Append(Entry{Who: "p", Action: "set", Detail: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := os.OpenFile(fs.Path+".audit", os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"who":"torn","act`)
	f.Close()
	entries, err := (&FileStore{Path: fs.Path, Keep: 5}).Entries()
	if err != nil || len(entries) != 5 || entries[4].Detail != "l" {
		t.Fatalf("entries %+v %v: the last 5, the torn line skipped", entries, err)
	}
	data, _ := os.ReadFile(fs.Path + ".audit")
	if n := strings.Count(string(data), "\n"); n > 11 {
		t.Fatalf("audit file has %d lines with keep 5: not compacted", n)
	}
}
