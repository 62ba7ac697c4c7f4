package feedsim_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citywall/citywall/demo/feedsim"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo/ticket"
)

type alerts struct {
	mu  sync.Mutex
	on  map[string]feeds.Alert
	log []string
}

func (a *alerts) Fire(_ context.Context, al feeds.Alert) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.on[al.Fingerprint] = al
	a.log = append(a.log, "fire "+al.Fingerprint+" "+al.Severity)
	return nil
}

func (a *alerts) Clear(_ context.Context, fp string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.on, fp)
	a.log = append(a.log, "clear "+fp)
	return nil
}

func (a *alerts) open() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]string{}
	for k, v := range a.on {
		out[k] = v.Severity
	}
	return out
}

func (a *alerts) fired(prefix string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, l := range a.log {
		if strings.HasPrefix(l, "fire "+prefix) {
			return true
		}
	}
	return false
}

type emitter struct {
	mu      sync.Mutex
	tickets []ticket.Ticket
	events  []ticket.Event
}

func (e *emitter) Ticket(t ticket.Ticket) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := t.Normalize(time.Now()); err != nil {
		panic("demo ticket does not validate: " + err.Error())
	}
	e.tickets = append(e.tickets, t)
}

func (e *emitter) Event(ev ticket.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := ev.Normalize(time.Now()); err != nil {
		panic("demo event does not validate: " + err.Error())
	}
	e.events = append(e.events, ev)
}

func (e *emitter) counts() (int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.tickets), len(e.events)
}

// TestRainstorm triggers a storm in a simulated city on a fake clock: rain
// rises past the rainstorm mark, underpasses flood past both thresholds,
// reservoirs climb over their warning levels, the storm's key roads jam for
// longer than JamAfter, the flooded underpass is closed, and a burst of
// waterlogging and burst-pipe tickets arrives with their closed loops. Hours
// later the water is gone and the alerts are cleared.
func TestRainstorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		al := &alerts{on: map[string]feeds.Alert{}}
		f, err := feeds.New(feeds.Options{Stations: feedsim.Stations(), Alerter: al, JamAfter: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		tr := kpi.New(kpi.Options{})
		em := &emitter{}
		s := feedsim.New(feedsim.Options{Seed: 7, FirstStorm: -1, Backfill: time.Hour, CallDays: -1})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = f.Run(ctx) })
		wg.Go(func() { _ = s.Run(ctx, time.Now, f, tr, em) })

		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if open := al.open(); len(open) != 0 {
			t.Fatalf("alerts before any storm: %v", open)
		}
		if n, _ := em.counts(); n != 0 {
			t.Fatalf("%d storm tickets before a storm", n)
		}
		if s.Storming(time.Now()) {
			t.Fatal("storming before the trigger")
		}
		s.TriggerStorm()
		maxRain := 0.0
		for range 70 {
			time.Sleep(time.Minute)
			var v struct{ Value float64 }
			_ = json.Unmarshal(f.Snapshot(feeds.TopicFlood)["rain-longhua"], &v)
			maxRain = max(maxRain, v.Value)
		}
		synctest.Wait()
		if maxRain < 50 {
			t.Errorf("peak rain at Longhua %.1f mm/h, want a rainstorm (≥ 50)", maxRain)
		}
		open := al.open()
		for fp, sev := range map[string]string{
			"feeds/wl-nanhai-underpass/threshold": "critical",
			"feeds/wl-haifu-underpass/threshold":  "critical",
			"feeds/road-nanhai/jam":               "warning",
			"feeds/road-longkun-s/jam":            "warning",
		} {
			if open[fp] != sev {
				t.Errorf("at the height of the storm %s is %q, want %q (open: %v)", fp, open[fp], sev, open)
			}
		}
		if !al.fired("feeds/res-shahe/threshold") || !al.fired("feeds/res-yongzhuang/threshold warning") {
			t.Errorf("reservoirs did not pass their warning levels: %v", al.log)
		}
		traffic := f.Snapshot(feeds.TopicTraffic)
		closure := false
		for k, v := range traffic {
			if strings.HasPrefix(k, "incident:") && strings.Contains(string(v), `"closure"`) && strings.Contains(string(v), "road-nanhai") {
				closure = true
			}
		}
		if !closure {
			t.Error("no closure of the flooded underpass on feeds/traffic")
		}
		if st := s.Stats(); st.Storms != 1 {
			t.Errorf("storms %d", st.Storms)
		}

		time.Sleep(6 * time.Hour)
		synctest.Wait()
		n, evs := em.counts()
		if n < 25 || n > 40 {
			t.Errorf("%d storm tickets, want 25..40", n)
		}
		if evs < 3*n { // dispatched, responded, resolved; some visits come later
			t.Errorf("%d lifecycle events for %d tickets", evs, n)
		}
		em.mu.Lock()
		subs := map[string]int{}
		for _, tk := range em.tickets {
			subs[tk.Subcategory]++
		}
		em.mu.Unlock()
		if subs["积水内涝"] == 0 || subs["爆管"] == 0 {
			t.Errorf("storm tickets by subcategory: %v", subs)
		}
		for fp := range al.open() {
			if strings.Contains(fp, "/threshold") || strings.HasSuffix(fp, "/jam") {
				t.Errorf("%s still open six hours after the storm", fp)
			}
		}
		if al.fired("feeds/") && strings.Contains(strings.Join(al.log, " "), "/stale ") {
			t.Errorf("a simulated station went stale: %v", al.log)
		}
		cancel()
		wg.Wait()
	})
}

// TestCallCentre runs a day of calls: about 2,700 offered, answer rate
// about 98.5 %, a wait of about 15 s.
func TestCallCentre(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cst := time.FixedZone("CST", 8*3600)
		tr := kpi.New(kpi.Options{Location: cst})
		f, _ := feeds.New(feeds.Options{Stations: feedsim.Stations()})
		s := feedsim.New(feedsim.Options{Seed: 3, FirstStorm: -1, Backfill: -1, CallDays: 3})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = s.Run(ctx, time.Now, f, tr, &emitter{}) })
		time.Sleep(time.Second)
		synctest.Wait()
		cancel()
		wg.Wait()
		now := time.Now().In(cst)
		yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, cst)
		r := tr.Day(yesterday, time.Now())
		if r.CallsOffered < 2300 || r.CallsOffered > 3100 {
			t.Errorf("%d calls offered in a day, want ≈2,700", r.CallsOffered)
		}
		if v := *r.AnswerRate.Value; v < 0.975 || v > 0.995 {
			t.Errorf("answer rate %.4f, want ≈0.985", v)
		}
		if w := *r.AvgWait; w < 10 || w > 20 {
			t.Errorf("average wait %.1f s, want ≈15", w)
		}
		// Requests are back-filled up to a day before the start (the ticket
		// demo brings the last day itself): look at the day before.
		if r2 := tr.Day(yesterday.AddDate(0, 0, -1), time.Now()); r2.Tickets < 2300 || r2.Tickets > 3100 {
			t.Errorf("%d requests of the back-filled volume in a day, want ≈2,700", r2.Tickets)
		}
		if r.CallsOffered != r.CallsAnswered+r.CallsAbandoned {
			t.Errorf("offered %d ≠ answered %d + abandoned %d", r.CallsOffered, r.CallsAnswered, r.CallsAbandoned)
		}
	})
}
