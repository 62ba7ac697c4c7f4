package alerts_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/filestore"
	"github.com/citywall/citywall/alerts/scan"
)

// recorder is a Notifier and Listener that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	notes   []alerts.Notification
	changes []alerts.Alert
}

func (r *recorder) Notify(_ context.Context, n alerts.Notification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, n)
}

func (r *recorder) listen(a alerts.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, a)
}

// events lists the notification events so far, as "event:teams".
func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notes {
		s := string(n.Event)
		for _, t := range n.Teams {
			s += ":" + t
		}
		out = append(out, s)
	}
	return out
}

func router() *alerts.Router {
	return &alerts.Router{
		Teams: []alerts.Team{
			{ID: "water", Name: "供水抢修队", Categories: []string{"供水排水"}},
			{ID: "longhua", Name: "龙华区应急队", Districts: []string{"龙华区"}},
			{ID: "duty", Name: "值班长"},
		},
		Escalation: []string{"duty"},
	}
}

func newManager(t *testing.T, store alerts.Store, rec *recorder, reg prometheus.Registerer) *alerts.Manager {
	t.Helper()
	o := alerts.Options{Store: store, Router: router(), Notifiers: []alerts.Notifier{rec}, Listeners: []alerts.Listener{rec.listen}}
	if reg != nil {
		o.Metrics = alerts.NewMetrics(reg)
	}
	m, err := alerts.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func burst(fp string) alerts.Signal {
	return alerts.Signal{Source: alerts.SourceCluster, Kind: "burst", Fingerprint: fp, Severity: alerts.SeverityCritical,
		Title: "龙华区供水排水聚集", TitleEn: "Cluster", District: "龙华区", Category: "供水排水", Lat: 20.03, Lng: 110.33,
		Cells: []string{"88417289abfffff"}, Cameras: []string{"road-binhai"}}
}

func TestFireDedupByFingerprint(t *testing.T) {
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	m := newManager(t, nil, rec, reg)
	ctx := context.Background()
	if err := m.Fire(ctx, burst("cluster/供水排水/a")); err != nil {
		t.Fatal(err)
	}
	s := burst("cluster/供水排水/a")
	s.Title = "updated"
	if err := m.Fire(ctx, s); err != nil {
		t.Fatal(err)
	}
	open := m.Open()
	if len(open) != 1 {
		t.Fatalf("%d open alerts after firing one fingerprint twice, want 1", len(open))
	}
	a := open[0]
	if a.Title != "updated" || a.Updates != 1 || a.State != alerts.StateFiring {
		t.Errorf("alert after update: title %q updates %d state %s", a.Title, a.Updates, a.State)
	}
	// Routed by category and by district; not to the escalation level yet.
	if !slices.Equal(a.Teams, []string{"water", "longhua"}) {
		t.Errorf("teams %v, want [water longhua]", a.Teams)
	}
	// One notification: the update is not news to the teams, but the
	// listeners see both changes.
	if got := rec.events(); !slices.Equal(got, []string{"firing:water:longhua"}) {
		t.Errorf("notifications %v", got)
	}
	if len(rec.changes) != 2 {
		t.Errorf("%d changes seen by the listener, want 2", len(rec.changes))
	}
	// Another place is another alert.
	_ = m.Fire(ctx, burst("cluster/供水排水/b"))
	if len(m.Open()) != 2 {
		t.Errorf("%d open alerts, want 2", len(m.Open()))
	}
	if v := counterSum(t, reg, "citywall_alerts_raised_total"); v != 2 {
		t.Errorf("raised_total = %v, want 2", v)
	}
	if err := m.Fire(ctx, alerts.Signal{Source: "cluster"}); !errors.Is(err, alerts.ErrBadSignal) {
		t.Errorf("a signal without fingerprint: %v, want ErrBadSignal", err)
	}
}

// counterSum adds up a counter over its labels.
func counterSum(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestAckResolveAndErrors(t *testing.T) {
	rec := &recorder{}
	m := newManager(t, nil, rec, nil)
	ctx := context.Background()
	_ = m.Fire(ctx, burst("fp"))
	id := m.Open()[0].ID

	a, err := m.Ack(ctx, id, "team-longhua-1", "on our way")
	if err != nil {
		t.Fatal(err)
	}
	if a.State != alerts.StateAcknowledged || a.AckedBy != "team-longhua-1" || a.AckedAt.IsZero() || a.AckNote != "on our way" {
		t.Errorf("after ack: %+v", a)
	}
	if _, err := m.Ack(ctx, id, "x", ""); !errors.Is(err, alerts.ErrState) {
		t.Errorf("second ack: %v, want ErrState", err)
	}
	if _, err := m.Resolve(ctx, id, "x", "  "); !errors.Is(err, alerts.ErrReasonRequired) {
		t.Errorf("resolve without reason: %v, want ErrReasonRequired", err)
	}
	r, err := m.Resolve(ctx, id, "duty-commander", "pipe repaired")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != alerts.StateResolved || r.Reason != "pipe repaired" || r.ResolvedBy != "duty-commander" {
		t.Errorf("after resolve: %+v", r)
	}
	if _, err := m.Resolve(ctx, id, "x", "again"); !errors.Is(err, alerts.ErrState) {
		t.Errorf("resolving a resolved alert: %v, want ErrState", err)
	}
	if _, err := m.Ack(ctx, "nope", "x", ""); !errors.Is(err, alerts.ErrNotFound) {
		t.Errorf("ack of an unknown alert: %v, want ErrNotFound", err)
	}
	if got, ok := m.Get(id); !ok || got.State != alerts.StateResolved {
		t.Errorf("Get after resolve: %v %+v", ok, got)
	}
	// A manually resolved condition that its source still fires stays
	// resolved; once the source clears it, it may fire again.
	_ = m.Fire(ctx, burst("fp"))
	if n := len(m.Open()); n != 0 {
		t.Errorf("re-fired right after a manual resolve: %d open", n)
	}
	_ = m.Clear(ctx, "fp")
	_ = m.Fire(ctx, burst("fp"))
	if n := len(m.Open()); n != 1 {
		t.Errorf("after the source cleared it, firing again: %d open, want 1", n)
	}
	// Clear resolves as the system.
	_ = m.Clear(ctx, "fp")
	hist := m.List(alerts.Filter{State: alerts.StateResolved})
	if len(hist) != 2 || hist[0].ResolvedBy != "system" {
		t.Errorf("history %+v", hist)
	}
	want := []string{"firing:water:longhua", "acknowledged:water:longhua", "resolved:water:longhua",
		"firing:water:longhua", "resolved:water:longhua"}
	if got := rec.events(); !slices.Equal(got, want) {
		t.Errorf("notifications\n got %v\nwant %v", got, want)
	}
	// Filters.
	if n := len(m.List(alerts.Filter{Source: "sla"})); n != 0 {
		t.Errorf("source filter: %d", n)
	}
	if n := len(m.List(alerts.Filter{District: "龙华区", Category: "供水排水"})); n != 2 {
		t.Errorf("district+category filter: %d, want 2", n)
	}
}

func TestEscalationAndRenotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		m := newManager(t, nil, rec, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()

		_ = m.Fire(ctx, burst("fp"))
		start := time.Now()
		// Re-notified every 10 minutes while nobody acknowledges.
		time.Sleep(25 * time.Minute)
		synctest.Wait()
		if got := rec.events(); !slices.Equal(got, []string{"firing:water:longhua", "renotify:water:longhua", "renotify:water:longhua"}) {
			t.Fatalf("after 25 min: %v", got)
		}
		// At 30 minutes: to the duty commander.
		time.Sleep(5*time.Minute - time.Second)
		synctest.Wait()
		if a := m.Open()[0]; a.Level != 0 {
			t.Fatalf("escalated before 30 minutes")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		a := m.Open()[0]
		if a.Level != 1 || !a.EscalatedAt.Equal(start.Add(30*time.Minute)) || !slices.Contains(a.Teams, "duty") {
			t.Fatalf("at 30 min: level %d escalated %v (start %v) teams %v", a.Level, a.EscalatedAt, start, a.Teams)
		}
		evs := rec.events()
		if last := evs[len(evs)-1]; last != "escalated:water:longhua:duty" {
			t.Errorf("last notification %q", last)
		}
		// Acknowledged: no more re-notification.
		if _, err := m.Ack(ctx, a.ID, "duty-commander", ""); err != nil {
			t.Fatal(err)
		}
		n := len(rec.events())
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if got := rec.events(); len(got) != n {
			t.Errorf("notified after acknowledgement: %v", got[n:])
		}
		cancel()
		<-done
	})
}

func TestSilences(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		m := newManager(t, nil, rec, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()

		now := time.Now()
		for _, tc := range []struct {
			name string
			s    alerts.Silence
		}{
			{"no end", alerts.Silence{Category: "供水排水", Comment: "x"}},
			{"too long", alerts.Silence{Category: "供水排水", Comment: "x", EndsAt: now.Add(8 * 24 * time.Hour)}},
			{"no matcher", alerts.Silence{Comment: "x", EndsAt: now.Add(time.Hour)}},
			{"no comment", alerts.Silence{Category: "供水排水", EndsAt: now.Add(time.Hour)}},
			{"past", alerts.Silence{Category: "供水排水", Comment: "x", StartsAt: now.Add(-2 * time.Hour), EndsAt: now.Add(-time.Hour)}},
			{"bad cell", alerts.Silence{Cells: []string{"zz"}, Comment: "x", EndsAt: now.Add(time.Hour)}},
		} {
			if _, err := m.AddSilence(ctx, tc.s); !errors.Is(err, alerts.ErrBadSilence) {
				t.Errorf("%s: %v, want ErrBadSilence", tc.name, err)
			}
		}
		// A silence over Longhua's water category for an hour.
		s, err := m.AddSilence(ctx, alerts.Silence{Category: "供水排水", District: "龙华区", EndsAt: now.Add(time.Hour),
			Comment: "planned mains work", CreatedBy: "duty-commander"})
		if err != nil {
			t.Fatal(err)
		}
		_ = m.Fire(ctx, burst("muted"))
		other := burst("elsewhere")
		other.District = "美兰区"
		_ = m.Fire(ctx, other)
		synctest.Wait()
		open := m.List(alerts.Filter{Open: true})
		silenced := 0
		for _, a := range open {
			if a.Silenced == s.ID {
				silenced++
			}
		}
		if silenced != 1 {
			t.Fatalf("%d alerts silenced, want 1: %+v", silenced, open)
		}
		if got := rec.events(); len(got) != 1 || got[0] != "firing:water" {
			t.Errorf("notifications while silenced: %v (want only the Meilan one, routed to water)", got)
		}
		// A silenced alert neither re-notifies nor escalates; when the
		// silence ends it is announced.
		time.Sleep(time.Hour + time.Second)
		synctest.Wait()
		var muted alerts.Alert
		for _, a := range m.Open() {
			if a.Fingerprint == "muted" {
				muted = a
			}
		}
		if muted.Silenced != "" {
			t.Errorf("still silenced after the silence ended")
		}
		evs := rec.events()
		if !slices.Contains(evs, "firing:water:longhua") {
			t.Errorf("not announced when the silence ended: %v", evs)
		}
		// Expire early.
		s2, err := m.AddSilence(ctx, alerts.Silence{Source: "sla", Category: "x", EndsAt: time.Now().Add(time.Hour), Comment: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.ExpireSilence(ctx, s2.ID); err != nil {
			t.Fatal(err)
		}
		if err := m.ExpireSilence(ctx, s2.ID); !errors.Is(err, alerts.ErrState) {
			t.Errorf("expiring twice: %v", err)
		}
		if err := m.ExpireSilence(ctx, "nope"); !errors.Is(err, alerts.ErrNotFound) {
			t.Errorf("expiring an unknown silence: %v", err)
		}
		if n := len(m.Silences()); n != 2 {
			t.Errorf("%d silences listed", n)
		}
		cancel()
		<-done
	})
}

func TestRestartKeepsOpenAlertsAndTimers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	synctest.Test(t, func(t *testing.T) {
		store, err := filestore.New(path)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		m := newManager(t, store, rec, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		start := time.Now()
		_ = m.Fire(ctx, burst("a"))
		_ = m.Fire(ctx, burst("b"))
		acked := m.List(alerts.Filter{Open: true})[0]
		if _, err := m.Ack(ctx, acked.ID, "team-1", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := m.AddSilence(ctx, alerts.Silence{Category: "noise", EndsAt: start.Add(3 * time.Hour), Comment: "festival"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(12 * time.Minute)
		synctest.Wait()
		// The process stops 12 minutes in.
		cancel()
		<-done
		_ = m.Close()

		time.Sleep(5 * time.Minute) // down for five minutes
		rec2 := &recorder{}
		m2 := newManager(t, store, rec2, nil)
		ctx2, cancel2 := context.WithCancel(context.Background())
		done2 := make(chan struct{})
		go func() { m2.Run(ctx2); close(done2) }()
		synctest.Wait()
		open := m2.Open()
		if len(open) != 2 {
			t.Fatalf("%d open alerts after the restart, want 2", len(open))
		}
		var firing alerts.Alert
		for _, a := range open {
			switch a.ID {
			case acked.ID:
				if a.State != alerts.StateAcknowledged || a.AckedBy != "team-1" {
					t.Errorf("acknowledged alert after restart: %+v", a)
				}
			default:
				firing = a
			}
		}
		if !firing.StartsAt.Equal(start) {
			t.Errorf("starts_at %v, want %v", firing.StartsAt, start)
		}
		if len(m2.Silences()) != 1 {
			t.Errorf("silences lost: %v", m2.Silences())
		}
		// The re-notification due at 20 minutes (10 after the one at 10)
		// was missed while down? No: 17 minutes now, due at 20.
		// Escalation stays due at 30 minutes after the start, not 30
		// minutes after the restart.
		time.Sleep(start.Add(30*time.Minute).Sub(time.Now()) - time.Second)
		synctest.Wait()
		if m2.Open()[0].Level+m2.Open()[1].Level != 0 {
			t.Fatal("escalated early after the restart")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		got, _ := m2.Get(firing.ID)
		if got.Level != 1 || !got.EscalatedAt.Equal(start.Add(30*time.Minute)) {
			t.Errorf("after restart: level %d escalated at %v, want 1 at %v", got.Level, got.EscalatedAt, start.Add(30*time.Minute))
		}
		if a, _ := m2.Get(acked.ID); a.Level != 0 {
			t.Error("an acknowledged alert escalated")
		}
		evs := rec2.events()
		if !slices.Contains(evs, "renotify:water:longhua") || evs[len(evs)-1] != "escalated:water:longhua:duty" {
			t.Errorf("notifications after the restart: %v", evs)
		}
		cancel2()
		<-done2
	})
}

func TestRouting(t *testing.T) {
	area := scan.Parent(h3.CellFromString("88417289abfffff"), 6).String()
	r := &alerts.Router{
		Teams: []alerts.Team{
			{ID: "water", Categories: []string{"供水排水"}},
			{ID: "longhua", Districts: []string{"龙华区"}},
			{ID: "guomao", Cells: []string{area}}, // a res-6 area around Guomao
			{ID: "sla-desk", Sources: []string{"sla"}},
			{ID: "duty"},
		},
		Escalation: []string{"duty"},
	}
	for _, tc := range []struct {
		name string
		a    alerts.Alert
		want []string
	}{
		{"category and district", alerts.Alert{Signal: alerts.Signal{Source: "cluster", Category: "供水排水", District: "龙华区"}}, []string{"water", "longhua"}},
		{"cells under an area", alerts.Alert{Signal: alerts.Signal{Source: "cluster", Category: "噪音", Cells: []string{"88417289abfffff"}}}, []string{"guomao"}},
		{"point in an area", alerts.Alert{Signal: alerts.Signal{Source: "camera", Lat: 20.03, Lng: 110.33}}, []string{"guomao"}},
		{"source", alerts.Alert{Signal: alerts.Signal{Source: "sla", District: "美兰区"}}, []string{"sla-desk"}},
		{"nobody: the escalation level", alerts.Alert{Signal: alerts.Signal{Source: "feed", District: "秀英区"}}, []string{"duty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Route(&tc.a); !slices.Equal(got, tc.want) {
				t.Errorf("Route = %v, want %v", got, tc.want)
			}
		})
	}
	r.Teams[1].Members = []string{"team-longhua-1"}
	if got := r.TeamsOf("team-longhua-1"); !slices.Equal(got, []string{"longhua"}) {
		t.Errorf("TeamsOf = %v", got)
	}
}

// TestOpenMetricZeroes: with nothing open, every known source has its
// firing and acknowledged series at zero (a dashboard shows 0, not "no
// data"); an alert resolved takes its count back to zero.
func TestOpenMetricZeroes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newManager(t, nil, &recorder{}, reg)
	open := func() map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "citywall_alerts_open" {
				continue
			}
			for _, x := range mf.GetMetric() {
				var src, st string
				for _, l := range x.GetLabel() {
					switch l.GetName() {
					case "source":
						src = l.GetValue()
					case "state":
						st = l.GetValue()
					}
				}
				out[src+"/"+st] = x.GetGauge().GetValue()
			}
		}
		return out
	}
	got := open()
	for _, src := range []string{"cluster", "sla", "camera", "feed", "hotissue"} {
		for _, st := range []string{"firing", "acknowledged"} {
			if v, ok := got[src+"/"+st]; !ok || v != 0 {
				t.Errorf("citywall_alerts_open{source=%q,state=%q} = %v (present %v), want 0", src, st, v, ok)
			}
		}
	}
	if v := counterSum(t, reg, "citywall_alerts_raised_total"); v != 0 {
		t.Errorf("raised_total = %v before any alert", v)
	}
	ctx := context.Background()
	if err := m.Fire(ctx, burst("fp")); err != nil {
		t.Fatal(err)
	}
	if v := open()["cluster/firing"]; v != 1 {
		t.Errorf("cluster/firing = %v with one alert open, want 1", v)
	}
	if _, err := m.Resolve(ctx, m.Open()[0].ID, "duty-1", "done"); err != nil {
		t.Fatal(err)
	}
	if v, ok := open()["cluster/firing"]; !ok || v != 0 {
		t.Errorf("cluster/firing = %v (present %v) after resolving, want 0", v, ok)
	}
}
