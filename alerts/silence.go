package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uber/h3-go/v4"
)

// MaxSilence bounds how long one silence may last: a silence forgotten
// must not hide alerts for good.
const MaxSilence = 7 * 24 * time.Hour

// Silence mutes notification of the alerts it matches between StartsAt and
// EndsAt. A silenced alert is still tracked and shown as silenced; it is
// neither pushed to teams nor escalated. Empty matchers match everything;
// a silence must name at least an area (district or cells) or a category.
type Silence struct {
	ID        string    `json:"id"`
	Category  string    `json:"category,omitempty"`
	District  string    `json:"district,omitempty"`
	Cells     []string  `json:"cells,omitempty"` // H3 cells of any resolution: an alert in or under one matches
	Source    string    `json:"source,omitempty"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	ExpiredAt time.Time `json:"expired_at,omitzero"` // ended early by DELETE
}

// Active reports whether the silence mutes at t.
func (s *Silence) Active(t time.Time) bool {
	return s.ExpiredAt.IsZero() && !t.Before(s.StartsAt) && t.Before(s.EndsAt)
}

// Validate checks a silence before it is added; now is when it is added.
func (s *Silence) Validate(now time.Time) error {
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	switch {
	case s.EndsAt.IsZero():
		return fmt.Errorf("%w: ends_at: a silence must end", ErrBadSilence)
	case !s.EndsAt.After(s.StartsAt):
		return fmt.Errorf("%w: ends_at: must be after starts_at", ErrBadSilence)
	case s.EndsAt.Sub(s.StartsAt) > MaxSilence:
		return fmt.Errorf("%w: ends_at: at most %s after starts_at", ErrBadSilence, MaxSilence)
	case !s.EndsAt.After(now):
		return fmt.Errorf("%w: ends_at: already past", ErrBadSilence)
	case s.Category == "" && s.District == "" && len(s.Cells) == 0:
		return fmt.Errorf("%w: name an area (district or cells) or a category", ErrBadSilence)
	case strings.TrimSpace(s.Comment) == "":
		return fmt.Errorf("%w: comment: say why", ErrBadSilence)
	case len(s.Comment) > maxText || len(s.Category) > maxTitle || len(s.District) > maxTitle || len(s.Source) > 32:
		return fmt.Errorf("%w: a field is too long", ErrBadSilence)
	case len(s.Cells) > maxCells:
		return fmt.Errorf("%w: cells: at most %d", ErrBadSilence, maxCells)
	}
	for _, c := range s.Cells {
		if cell := h3.CellFromString(c); !cell.IsValid() {
			return fmt.Errorf("%w: cells: %q is not an H3 cell", ErrBadSilence, c)
		}
	}
	return nil
}

// Matches reports whether the silence covers alert a (ignoring time).
func (s *Silence) Matches(a *Alert) bool {
	if s.Source != "" && s.Source != a.Source {
		return false
	}
	if s.Category != "" && s.Category != a.Category {
		return false
	}
	if s.District != "" && s.District != a.District {
		return false
	}
	if len(s.Cells) > 0 && !cellsCover(s.Cells, a.Cells, a.Lat, a.Lng) {
		return false
	}
	return true
}

// cellsCover reports whether any of the alert's cells (or its point) lies
// in or under one of area.
func cellsCover(area, cells []string, lat, lng float64) bool {
	for _, id := range area {
		ac := h3.CellFromString(id)
		if !ac.IsValid() {
			continue
		}
		res := ac.Resolution()
		for _, c := range cells {
			cc := h3.CellFromString(c)
			if !cc.IsValid() || cc.Resolution() < res {
				continue
			}
			if p, err := cc.Parent(res); err == nil && p == ac {
				return true
			}
		}
		if lat != 0 || lng != 0 {
			if pc, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res); err == nil && pc == ac {
				return true
			}
		}
	}
	return false
}

func silenceOf(ss []Silence, a *Alert, now time.Time) string {
	i := slices.IndexFunc(ss, func(s Silence) bool { return s.Active(now) && s.Matches(a) })
	if i < 0 {
		return ""
	}
	return ss[i].ID
}
