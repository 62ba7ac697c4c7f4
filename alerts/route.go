package alerts

import (
	"slices"
)

// Team is an emergency team alerts are routed to: by area (districts or H3
// cells) and category, optionally by source. A team without matchers takes
// every alert.
type Team struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	NameEn     string   `json:"name_en,omitempty"`
	Members    []string `json:"members,omitempty"` // token names
	Districts  []string `json:"districts,omitempty"`
	Cells      []string `json:"cells,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Sources    []string `json:"sources,omitempty"`
}

// Router picks the teams of an alert.
type Router struct {
	Teams []Team
	// Escalation are the teams an alert unacknowledged past the
	// escalation delay goes to, e.g. the duty commanders.
	Escalation []string
}

// Route returns the ids of the teams that take a: every team whose
// matchers all hold; the escalation teams when none does.
func (r *Router) Route(a *Alert) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, t := range r.Teams {
		if slices.Contains(r.Escalation, t.ID) && len(t.Districts) == 0 && len(t.Cells) == 0 && len(t.Categories) == 0 && len(t.Sources) == 0 {
			continue // the escalation level is not a catch-all first level
		}
		if len(t.Sources) > 0 && !slices.Contains(t.Sources, a.Source) {
			continue
		}
		if len(t.Categories) > 0 && !slices.Contains(t.Categories, a.Category) {
			continue
		}
		if len(t.Districts) > 0 || len(t.Cells) > 0 {
			inArea := slices.Contains(t.Districts, a.District) && a.District != ""
			if !inArea && len(t.Cells) > 0 {
				inArea = cellsCover(t.Cells, a.Cells, a.Lat, a.Lng)
			}
			if !inArea {
				continue
			}
		}
		out = append(out, t.ID)
	}
	if len(out) == 0 {
		out = slices.Clone(r.Escalation)
	}
	return out
}

// TeamsOf lists the teams a token name belongs to.
func (r *Router) TeamsOf(member string) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, t := range r.Teams {
		if slices.Contains(t.Members, member) {
			out = append(out, t.ID)
		}
	}
	return out
}

// Team returns a team by id.
func (r *Router) Team(id string) (Team, bool) {
	if r == nil {
		return Team{}, false
	}
	for _, t := range r.Teams {
		if t.ID == id {
			return t, true
		}
	}
	return Team{}, false
}
