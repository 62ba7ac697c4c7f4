package alerts_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/tools/eval"
)

func TestSLAOverdueFiresAndResponseClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		m := newManager(t, nil, rec, nil)
		store := ticket.NewStore(ticket.StoreOptions{Retention: 48 * time.Hour, MaxTickets: 1000})
		sla := alerts.NewSLA(m, alerts.SLAOptions{Lookup: store.Get})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { sla.Run(ctx); close(done) }()

		now := time.Now()
		add := func(id string) {
			if _, err := store.Add(ticket.Ticket{ID: id, Channel: ticket.ChannelPhone, Category: "供水排水", Summary: "水管爆裂",
				Lat: 20.03, Lng: 110.33, District: "龙华区", Created: now}); err != nil {
				t.Fatal(err)
			}
		}
		event := func(id string, typ ticket.EventType) {
			e := ticket.Event{Ticket: id, Type: typ, Time: time.Now(), Department: "水务局"}
			if _, _, err := store.AddEvent(e); err != nil {
				t.Fatal(err)
			}
			sla.Event(ctx, e)
		}
		add("T1")
		add("T2")
		add("T3")
		event("T1", ticket.EventDispatched)
		event("T2", ticket.EventDispatched)
		event("T3", ticket.EventDispatched)
		time.Sleep(10 * time.Minute)
		event("T2", ticket.EventResponded) // in time
		time.Sleep(15 * time.Minute)
		event("T3", ticket.EventDispatched) // re-dispatched: the clock restarts
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		open := m.Open()
		if len(open) != 1 || open[0].Fingerprint != "sla/T1" || open[0].Source != alerts.SourceSLA {
			t.Fatalf("open after 30 min: %+v", open)
		}
		if open[0].District != "龙华区" || open[0].Title == "" || open[0].TitleEn == "" {
			t.Errorf("SLA alert %+v", open[0])
		}
		// T3's new deadline passes too.
		time.Sleep(25 * time.Minute)
		synctest.Wait()
		if len(m.Open()) != 2 {
			t.Fatalf("%d open, want T1 and T3", len(m.Open()))
		}
		// A late response clears the alert.
		event("T1", ticket.EventResponded)
		synctest.Wait()
		if open := m.Open(); len(open) != 1 || open[0].Fingerprint != "sla/T3" {
			t.Fatalf("after T1's response: %+v", open)
		}
		if h := m.List(alerts.Filter{State: alerts.StateResolved}); len(h) != 1 || h[0].ResolvedBy != "system" {
			t.Errorf("history %+v", h)
		}
		cancel()
		<-done
	})
}

// pusher is a fake wall.
type pusher struct {
	mu    sync.Mutex
	calls []string
}

var _ alerts.WallPusher = (*pusher)(nil)

func (p *pusher) PushAlert(_ context.Context, id string, cams []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf("push %s %v", id, cams))
	return nil
}

func (p *pusher) Revert(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "revert "+id)
	return nil
}

func (p *pusher) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

func TestClusterSourceRaisesUpdatesAndClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		wall := &pusher{}
		link := alerts.NewWallLink(wall, nil)
		m, err := alerts.New(context.Background(), alerts.Options{Router: router(), Notifiers: []alerts.Notifier{rec, link},
			Listeners: []alerts.Listener{rec.listen}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); link.Run(ctx) }()

		cams := []alerts.Camera{
			{ID: "near", Name: "近处", Lat: 20.0305, Lng: 110.3305},
			{ID: "far", Name: "远处", Lat: 19.94, Lng: 110.39},
		}
		src, err := alerts.NewClusterSource(m, alerts.ClusterOptions{
			Detector: scan.Options{Threshold: 8}, MinHistory: -1, Quiet: 10 * time.Minute, Cameras: cams,
			Districts:  []alerts.District{{Name: "龙华区", NameEn: "Longhua", Polygon: [][2]float64{{19.9, 110.2}, {20.1, 110.2}, {20.1, 110.4}, {19.9, 110.4}}}},
			CategoryEn: func(string) string { return "Water" },
		})
		if err != nil {
			t.Fatal(err)
		}
		// Two weeks of thin history around the place.
		start := time.Now().Add(-14 * 24 * time.Hour)
		for i := range 400 {
			src.Learn(ticket.Ticket{ID: fmt.Sprint("h", i), Category: "城市管理", Lat: 20.03 + float64(i%20-10)*0.002, Lng: 110.33 + float64(i%7-3)*0.002,
				Created: start.Add(time.Duration(i) * 50 * time.Minute)})
		}
		// A burst: 8 reports in 16 minutes.
		for i := range 8 {
			src.Ticket(ticket.Ticket{ID: fmt.Sprint("b", i), Category: "供水排水", Lat: 20.03 + float64(i%3)*0.001, Lng: 110.33,
				District: "龙华区", Created: time.Now()})
			time.Sleep(2 * time.Minute)
		}
		src.ScanOnce(ctx, time.Now())
		synctest.Wait()
		open := m.Open()
		if len(open) != 1 {
			t.Fatalf("%d open alerts after the burst, want 1", len(open))
		}
		a := open[0]
		if a.Source != alerts.SourceCluster || a.Category != "供水排水" || a.District != "龙华区" || a.Cluster == nil || a.Cluster.Count != 8 {
			t.Errorf("alert %+v cluster %+v", a, a.Cluster)
		}
		if len(a.Cluster.Tickets) != 8 || len(a.Cells) == 0 {
			t.Errorf("tickets %v cells %v", a.Cluster.Tickets, a.Cells)
		}
		if !slices.Equal(a.Cameras, []string{"near"}) || a.CameraInfo[0].Name != "近处" {
			t.Errorf("cameras %v %+v, want the near one only", a.Cameras, a.CameraInfo)
		}
		if want := []string{fmt.Sprintf("push %s [near]", a.ID)}; !slices.Equal(wall.list(), want) {
			t.Errorf("wall calls %v, want %v", wall.list(), want)
		}
		// More reports: the same alert is updated.
		for i := range 3 {
			src.Ticket(ticket.Ticket{ID: fmt.Sprint("c", i), Category: "供水排水", Lat: 20.03, Lng: 110.33, Created: time.Now()})
		}
		src.ScanOnce(ctx, time.Now())
		if open := m.Open(); len(open) != 1 || open[0].ID != a.ID || open[0].Cluster.Count != 11 {
			t.Fatalf("after more reports: %+v", open)
		}
		// Quiet: the windows empty and after Quiet the alert resolves.
		for range 8 {
			time.Sleep(10 * time.Minute)
			src.ScanOnce(ctx, time.Now())
		}
		synctest.Wait()
		if n := len(m.Open()); n != 0 {
			t.Fatalf("%d open after the cluster subsided", n)
		}
		if got, _ := m.Get(a.ID); got.ResolvedBy != "system" {
			t.Errorf("resolved by %q", got.ResolvedBy)
		}
		if calls := wall.list(); calls[len(calls)-1] != "revert "+a.ID {
			t.Errorf("wall calls %v: want a revert last", calls)
		}
		cancel()
		wg.Wait()
	})
}

