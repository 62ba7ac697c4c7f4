package city

import (
	"container/heap"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
)

// recorder is an Emitter that keeps everything, in emission order.
type recorder struct {
	mu      sync.Mutex
	tickets []ticket.Ticket
	events  []ticket.Event
	times   []time.Time // of tickets and events as emitted
	onTick  func(n int)
}

func (r *recorder) Ticket(t ticket.Ticket) {
	r.mu.Lock()
	r.tickets = append(r.tickets, t)
	r.times = append(r.times, t.Created)
	n := len(r.tickets)
	r.mu.Unlock()
	if r.onTick != nil {
		r.onTick(n)
	}
}

func (r *recorder) Event(e ticket.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.times = append(r.times, e.Time)
}

func (r *recorder) snapshot() ([]ticket.Ticket, []ticket.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.tickets), slices.Clone(r.events)
}

var _ Emitter = (*recorder)(nil)

// simulate drives a Sim over span from from in steps, as Run would, and
// reports the largest number of open tickets seen.
func simulate(o Options, from time.Time, span, step time.Duration) (*Sim, *recorder, int) {
	s := New(o)
	s.begin(from, from)
	r := &recorder{}
	maxPending := 0
	for at := from; at.Before(from.Add(span)); {
		at = at.Add(step)
		if end := from.Add(span); at.After(end) {
			at = end
		}
		s.advance(at, r)
		maxPending = max(maxPending, len(s.lives))
	}
	return s, r, maxPending
}

var idRE = regexp.MustCompile(`^HK\d{8}-[0-9A-F]{4}-\d{6}$`)

func TestSimWeek(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			const perDay = 2700
			week := 7 * 24 * time.Hour
			s, r, _ := simulate(Options{Seed: seed}, monday, week, 10*time.Minute)
			checkVolume(t, r.tickets, perDay)
			checkTickets(t, s, r.tickets, monday, monday.Add(week))
			checkEvents(t, r)
			checkMix(t, r.tickets)
			checkLoop(t, r.events)
			st := s.Stats()
			if st.Tickets != uint64(len(r.tickets)) || st.Events != uint64(len(r.events)) || st.Dropped != 0 {
				t.Errorf("stats %+v disagree with %d tickets, %d events", st, len(r.tickets), len(r.events))
			}
			if st.Incidents < 8 || st.Incidents > 40 {
				t.Errorf("%d bursts in a week, want about 21", st.Incidents)
			}
			if n := countClusters(r.tickets); n < int(st.Incidents)/2 {
				t.Errorf("found %d clusters for %d bursts", n, st.Incidents)
			}
		})
	}
}

func checkVolume(t *testing.T, tickets []ticket.Ticket, perDay float64) {
	t.Helper()
	if n := float64(len(tickets)); math.Abs(n-7*perDay) > 7*perDay*0.04 {
		t.Errorf("%.0f tickets in a week, want about %.0f", n, 7*perDay)
	}
	var days [7]float64
	var night float64
	for _, tk := range tickets {
		c := tk.Created.In(cst)
		days[c.Weekday()]++
		if c.Hour() < 6 {
			night++
		}
	}
	weekday := (days[1] + days[2] + days[3] + days[4] + days[5]) / 5
	if days[0] >= weekday*0.95 || days[6] >= weekday*0.95 {
		t.Errorf("weekend days %v, %v not below weekdays %v", days[6], days[0], weekday)
	}
	if share := night / float64(len(tickets)); share > 0.1 {
		t.Errorf("%.1f%% of requests between 0 and 6h, want a quiet night", share*100)
	}
}

