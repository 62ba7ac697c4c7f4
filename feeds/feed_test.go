package feeds_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citywall/citywall/feeds"
)

// t0 is a fixed moment: 2026-11-20 10:00 CST.
var t0 = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

func stations() []feeds.Station {
	return []feeds.Station{
		{ID: "res-a", Kind: feeds.Reservoir, Name: "甲水库", NameEn: "Reservoir A", Lat: 19.98, Lng: 110.30, Interval: 5 * time.Minute, Warn: 18.5, Limit: 19.0, Cameras: []string{"cam-1"}},
		{ID: "wl-a", Kind: feeds.Waterlogging, Name: "甲下穿", NameEn: "Underpass A", Lat: 20.01, Lng: 110.31, Interval: time.Minute, Warn: 15, Limit: 30},
		{ID: "rain-a", Kind: feeds.Rain, Name: "甲雨量站", Lat: 20.02, Lng: 110.32, Interval: time.Minute, Warn: 30, Limit: 50},
		{ID: "road-a", Kind: feeds.Road, Name: "甲大道", NameEn: "A Ave", Interval: time.Minute, FreeFlow: 60, Key: true,
			Polyline: [][2]float64{{20.03, 110.30}, {20.03, 110.32}}},
	}
}

// recorder is an Alerter that keeps what it is told.
type recorder struct {
	mu  sync.Mutex
	log []string // "fire <fp> <severity>" or "clear <fp>"
	on  map[string]feeds.Alert
}

func (r *recorder) Fire(_ context.Context, a feeds.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on == nil {
		r.on = map[string]feeds.Alert{}
	}
	r.on[a.Fingerprint] = a
	r.log = append(r.log, "fire "+a.Fingerprint+" "+a.Severity)
	return nil
}

func (r *recorder) Clear(_ context.Context, fp string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.on, fp)
	r.log = append(r.log, "clear "+fp)
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.log
	r.log = nil
	return l
}

