package demo

import (
	"slices"
	"time"

	"github.com/citywall/citywall/wall"
)

// wallSpec adds to spec the demo city's camera sets (by the cameras'
// tags), a tour through them every 30 minutes as the default of every
// wall that has none, and the schedules of the brief: school gates at
// 17:00 on workdays, kitchens at meal times, underpasses through the
// night. spec is not changed.
func wallSpec(spec wall.Spec, cams []wall.Camera) wall.Spec {
	byTag := func(tag string) []string {
		var out []string
		for _, c := range cams {
			if slices.Contains(c.Tags, tag) {
				out = append(out, c.ID)
			}
		}
		return out
	}
	sets := []wall.Set{
		{ID: "school-gates", Name: "校园周边", NameEn: "School gates", Cameras: byTag("school-gate")},
		{ID: "kitchens", Name: "明厨亮灶", NameEn: "Restaurant kitchens", Cameras: byTag("kitchen")},
		{ID: "reservoirs", Name: "水库水情", NameEn: "Reservoirs", Cameras: byTag("reservoir")},
		{ID: "roads", Name: "主干道路", NameEn: "Main roads", Cameras: byTag("road")},
		{ID: "waterlogging", Name: "易涝点", NameEn: "Waterlogging points", Cameras: byTag("waterlogging")},
	}
	spec.Walls = slices.Clone(spec.Walls)
	spec.Sets = slices.Clone(spec.Sets)
	spec.Tours = slices.Clone(spec.Tours)
	spec.Schedules = slices.Clone(spec.Schedules)
	has := map[string]bool{}
	for _, s := range spec.Sets {
		has[s.ID] = true
	}
	for _, s := range sets {
		if len(s.Cameras) > 0 && !has[s.ID] {
			spec.Sets = append(spec.Sets, s)
			has[s.ID] = true
		}
	}
	var steps []wall.Step
	for _, s := range spec.Sets {
		steps = append(steps, wall.Step{Set: s.ID})
	}
	if len(steps) == 0 {
		return spec
	}
	spec.Tours = append(spec.Tours, wall.Tour{ID: "patrol", Name: "日常轮巡", NameEn: "Daily patrol", Dwell: 30 * time.Minute, Steps: steps})
	for i := range spec.Walls {
		if spec.Walls[i].Set == "" && spec.Walls[i].Tour == "" {
			spec.Walls[i].Tour = "patrol"
		}
	}
	add := func(s wall.Schedule) {
		if has[s.Set] {
			spec.Schedules = append(spec.Schedules, s)
		}
	}
	add(wall.Schedule{ID: "school-pm", Name: "放学时段校门", NameEn: "School gates after class", Wall: "main",
		Days: []string{"workdays"}, Start: "17:00", End: "18:30", Set: "school-gates"})
	add(wall.Schedule{ID: "kitchens-lunch", Name: "午餐明厨亮灶", NameEn: "Kitchens at lunch", Wall: "main",
		Days: []string{"daily"}, Start: "10:30", End: "12:30", Set: "kitchens"})
	add(wall.Schedule{ID: "kitchens-dinner", Name: "晚餐明厨亮灶", NameEn: "Kitchens at dinner", Wall: "main",
		Days: []string{"daily"}, Start: "17:00", End: "19:00", Set: "kitchens"})
	add(wall.Schedule{ID: "night-underpasses", Name: "夜间易涝点", NameEn: "Underpasses at night", Wall: "main",
		Days: []string{"daily"}, Start: "22:00", End: "06:00", Set: "waterlogging"})
	return spec
}