func checkTickets(t *testing.T, s *Sim, tickets []ticket.Ticket, from, to time.Time) {
	t.Helper()
	subs := map[string]string{}
	for _, c := range ticket.Categories() {
		for _, sb := range c.Subs {
			subs[sb.Name] = c.Name
		}
	}
	grids := map[string]string{}
	polys := map[string][][2]float64{}
	for _, d := range Districts() {
		polys[d.Name] = d.Polygon
		for _, g := range d.Grids {
			grids[g.ID] = d.Name
		}
	}
	ids := map[string]bool{}
	for _, tk := range tickets {
		bad := func(why string) { t.Errorf("ticket %+v: %s", tk, why) }
		if !idRE.MatchString(tk.ID) || tk.ID[2:10] != tk.Created.In(cst).Format("20060102") {
			bad("bad id")
		}
		if ids[tk.ID] {
			bad("duplicate id")
		}
		ids[tk.ID] = true
		if !slices.Contains(ticket.Channels, tk.Channel) {
			bad("unknown channel")
		}
		if cat, ok := subs[tk.Subcategory]; !ok || cat != tk.Category {
			bad("not in the taxonomy")
		}
		if tk.Lat < 19.5 || tk.Lat > 20.1 || tk.Lng < 110.0 || tk.Lng > 110.7 {
			bad("outside Haikou")
		}
		if poly, ok := polys[tk.District]; !ok || !geo.InPolygon(poly, tk.Lat, tk.Lng) {
			bad("not inside its district")
		}
		if grids[tk.Grid] != tk.District {
			bad("grid not in its district")
		}
		if tk.Summary == "" || tk.CRS != ticket.WGS84 {
			bad("incomplete")
		}
		if tk.Created.Before(from) || tk.Created.After(to) {
			bad("created outside the simulated span")
		}
	}
}

// checkEvents checks emission order and each ticket's closed loop.
func checkEvents(t *testing.T, r *recorder) {
	t.Helper()
	for i := 1; i < len(r.times); i++ {
		if r.times[i].Before(r.times[i-1]) {
			t.Fatalf("emission %d at %v goes back from %v", i, r.times[i], r.times[i-1])
		}
	}
	// A ticket sent back is dispatched and responded to a second time.
	orders := [][]ticket.EventType{
		{ticket.EventReceived, ticket.EventDispatched, ticket.EventResponded, ticket.EventResolved, ticket.EventVisited},
		{ticket.EventReceived, ticket.EventDispatched, ticket.EventResponded, ticket.EventDispatched, ticket.EventResponded, ticket.EventResolved, ticket.EventVisited},
	}
	fits := func(prev []ticket.Event, e ticket.Event) bool {
		for _, order := range orders {
			if len(prev) >= len(order) || e.Type != order[len(prev)] {
				continue
			}
			ok := true
			for i, p := range prev {
				ok = ok && p.Type == order[i]
			}
			if ok {
				return true
			}
		}
		return false
	}
	created := map[string]time.Time{}
	for _, tk := range r.tickets {
		created[tk.ID] = tk.Created
	}
	seen := map[string][]ticket.Event{}
	for _, e := range r.events {
		c, ok := created[e.Ticket]
		if !ok {
			t.Fatalf("event %+v for an unknown ticket", e)
		}
		prev := seen[e.Ticket]
		if !fits(prev, e) {
			t.Fatalf("event %+v out of order after %d events", e, len(prev))
		}
		if len(prev) == 0 && !e.Time.Equal(c) {
			t.Errorf("received at %v, created at %v", e.Time, c)
		}
		if len(prev) > 0 && e.Time.Before(prev[len(prev)-1].Time) {
			t.Errorf("event %+v goes back in time", e)
		}
		if e.Type == ticket.EventDispatched && len(prev) > 1 && e.Department == prev[1].Department {
			t.Errorf("event %+v passes the ticket on to the department it came from", e)
		}
		seen[e.Ticket] = append(prev, e)
	}
}