var _ feeds.Alerter = (*recorder)(nil)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func newFeed(t *testing.T, now func() time.Time, al feeds.Alerter) *feeds.Feed {
	t.Helper()
	f, err := feeds.New(feeds.Options{Stations: stations(), Now: now, Alerter: al, JamAfter: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func post(t *testing.T, f *feeds.Feed, body string) []feeds.Outcome {
	t.Helper()
	items, err := feeds.DecodeReadings(strings.NewReader(body), 0)
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return f.Ingest(context.Background(), "push", items)
}

func TestDecodeMalformed(t *testing.T) {
	for _, body := range []string{``, `{`, `[{"station":"a"},`, `{"station":"a"} {`, `nonsense`, `[1,2`, `{"station": NaN}`} {
		if _, err := feeds.DecodeReadings(strings.NewReader(body), 0); err == nil {
			t.Errorf("body %q: decoded, want an error", body)
		}
	}
	if _, err := feeds.DecodeReadings(strings.NewReader(`[{},{},{}]`), 2); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Errorf("3 items with a bound of 2: %v", err)
	}
}

func TestBadReadings(t *testing.T) {
	ts := t0.Format(time.RFC3339)
	cases := []struct {
		name, body, status, reason string
	}{
		{"unknown station", `{"station":"nope","time":"` + ts + `","value":1,"unit":"m"}`, "rejected", `station: "nope" is not a configured station`},
		{"no station", `{"time":"` + ts + `","value":1,"unit":"m"}`, "rejected", "station: required"},
		{"NaN string", `{"station":"res-a","time":"` + ts + `","value":"NaN","unit":"m"}`, "rejected", "value: NaN not a number"},
		{"Inf string", `{"station":"res-a","time":"` + ts + `","value":"-Infinity","unit":"m"}`, "rejected", "not a finite number"},
		{"overflow", `{"station":"res-a","time":"` + ts + `","value":1e999,"unit":"m"}`, "rejected", "not a finite number"},
		{"text value", `{"station":"res-a","time":"` + ts + `","value":"high","unit":"m"}`, "rejected", "value: \"high\" not a number"},
		{"missing value", `{"station":"res-a","time":"` + ts + `","unit":"m"}`, "rejected", "value: required"},
		{"two values", `{"station":"res-a","time":"` + ts + `","value":1,"level":2,"unit":"m"}`, "rejected", "level: the measurement is already given as value"},
		{"missing unit", `{"station":"res-a","time":"` + ts + `","level":18.2}`, "rejected", "unit: required"},
		{"unit of another kind", `{"station":"res-a","time":"` + ts + `","level":18.2,"unit":"km/h"}`, "rejected", `unit: "km/h" is not a unit of a reservoir reading`},
		{"cm labelled m", `{"station":"res-a","time":"` + ts + `","level":1820,"unit":"m"}`, "rejected", "implausible for res-a"},
		{"depth in m labelled cm", `{"station":"wl-a","time":"` + ts + `","depth":-0.2,"unit":"cm"}`, "accepted", ""},
		{"negative depth", `{"station":"wl-a","time":"` + ts + `","depth":-20,"unit":"cm"}`, "rejected", "out of range -5..500 cm"},
		{"speed over range", `{"station":"road-a","time":"` + ts + `","speed":900,"unit":"km/h"}`, "rejected", "out of range 0..250 km/h"},
		{"no time", `{"station":"res-a","value":18,"unit":"m"}`, "rejected", "time: required"},
		{"time without zone", `{"station":"res-a","time":"2026-11-20 10:00","value":18,"unit":"m"}`, "rejected", "time: \"2026-11-20 10:00\" not RFC 3339"},
		{"future", `{"station":"res-a","time":"` + t0.Add(time.Hour).Format(time.RFC3339) + `","value":18,"unit":"m"}`, "rejected", "ahead of the server's clock"},
		{"too old", `{"station":"res-a","time":"` + t0.Add(-48*time.Hour).Format(time.RFC3339) + `","value":18,"unit":"m"}`, "rejected", "older than the 24h0m0s of history"},
		{"flow on a road", `{"station":"road-a","time":"` + ts + `","speed":40,"unit":"km/h","inflow":3}`, "rejected", "inflow: only reservoirs"},
		{"negative flow", `{"station":"res-a","time":"` + ts + `","value":18,"unit":"m","inflow":-3}`, "rejected", "inflow: -3 out of range"},
		{"not an object", `[42]`, "rejected", "item: must be a JSON object"},
		{"incident without type", `{"incident":"i1","time":"` + ts + `","lat":20,"lng":110}`, "rejected", "type: not one of accident"},
		{"incident on unknown road", `{"incident":"i1","type":"accident","road":"x","time":"` + ts + `","lat":20,"lng":110}`, "rejected", `road: "x" is not a configured road segment`},
		{"incident at 0,0", `{"incident":"i1","type":"closure","time":"` + ts + `","lat":0,"lng":0}`, "rejected", "0,0 is not a place"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFeed(t, func() time.Time { return t0 }, nil)
			out := post(t, f, c.body)
			if len(out) != 1 {
				t.Fatalf("%d outcomes", len(out))
			}
			if string(out[0].Status) != c.status || !strings.Contains(out[0].Reason, c.reason) {
				t.Errorf("got %s %q, want %s containing %q", out[0].Status, out[0].Reason, c.status, c.reason)
			}
		})
	}
}

func TestUnitsConverted(t *testing.T) {
	f := newFeed(t, func() time.Time { return t0 }, nil)
	ts := t0.Format(time.RFC3339)
	out := post(t, f, `[
{"station":"res-a","time":"`+ts+`","level":1820,"unit":"cm"},
{"station":"wl-a","time":"`+ts+`","depth":0.12,"unit":"m"},
{"station":"rain-a","time":"`+ts+`","rain":"1.2","unit":"cm/h"},
{"station":"road-a","time":`+itoa(t0.Unix())+`,"speed":10,"unit":"m/s"}]`)
	for _, o := range out {
		if o.Status != feeds.Accepted {
			t.Fatalf("item %d: %s %s", o.Index, o.Status, o.Reason)
		}
	}
	want := map[string]float64{"res-a": 18.2, "wl-a": 12, "rain-a": 12, "road-a": 36}
	for id, v := range want {
		_, pts, _ := f.History(id, t0.Add(-time.Hour))
		if len(pts) != 1 || abs(pts[0].V-v) > 1e-9 {
			t.Errorf("%s: history %v, want one point of %v", id, pts, v)
		}
	}
}

func TestDuplicateAndOutOfOrder(t *testing.T) {
	f := newFeed(t, func() time.Time { return t0 }, nil)
	r := func(at time.Time, v float64) string {
		return `{"station":"res-a","time":"` + at.Format(time.RFC3339) + `","level":` + ftoa(v) + `,"unit":"m"}`
	}
	out := post(t, f, "["+r(t0, 18.0)+","+r(t0, 18.0)+","+r(t0, 18.3)+","+r(t0.Add(-10*time.Minute), 17.5)+"]")
	want := []feeds.Outcome{{Status: feeds.Accepted}, {Status: feeds.Duplicate}, {Status: feeds.Duplicate}, {Status: feeds.Accepted}}
	for i, o := range out {
		if o.Status != want[i].Status {
			t.Errorf("item %d: %s %q, want %s", i, o.Status, o.Reason, want[i].Status)
		}
	}
	if !strings.Contains(out[2].Reason, "already held") {
		t.Errorf("a differing duplicate should say so: %q", out[2].Reason)
	}
	if !strings.Contains(out[3].Note, "older than the current reading") {
		t.Errorf("out-of-order note: %q", out[3].Note)
	}
	// The older reading is in the history, and the current value is still
	// the newer one.
	_, pts, _ := f.History("res-a", t0.Add(-time.Hour))
	if len(pts) != 2 || pts[0].V != 17.5 || pts[1].V != 18.0 {
		t.Errorf("history %v", pts)
	}
	var v struct{ Value float64 }
	if err := json.Unmarshal(f.Snapshot(feeds.TopicFlood)["res-a"], &v); err != nil || v.Value != 18.0 {
		t.Errorf("current value %v (%v), want 18.0", v.Value, err)
	}
	st := f.Stats()
	if st.Accepted != 2 || st.Duplicates != 2 || st.OutOfOrder != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestThresholdAlerts walks a reservoir and a waterlogging point up past
// their thresholds and back, checking severities and hysteresis.
func TestThresholdAlerts(t *testing.T) {
	rec := &recorder{}
	clk := &clock{now: t0}
	f := newFeed(t, clk.Now, rec)
	step := 0
	send := func(id, field string, v float64, unit string) {
		step++
		at := t0.Add(time.Duration(step) * time.Second)
		clk.Set(at)
		out := post(t, f, `{"station":"`+id+`","time":"`+at.Format(time.RFC3339)+`","`+field+`":`+ftoa(v)+`,"unit":"`+unit+`"}`)
		if out[0].Status != feeds.Accepted {
			t.Fatalf("%s %v: %s %s", id, v, out[0].Status, out[0].Reason)
		}
	}
	expect := func(want ...string) {
		t.Helper()
		got := rec.take()
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("alerts %q, want %q", got, want)
		}
	}
	send("res-a", "level", 18.0, "m")
	expect()
	send("res-a", "level", 18.5, "m")
	expect("fire feeds/res-a/threshold warning")
	send("res-a", "level", 18.6, "m")
	expect()
	send("res-a", "level", 19.02, "m")
	expect("fire feeds/res-a/threshold critical")
	send("res-a", "level", 18.97, "m") // within the 5 cm hysteresis of the flood limit
	expect()
	send("res-a", "level", 18.9, "m")
	expect("fire feeds/res-a/threshold warning")
	send("res-a", "level", 18.47, "m") // within hysteresis of warning
	expect()
	send("res-a", "level", 18.4, "m")
	expect("clear feeds/res-a/threshold")

	send("wl-a", "depth", 16, "cm")
	expect("fire feeds/wl-a/threshold warning")
	a := rec.on["feeds/wl-a/threshold"]
	if a.Kind != "waterlogging" || a.Lat != 20.01 || !strings.Contains(a.Title, "甲下穿") || a.Category != "flood" {
		t.Errorf("alert %+v", a)
	}
	send("wl-a", "depth", 14, "cm") // 2 cm hysteresis holds
	expect()
	send("wl-a", "depth", 12.9, "cm")
	expect("clear feeds/wl-a/threshold")
	// Rain never alerts by itself.
	send("rain-a", "rain", 80, "mm/h")
	expect()
	if r := rec.on["feeds/res-a/threshold"]; r.Fingerprint != "" {
		t.Errorf("reservoir alert still on: %+v", r)
	}
}

// TestJamAndStaleAlerts runs the feed's own loop on a fake clock: a key
// road at level 4 for more than JamAfter raises an alert that clears when
// the road is back to level 2; a station that stops reporting goes stale
// after three intervals and comes back with its next reading.
func TestJamAndStaleAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		f := newFeed(t, time.Now, rec)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = f.Run(ctx) }()
		speed := func(v float64) {
			out := post(t, f, `{"station":"road-a","time":"`+time.Now().Format(time.RFC3339Nano)+`","speed":`+ftoa(v)+`,"unit":"km/h"}`)
			if out[0].Status != feeds.Accepted {
				t.Fatalf("speed %v: %s %s", v, out[0].Status, out[0].Reason)
			}
		}
		has := func(prefix string) bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, l := range rec.log {
				if strings.HasPrefix(l, prefix) {
					return true
				}
			}
			return false
		}
		// Keep the others fresh so only what is tested goes stale.
		fresh := func() {
			ts := time.Now().Format(time.RFC3339Nano)
			post(t, f, `[{"station":"res-a","time":"`+ts+`","level":18,"unit":"m"},{"station":"wl-a","time":"`+ts+`","depth":0,"unit":"cm"},{"station":"rain-a","time":"`+ts+`","rain":0,"unit":"mm/h"}]`)
		}
		for range 9 { // jammed (10 km/h of 60) for 9 minutes
			fresh()
			speed(10)
			time.Sleep(time.Minute)
		}
		synctest.Wait()
		if has("fire feeds/road-a/jam") {
			t.Fatalf("jam alert after 9 minutes: %v", rec.log)
		}
		fresh()
		speed(10) // minute 9
		time.Sleep(time.Minute)
		fresh()
		speed(11) // minute 10: the spell has lasted JamAfter
		synctest.Wait()
		if !has("fire feeds/road-a/jam warning") {
			t.Fatalf("no jam alert after 10 minutes at level 4: %v", rec.log)
		}
		time.Sleep(time.Minute)
		fresh()
		speed(25) // level 3: hysteresis keeps the alert
		synctest.Wait()
		if has("clear feeds/road-a/jam") {
			t.Fatalf("jam cleared at level 3: %v", rec.log)
		}
		time.Sleep(time.Minute)
		fresh()
		speed(40) // level 2
		synctest.Wait()
		if !has("clear feeds/road-a/jam") {
			t.Fatalf("jam not cleared at level 2: %v", rec.log)
		}
		// Now road-a stops reporting: stale after 3 × 1 minute.
		rec.take()
		for range 3 {
			time.Sleep(time.Minute)
			fresh()
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !has("fire feeds/road-a/stale warning") {
			t.Fatalf("road-a silent for 3 minutes: no stale alert: %v", rec.log)
		}
		if has("fire feeds/res-a/stale") {
			t.Errorf("a fresh station went stale: %v", rec.log)
		}
		var v struct{ Stale bool }
		_ = json.Unmarshal(f.Snapshot(feeds.TopicTraffic)["road-a"], &v)
		if !v.Stale {
			t.Errorf("road-a not shown as stale")
		}
		speed(50)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !has("clear feeds/road-a/stale") {
			t.Fatalf("stale alert not cleared by a fresh reading: %v", rec.log)
		}
		cancel()
		<-done
	})
}