// TestDemoBurstsRaiseAlerts runs a day of the demo city with many bursts
// through the cluster source, on three weeks of the same city's history:
// its bursts (8-15 reports within 400 m over 20-40 minutes) raise alerts.
func TestDemoBurstsRaiseAlerts(t *testing.T) {
	ctx := context.Background()
	loc, _ := time.LoadLocation("Asia/Shanghai")
	end := time.Date(2026, 11, 2, 0, 0, 0, 0, loc)
	hist, err := eval.Background(ctx, 2700, 21*24*time.Hour, end, 11, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	day, err := eval.Background(ctx, 2700, 24*time.Hour, end.Add(24*time.Hour), 12, 12, 8)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := alerts.New(ctx, alerts.Options{Router: router()})
	src, err := alerts.NewClusterSource(m, alerts.ClusterOptions{Detector: scan.Options{Threshold: 17.6},
		Baseline: scan.BaselineOptions{Location: loc}, MinHistory: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range hist {
		_ = src.Baseline().Observe(e.Cell, e.Category, e.Time)
	}
	k := 0
	for now := end.Add(time.Minute); !now.After(end.Add(24 * time.Hour)); now = now.Add(time.Minute) {
		for k < len(day) && !day[k].Time.After(now) {
			e := day[k]
			src.Ticket(ticket.Ticket{ID: e.ID, Category: e.Category, Lat: e.Lat, Lng: e.Lng, Created: e.Time})
			k++
		}
		src.ScanOnce(ctx, now)
	}
	raised := m.List(alerts.Filter{Source: alerts.SourceCluster})
	t.Logf("%d cluster alerts in a demo day with about 12 bursts", len(raised))
	if len(raised) < 8 || len(raised) > 20 {
		t.Errorf("%d cluster alerts for about 12 bursts", len(raised))
	}
}

// TestSLAReplayedHistory: dispatches whose deadline passed before they
// arrive (history replayed at start) are checked after a grace, by when
// their responses have arrived too; only the unanswered one fires.
func TestSLAReplayedHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, nil, &recorder{}, nil)
		store := ticket.NewStore(ticket.StoreOptions{Retention: 48 * time.Hour, MaxTickets: 1000})
		sla := alerts.NewSLA(m, alerts.SLAOptions{Lookup: store.Get})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { sla.Run(ctx); close(done) }()
		past := time.Now().Add(-90 * time.Minute)
		for _, id := range []string{"H1", "H2"} {
			_, _ = store.Add(ticket.Ticket{ID: id, Channel: ticket.ChannelPhone, Category: "x", Lat: 20, Lng: 110, Created: past})
			e := ticket.Event{Ticket: id, Type: ticket.EventDispatched, Time: past}
			_, _, _ = store.AddEvent(e)
			sla.Event(ctx, e)
		}
		synctest.Wait()
		// H1's late response arrives a moment later in the replay.
		time.Sleep(time.Second)
		r := ticket.Event{Ticket: "H1", Type: ticket.EventResponded, Time: past.Add(50 * time.Minute)}
		_, _, _ = store.AddEvent(r)
		sla.Event(ctx, r)
		if n := len(m.Open()); n != 0 {
			t.Fatalf("%d alerts before the grace passed", n)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if open := m.Open(); len(open) != 1 || open[0].Fingerprint != "sla/H2" {
			t.Fatalf("open after the grace: %+v", open)
		}
		if n := len(m.List(alerts.Filter{})); n != 1 {
			t.Errorf("%d alerts ever raised, want 1 (no churn)", n)
		}
		cancel()
		<-done
	})
}

// TestClusterBaselinePrunedHourly: the running cluster source forgets,
// within the hour, the cells and categories of its history not observed
// for ClusterOptions.Forget, and keeps the others.
func TestClusterBaselinePrunedHourly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, nil, &recorder{}, nil)
		src, err := alerts.NewClusterSource(m, alerts.ClusterOptions{Detector: scan.Options{Threshold: 17.6},
			MinHistory: -1, Forget: 14 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		src.Learn(ticket.Ticket{ID: "old", Category: "旧类别", Lat: 20.2, Lng: 110.6, Created: now.Add(-30 * 24 * time.Hour)})
		src.Learn(ticket.Ticket{ID: "new", Category: "城市管理", Lat: 20.03, Lng: 110.33, Created: now.Add(-time.Hour)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { src.Run(ctx); close(done) }()
		time.Sleep(time.Hour + time.Second)
		synctest.Wait()
		b := src.Baseline()
		if cells, cats := b.Cells(), b.Categories(); len(cells) != 1 || !slices.Equal(cats, []string{"城市管理"}) {
			t.Errorf("after an hour: %d cells, categories %v; want the recent one only", len(cells), cats)
		}
		cancel()
		<-done
	})
}