func checkMix(t *testing.T, tickets []ticket.Ticket) {
	t.Helper()
	channels := map[ticket.Channel]float64{}
	var urgent, pipes, urgentPipes float64
	for _, tk := range tickets {
		channels[tk.Channel]++
		if tk.Urgent {
			urgent++
		}
		if tk.Subcategory == ticket.SubBurstPipe {
			pipes++
			if tk.Urgent {
				urgentPipes++
			}
		}
		if h := tk.Created.In(cst).Hour(); tk.Channel == ticket.ChannelGridPatrol && (h < 8 || h >= 18) {
			t.Errorf("grid patrol report at %v", tk.Created.In(cst))
		}
	}
	n := float64(len(tickets))
	shares := []struct {
		what     string
		got      float64
		min, max float64
	}{
		{"phone", channels[ticket.ChannelPhone] / n, 0.50, 0.60},
		{"wechat", channels[ticket.ChannelWeChat] / n, 0.17, 0.23},
		{"110-transfer", channels[ticket.Channel110] / n, 0.005, 0.04},
		{"grid-patrol", channels[ticket.ChannelGridPatrol] / n, 0.005, 0.05},
		{"urgent", urgent / n, 0.02, 0.10},
		{"urgent burst pipes", urgentPipes / pipes, 0.25, 0.7},
	}
	for _, s := range shares {
		if s.got < s.min || s.got > s.max {
			t.Errorf("%s share %.3f, want %.3f–%.3f", s.what, s.got, s.min, s.max)
		}
	}
}

// checkLoop checks the closed-loop figures: the 30-minute rule, departments
// and satisfaction.
func checkLoop(t *testing.T, events []ticket.Event) {
	t.Helper()
	depts := map[string]bool{
		ticket.DeptCityAdmin: true, ticket.DeptTransport: true, ticket.DeptWater: true, ticket.DeptEnvironment: true, ticket.DeptLabour: true,
		ticket.DeptMarket: true, ticket.DeptEducation: true, ticket.DeptHousing: true, ticket.DeptTraffic: true,
	}
	for _, d := range Districts() {
		depts[d.Name+"政府"] = true
	}
	dispatched := map[string]time.Time{}
	var responded, onTime float64
	sat := map[ticket.Satisfaction]float64{}
	var visits float64
	for _, e := range events {
		switch e.Type {
		case ticket.EventDispatched:
			if !depts[e.Department] {
				t.Errorf("dispatched to %q", e.Department)
			}
			dispatched[e.Ticket] = e.Time
		case ticket.EventResponded:
			responded++
			if e.Time.Sub(dispatched[e.Ticket]) <= respondLimit {
				onTime++
			}
		case ticket.EventVisited:
			visits++
			sat[e.Satisfaction]++
			if h := e.Time.In(cst).Hour(); h < visitDayStart || h >= visitDayEnd {
				t.Errorf("visited back at %v", e.Time.In(cst))
			}
		}
	}
	shares := []struct {
		what     string
		got      float64
		min, max float64
	}{
		{"responded within 30 minutes", onTime / responded, 0.95, 0.99},
		{"satisfied", sat[ticket.Satisfied] / visits, 0.82, 0.88},
		{"basically satisfied", sat[ticket.BasicSatisfied] / visits, 0.045, 0.08},
		{"unsatisfied", sat[ticket.Unsatisfied] / visits, 0.06, 0.12},
	}
	for _, s := range shares {
		if s.got < s.min || s.got > s.max {
			t.Errorf("%s share %.3f, want %.3f–%.3f", s.what, s.got, s.min, s.max)
		}
	}
}

// countClusters counts groups of at least burstMin tickets about the same
// thing within 40 minutes and 800 m, the shape the alert detector looks for.
func countClusters(tickets []ticket.Ticket) int {
	used := make([]bool, len(tickets))
	n := 0
	for i, a := range tickets {
		if used[i] {
			continue
		}
		var members []int
		for j := i; j < len(tickets) && tickets[j].Created.Sub(a.Created) <= 40*time.Minute; j++ {
			b := tickets[j]
			if !used[j] && b.Subcategory == a.Subcategory && distance(a.Lat, a.Lng, b.Lat, b.Lng) <= 800 {
				members = append(members, j)
			}
		}
		if len(members) >= burstMin {
			n++
			for _, j := range members {
				used[j] = true
			}
		}
	}
	return n
}