// TestPublishes checks that changes reach the publisher, coalesced, with
// the station's state.
func TestPublishes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := &fakePub{}
		f, err := feeds.New(feeds.Options{Stations: stations(), Publisher: pub})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = f.Run(ctx) }()
		synctest.Wait()
		ts := time.Now().Format(time.RFC3339)
		post(t, f, `[{"station":"road-a","time":"`+ts+`","speed":12,"unit":"km/h"},{"incident":"i-1","type":"accident","road":"road-a","time":"`+ts+`","lat":20.03,"lng":110.31,"summary":"两车追尾"}]`)
		time.Sleep(time.Second)
		synctest.Wait()
		road := pub.get(feeds.TopicTraffic, "road-a")
		if !strings.Contains(road, `"level":4`) || !strings.Contains(road, `"state":"jammed"`) || !strings.Contains(road, `"polyline"`) {
			t.Errorf("road-a published as %s", road)
		}
		if inc := pub.get(feeds.TopicTraffic, "incident:i-1"); !strings.Contains(inc, "两车追尾") {
			t.Errorf("incident published as %q", inc)
		}
		post(t, f, `{"incident":"i-1","type":"accident","road":"road-a","time":"`+time.Now().Add(time.Minute).Format(time.RFC3339)+`","lat":20.03,"lng":110.31,"cleared":true}`)
		time.Sleep(time.Second)
		synctest.Wait()
		if inc := pub.get(feeds.TopicTraffic, "incident:i-1"); inc != "" {
			t.Errorf("cleared incident still published: %s", inc)
		}
		cancel()
		<-done
	})
}

