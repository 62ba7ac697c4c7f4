package alerts

import (
	"slices"
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestNearestCamerasByGridDistance(t *testing.T) {
	c, _ := h3.LatLngToCell(h3.LatLng{Lat: 20.03, Lng: 110.33}, 8)
	ring1, _ := c.GridRing(1)
	ring2, _ := c.GridRing(2)
	ring5, _ := c.GridRing(5)
	at := func(x h3.Cell) (float64, float64) {
		ll, _ := x.LatLng()
		return ll.Lat, ll.Lng
	}
	var cams []Camera
	for _, x := range []struct {
		id   string
		cell h3.Cell
	}{{"two-away", ring2[0]}, {"far", ring5[0]}, {"same", c}, {"one-away", ring1[3]}} {
		lat, lng := at(x.cell)
		cams = append(cams, Camera{ID: x.id, Name: x.id, Lat: lat, Lng: lng})
	}
	ix := newCameraIndex(cams, 8)
	lat, lng := at(c)
	var ids []string
	for _, r := range ix.Nearest([]h3.Cell{c}, lat, lng, 3, 3) {
		ids = append(ids, r.ID)
	}
	if want := []string{"same", "one-away", "two-away"}; !slices.Equal(ids, want) {
		t.Errorf("nearest = %v, want %v", ids, want)
	}
	got := ix.Nearest([]h3.Cell{ring1[0]}, lat, lng, 5, 1)
	if len(got) != 2 || got[0].Distance != 0 && got[0].Distance != 1 {
		t.Errorf("within 1 step of a neighbour: %+v", got)
	}
	if n := len(ix.Nearest([]h3.Cell{c}, lat, lng, 10, 10)); n != 4 {
		t.Errorf("%d cameras within 10 steps, want 4", n)
	}
}