func TestSimHourlyShape(t *testing.T) {
	const perDay = 2700
	week := 7 * 24 * time.Hour
	_, r, _ := simulate(Options{Seed: 7, Incidents: -1}, monday, week, time.Hour)
	var got, want [24]float64
	for _, tk := range r.tickets {
		got[tk.Created.In(cst).Hour()]++
	}
	rh := newRhythm(perDay)
	for at := monday; at.Before(monday.Add(week)); at = at.Add(time.Minute) {
		want[at.In(cst).Hour()] += rh.rate(at.Add(30*time.Second)) * float64(time.Minute)
	}
	for h := range 24 {
		t.Run(fmt.Sprintf("%02dh", h), func(t *testing.T) {
			if d := math.Abs(got[h] - want[h]); d > 4*math.Sqrt(want[h])+0.02*want[h] {
				t.Errorf("%.0f requests, want about %.0f", got[h], want[h])
			}
		})
	}
}

func TestIncident(t *testing.T) {
	tests := []struct {
		name    string
		hour    int
		allowed map[string]bool
	}{
		{"night", 23, map[string]bool{ticket.SubBurstPipe: true, ticket.SubNoise: true, ticket.SubWaterlog: true}},
		{"small hours", 4, map[string]bool{ticket.SubBurstPipe: true, ticket.SubWaterlog: true}},
		{"working day", 10, map[string]bool{ticket.SubBurstPipe: true, ticket.SubWageArrears: true, ticket.SubWaterlog: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Seed: 5})
			start := monday.Add(time.Duration(tt.hour) * time.Hour)
			s.begin(start, start)
			kinds := map[string]int{}
			for range 100 {
				s.incident(start)
				var burst []draft
				for s.drafts.Len() > 0 {
					burst = append(burst, heap.Pop(&s.drafts).(draft))
				}
				if len(burst) < burstMin || len(burst) > burstMax {
					t.Fatalf("burst of %d", len(burst))
				}
				first := burst[0].t
				kinds[first.Subcategory]++
				if !tt.allowed[first.Subcategory] {
					t.Errorf("%s burst at %dh", first.Subcategory, tt.hour)
				}
				for i, d := range burst {
					tk := d.t
					if tk.Subcategory != first.Subcategory || d.dept != burst[0].dept {
						t.Errorf("mixed burst: %+v", tk)
					}
					if i > 0 && tk.Created.Before(burst[i-1].t.Created) {
						t.Errorf("drafts out of order")
					}
					if tk.Created.Sub(start) > burstMaxSpan*time.Minute {
						t.Errorf("burst ticket %v after start", tk.Created.Sub(start))
					}
					for _, o := range burst {
						if dist := distance(tk.Lat, tk.Lng, o.t.Lat, o.t.Lng); dist > 2*burstRadiusM+1 {
							t.Errorf("burst tickets %.0f m apart", dist)
						}
					}
				}
			}
			if len(kinds) != len(tt.allowed) {
				t.Errorf("kinds %v, want each of %v", kinds, tt.allowed)
			}
		})
	}
}

// digest flattens a run for comparison.
func digest(r *recorder) []string {
	var out []string
	for _, tk := range r.tickets {
		out = append(out, fmt.Sprintf("%+v", tk))
	}
	for _, e := range r.events {
		out = append(out, fmt.Sprintf("%+v", e))
	}
	return out
}