type fakePub struct {
	mu    sync.Mutex
	state map[string]map[string]string
}

func (p *fakePub) PublishState(_ context.Context, topic string, set map[string]json.RawMessage, del []string, _ time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		p.state = map[string]map[string]string{}
	}
	m := p.state[topic]
	if m == nil {
		m = map[string]string{}
		p.state[topic] = m
	}
	for k, v := range set {
		m[k] = string(v)
	}
	for _, k := range del {
		delete(m, k)
	}
	return nil
}

func (p *fakePub) get(topic, key string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state[topic][key]
}

func FuzzDecodeReadings(f *testing.F) {
	for _, s := range []string{
		`{"station":"res-a","time":"2026-11-20T10:00:00+08:00","level":18.2,"unit":"m","inflow":3,"outflow":"2.5"}`,
		`[{"station":"wl-a","time":1795000000,"depth":"NaN","unit":"cm"},{"incident":"x","type":"closure","lat":20,"lng":110,"time":"2026-11-20T10:00:00Z"}]`,
		"{\"station\":\"a\"}\n{\"station\":\"b\",\"value\":1e999}",
		`[`, `{"time":-1}`, `{"station":1}`,
	} {
		f.Add(s)
	}
	feed, _ := feeds.New(feeds.Options{Stations: stations(), Now: func() time.Time { return t0 }})
	f.Fuzz(func(t *testing.T, body string) {
		items, err := feeds.DecodeReadings(strings.NewReader(body), 100)
		if err != nil {
			return
		}
		out := feed.Ingest(context.Background(), "fuzz", items)
		if len(out) != len(items) {
			t.Fatalf("%d outcomes for %d items", len(out), len(items))
		}
		for _, o := range out {
			if o.Status == feeds.Rejected && o.Reason == "" {
				t.Fatalf("rejected without a reason: %+v", o)
			}
		}
		for _, raw := range feed.Snapshot(feeds.TopicFlood) {
			if !json.Valid(raw) {
				t.Fatalf("invalid JSON published: %s", raw)
			}
		}
	})
}

func itoa(v int64) string   { return strconvI(v) }
func ftoa(v float64) string { return strconvF(v) }
func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
