package analysis_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts/phrase"
	"github.com/citywall/citywall/analysis"
	"github.com/citywall/citywall/geo/ticket"
)

var shanghai = time.FixedZone("CST", 8*3600)

// now is Wednesday 2026-12-02 10:00 in the city.
var now = time.Date(2026, 12, 2, 10, 0, 0, 0, shanghai)

func newHistory(t *testing.T) *analysis.History {
	t.Helper()
	x := phrase.NewExtractor([]string{"海口市", "龙华区", "美兰区"})
	return analysis.New(analysis.Options{Location: shanghai, Now: func() time.Time { return now }, Grams: x.Grams})
}

func tkt(id string, at time.Time, district, grid, cat, sub string, ch ticket.Channel, summary string) ticket.Ticket {
	return ticket.Ticket{ID: id, Created: at, District: district, Grid: grid, Category: cat, Subcategory: sub, Channel: ch, Summary: summary}
}

func day(t *testing.T, s string) int32 {
	t.Helper()
	d, err := analysis.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWeekOf(t *testing.T) {
	for _, c := range []struct{ day, monday string }{
		{"2026-11-30", "2026-11-30"}, {"2026-12-06", "2026-11-30"}, {"2026-12-07", "2026-12-07"},
		{"1970-01-01", "1969-12-29"}, {"2026-12-02", "2026-11-30"},
	} {
		if got := analysis.Date(analysis.WeekOf(day(t, c.day))); got != c.monday {
			t.Errorf("WeekOf(%s) = %s, want %s", c.day, got, c.monday)
		}
	}
}

func TestCountsByDayAndWeek(t *testing.T) {
	h := newHistory(t)
	// 23:30 on 11-29 in the city is 15:30 UTC: counted on the city's day.
	h.Add(tkt("a", time.Date(2026, 11, 29, 15, 30, 0, 0, time.UTC), "龙华区", "LH-1", "城市管理", "道路脏乱", ticket.ChannelPhone, ""))
	h.Add(tkt("b", time.Date(2026, 11, 30, 9, 0, 0, 0, shanghai), "龙华区", "LH-1", "城市管理", "道路脏乱", ticket.ChannelWeChat, ""))
	h.Add(tkt("c", time.Date(2026, 11, 30, 9, 5, 0, 0, shanghai), "美兰区", "ML-2", "环境保护", "噪声", ticket.ChannelPhone, ""))
	h.Add(tkt("d", time.Date(2026, 12, 2, 8, 0, 0, 0, shanghai), "龙华区", "LH-2", "城市管理", "占道经营", ticket.ChannelPhone, ""))
	// Older than the 35 days kept: not counted.
	h.Add(tkt("old", now.AddDate(0, 0, -40), "龙华区", "LH-1", "城市管理", "道路脏乱", ticket.ChannelPhone, ""))

	f := analysis.Filter{From: day(t, "2026-11-29"), To: day(t, "2026-12-02")}
	c := h.Counts(f, analysis.ByDay, []analysis.Dim{analysis.District})
	if want := []string{"2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"}; !slices.Equal(c.Periods, want) {
		t.Fatalf("periods %v, want %v", c.Periods, want)
	}
	if len(c.Series) != 2 || !slices.Equal(c.Series[0].Key, []string{"龙华区"}) || !slices.Equal(c.Series[0].Counts, []int{1, 1, 0, 1}) ||
		!slices.Equal(c.Series[1].Counts, []int{0, 1, 0, 0}) || !slices.Equal(c.Totals, []int{1, 2, 0, 1}) || c.Total != 4 {
		t.Fatalf("by day: %+v", c)
	}
	w := h.Counts(f, analysis.ByWeek, []analysis.Dim{analysis.Category, analysis.Channel})
	if want := []string{"2026-11-23", "2026-11-30"}; !slices.Equal(w.Periods, want) {
		t.Fatalf("weeks %v, want %v", w.Periods, want)
	}
	got := map[string][]int{}
	for _, s := range w.Series {
		got[fmt.Sprint(s.Key)] = s.Counts
	}
	want := map[string][]int{"[城市管理 phone]": {1, 1}, "[城市管理 wechat]": {0, 1}, "[环境保护 phone]": {0, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("by week: %v, want %v", got, want)
	}
	f.Set(analysis.Channel, "phone")
	f.Set(analysis.District, "龙华区")
	if c := h.Counts(f, analysis.ByDay, nil); c.Total != 2 || !slices.Equal(c.Totals, []int{1, 0, 0, 1}) {
		t.Fatalf("filtered: %+v", c)
	}
	f.Set(analysis.District, "无此区")
	if c := h.Counts(f, analysis.ByDay, nil); c.Total != 0 {
		t.Fatalf("unknown district counted %d", c.Total)
	}
	if n := h.Prune(); n != 1 || h.Len() != 4 {
		t.Fatalf("prune dropped %d, holds %d; want 1 and 4", n, h.Len())
	}
}

func TestAreasAndTickets(t *testing.T) {
	h := newHistory(t)
	at := now.Add(-time.Hour)
	for i, x := range []struct{ d, g, c string }{
		{"龙华区", "LH-1", "城市管理"}, {"龙华区", "LH-1", "城市管理"}, {"龙华区", "LH-2", "环境保护"}, {"美兰区", "ML-1", "环境保护"},
	} {
		h.Add(tkt(fmt.Sprintf("t%d", i), at.Add(time.Duration(i)*time.Minute), x.d, x.g, x.c, "", ticket.ChannelPhone, "s"))
	}
	f := analysis.Filter{From: h.First(), To: h.Today()}
	a := h.Areas(f)
	if a.Level != "city" || a.Total != 4 || len(a.Areas) != 2 || a.Areas[0] != (analysis.Area{Name: "龙华区", Tickets: 3, TopCategory: "城市管理", TopCount: 2}) {
		t.Fatalf("city: %+v", a)
	}
	f.Set(analysis.District, "龙华区")
	a = h.Areas(f)
	if a.Level != "district" || len(a.Areas) != 2 || a.Areas[0].Name != "LH-1" || a.Areas[0].Tickets != 2 || a.Areas[1].Name != "LH-2" {
		t.Fatalf("district: %+v", a)
	}
	f.Set(analysis.Grid, "LH-1")
	ts, n := h.Tickets(f, 1)
	if n != 2 || len(ts) != 1 || ts[0].ID != "t1" || ts[0].Grid != "LH-1" {
		t.Fatalf("tickets: %d %+v", n, ts)
	}
}

func TestRising(t *testing.T) {
	h := newHistory(t)
	n := 0
	add := func(d int, count int, cat, sub, summary string) {
		for range count {
			n++
			h.Add(tkt(fmt.Sprint(n), now.AddDate(0, 0, -d).Add(-time.Duration(n)*time.Second), "龙华区", "LH-1", cat, sub, ticket.ChannelPhone, summary))
		}
	}
	// Four baseline days: 5 noise and 10 dirty roads a day; today 20 noise,
	// 10 dirty roads, and 6 summaries smelling of gas under two categories.
	for d := 1; d <= 4; d++ {
		add(d, 5, "环境保护", "噪声", "夜间施工噪声扰民")
		add(d, 10, "城市管理", "道路脏乱", "人行道垃圾")
	}
	add(0, 20, "环境保护", "噪声", "夜间施工噪声扰民")
	add(0, 10, "城市管理", "道路脏乱", "人行道垃圾")
	add(0, 4, "公共安全", "其他", "楼道燃气异味很重")
	add(0, 2, "城市管理", "其他", "小区燃气异味")
	add(0, 3, "城市管理", "供水", "楼上水管爆裂漏水")
	add(0, 2, "公共安全", "其他", "楼上水管爆裂漏水")

	f := analysis.Filter{To: h.Today()}
	r := h.Rising(analysis.KindSubcategory, f, 1, 10)
	if r.BaseDays != 4 || len(r.Items) < 1 || r.Items[0].Name != "噪声" || r.Items[0].Category != "环境保护" ||
		r.Items[0].Recent != 20 || r.Items[0].Expected != 5 || *r.Items[0].Change != 3 {
		t.Fatalf("subcategories: %+v", r)
	}
	for _, it := range r.Items {
		if it.Name == "道路脏乱" {
			t.Errorf("a flat subcategory rises: %+v", it)
		}
	}
	p := h.Rising(analysis.KindPhrase, f, 1, 10)
	var gas *analysis.RisingItem
	for i, it := range p.Items {
		if it.Name == "燃气" || it.Name == "气异" || it.Name == "异味" {
			t.Errorf("a fragment of 燃气异味 listed apart: %+v", it)
		}
		if it.Name == "燃气异味" {
			gas = &p.Items[i]
		}
	}
	// The 4-grams of 水管爆裂漏水 overlap end to start: one phrase.
	var burst []string
	for _, it := range p.Items {
		if strings.ContainsAny(it.Name, "爆裂漏") {
			burst = append(burst, it.Name)
		}
	}
	if len(burst) != 1 || !strings.Contains(burst[0], "水管爆裂漏水") {
		t.Errorf("水管爆裂漏水 listed as %q, want one phrase", burst)
	}
	if gas == nil || gas.Recent != 6 || gas.Change != nil || gas.Category != "公共安全" || len(gas.Samples) == 0 {
		t.Fatalf("燃气异味 not found rising: %+v", p.Items)
	}
}

// TestRepostedIDCountedOnce: the durable store's replay and a client's
// re-post bring a ticket again under the same id; it is one ticket.
func TestRepostedIDCountedOnce(t *testing.T) {
	h := newHistory(t)
	at := now.Add(-time.Hour)
	a := tkt("a", at, "龙华区", "LH-1", "城市管理", "道路脏乱", ticket.ChannelPhone, "道路脏乱")
	h.Add(a)
	h.Add(tkt("b", at, "龙华区", "LH-1", "城市管理", "道路脏乱", ticket.ChannelPhone, "道路脏乱"))
	h.Add(a)
	h.Add(a)
	if h.Len() != 2 {
		t.Fatalf("holds %d tickets, want 2", h.Len())
	}
	f := analysis.Filter{From: h.DayOf(at), To: h.DayOf(at)}
	if c := h.Counts(f, analysis.ByDay, nil); c.Total != 2 {
		t.Fatalf("counted %d, want 2", c.Total)
	}
	if _, n := h.Tickets(f, 10); n != 2 {
		t.Fatalf("listed %d tickets, want 2", n)
	}
}

// TestMaxTicketsDropsOldest: past MaxTickets the oldest by creation are
// dropped, whatever order they came in, and a dropped id may come again.
func TestMaxTicketsDropsOldest(t *testing.T) {
	h := analysis.New(analysis.Options{Location: shanghai, Now: func() time.Time { return now }, MaxTickets: 3})
	at := now.Add(-10 * time.Hour)
	for _, x := range []struct {
		id string
		h  int
	}{{"t2", 2}, {"t5", 5}, {"t1", 1}, {"t4", 4}, {"t3", 3}, {"t6", 6}, {"t1", 1}} {
		h.Add(tkt(x.id, at.Add(time.Duration(x.h)*time.Hour), "龙华区", "LH-1", "城市管理", "道路脏乱", ticket.ChannelPhone, ""))
	}
	ts, n := h.Tickets(analysis.Filter{From: h.First(), To: h.Today()}, 10)
	var ids []string
	for _, x := range ts {
		ids = append(ids, x.ID)
	}
	if n != 3 || !slices.Equal(ids, []string{"t6", "t5", "t4"}) {
		t.Fatalf("held %d: %v; want t6 t5 t4", n, ids)
	}
}