func TestDeterministic(t *testing.T) {
	day := 12 * time.Hour
	_, base, _ := simulate(Options{Seed: 11}, monday, day, 10*time.Minute)
	tests := []struct {
		name string
		o    Options
		step time.Duration
		same bool
	}{
		{"same seed, same steps", Options{Seed: 11}, 10 * time.Minute, true},
		{"same seed, one step", Options{Seed: 11}, day, true},
		{"same seed, odd steps", Options{Seed: 11}, 7*time.Minute + 13*time.Second, true},
		{"other seed", Options{Seed: 12}, 10 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r, _ := simulate(tt.o, monday, day, tt.step)
			if same := slices.Equal(digest(base), digest(r)); same != tt.same {
				t.Errorf("runs equal = %v, want %v", same, tt.same)
			}
		})
	}
}

func TestIDsAcrossRestarts(t *testing.T) {
	ids := map[string]string{}
	starts := []time.Time{monday, monday.Add(time.Hour), monday.Add(25 * time.Hour)}
	for _, seed := range []int64{1, 2} {
		for _, start := range starts {
			run := fmt.Sprintf("seed %d from %v", seed, start)
			s := New(Options{Seed: seed})
			s.begin(start.Add(-6*time.Hour), start)
			r := &recorder{}
			s.advance(start, r)
			for _, tk := range r.tickets {
				if other, ok := ids[tk.ID]; ok {
					t.Fatalf("%s reuses id %s of %s", run, tk.ID, other)
				}
				ids[tk.ID] = run
			}
		}
	}
}

func TestPendingBounded(t *testing.T) {
	// Three days: no lifecycle lasts longer, so the heap has levelled off.
	span := 3 * 24 * time.Hour
	tests := []struct {
		name       string
		o          Options
		maxPending int
		dropped    bool
	}{
		{"default", Options{Seed: 3}, 2700, false},
		{"capped", Options{Seed: 3, MaxPending: 50}, 50, true},
	}
	_, free, _ := simulate(Options{Seed: 3}, monday, span, time.Hour)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r, peak := simulate(tt.o, monday, span, time.Hour)
			if peak > tt.maxPending {
				t.Errorf("%d tickets pending, want at most %d", peak, tt.maxPending)
			}
			if got := s.Stats().Dropped > 0; got != tt.dropped {
				t.Errorf("dropped = %v, want %v", got, tt.dropped)
			}
			// The cap cuts lifecycles short but never changes the tickets.
			if !slices.Equal(r.tickets, free.tickets) {
				t.Error("the cap changed the tickets")
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want Options
	}{
		{"zero", Options{}, Options{PerDay: 2700, Speed: 1, Backfill: 24 * time.Hour, Incidents: 3, MaxPending: 100_000}},
		{"negatives", Options{PerDay: -1, Speed: -2, Backfill: -1, Incidents: -1, MaxPending: -1},
			Options{PerDay: 2700, Speed: 1, Backfill: 0, Incidents: 0, MaxPending: 100_000}},
		{"not a number", Options{PerDay: math.NaN(), Speed: math.Inf(1), Incidents: math.NaN()},
			Options{PerDay: 2700, Speed: 1, Backfill: 24 * time.Hour, Incidents: 0, MaxPending: 100_000}},
		{"kept", Options{PerDay: 500, Speed: 10, Seed: 9, Backfill: time.Hour, Incidents: 2, MaxPending: 10},
			Options{PerDay: 500, Speed: 10, Seed: 9, Backfill: time.Hour, Incidents: 2, MaxPending: 10}},
		{"bursts thinned", Options{PerDay: 23, Incidents: 5},
			Options{PerDay: 23, Speed: 1, Backfill: 24 * time.Hour, Incidents: 1, MaxPending: 100_000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.withDefaults(); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSpeed(t *testing.T) {
	span := 6 * time.Hour
	_, slow, _ := simulate(Options{Seed: 4}, monday.Add(8*time.Hour), span, time.Hour)
	_, fast, _ := simulate(Options{Seed: 4, Speed: 5}, monday.Add(8*time.Hour), span, time.Hour)
	if ratio := float64(len(fast.tickets)) / float64(len(slow.tickets)); ratio < 4.5 || ratio > 5.5 {
		t.Errorf("Speed 5 made %.2f× the tickets", ratio)
	}
}
