package hubload

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"
)

// HeatTopics returns n heat-map topic names as a wall would subscribe to
// them: every resolution and window of "all" first, then per category.
func HeatTopics(n int) []string {
	categories := []string{"all", "城市管理", "Noise - Street/Sidewalk", "交通出行", "环境保护", "住房保障", "Heat/Hot Water", "市场监管", "Illegal Parking"}
	var topics []string
	for _, cat := range categories {
		for _, res := range []string{"8", "7", "9"} {
			for _, win := range []string{"1h", "15m", "24h"} {
				if len(topics) == n {
					return topics
				}
				topics = append(topics, "heat/"+res+"/"+win+"/"+cat)
			}
		}
	}
	for i := len(topics); i < n; i++ {
		topics = append(topics, "heat/8/1h/category-"+strconv.Itoa(i))
	}
	return topics
}

// stampKey is the extra key in a delta's set that carries its publish time
// in Unix nanoseconds: the hub does not put Publication.Origin on the wire.
const stampKey = "_t"

// heatGen makes a topic's deltas: a handful of H3 cells whose ticket counts
// change, now and then a cell that leaves the window.
type heatGen struct {
	rng    *rand.Rand
	cells  []string
	counts []int
	values []json.RawMessage // counts[i] encoded, shared by every delta
}

func newHeatGen(seed uint64, cells int) *heatGen {
	g := &heatGen{rng: rand.New(rand.NewPCG(seed, 0x12345)), cells: make([]string, cells), counts: make([]int, cells)}
	for i := range g.cells {
		// Resolution-8 cells look like 882a100d65fffff: 15 hex digits.
		g.cells[i] = "88" + strconv.FormatUint(0x10000000+g.rng.Uint64N(0xe0000000), 16) + "fffff"
	}
	for i := 0; i < 64; i++ {
		g.values = append(g.values, json.RawMessage(strconv.Itoa(i)))
	}
	return g
}

func (g *heatGen) value(n int) json.RawMessage {
	if n < len(g.values) {
		return g.values[n]
	}
	return json.RawMessage(strconv.Itoa(n))
}

// prefill sets the first n cells, as a window that has been counting for a
// while would hold them.
func (g *heatGen) prefill(n int) map[string]json.RawMessage {
	set := make(map[string]json.RawMessage, n)
	for i := 0; i < n && i < len(g.cells); i++ {
		g.counts[i] = 1 + g.rng.IntN(20)
		set[g.cells[i]] = g.value(g.counts[i])
	}
	return set
}

// next returns one delta of 5 to 20 changed cells and, one time in five, a
// few cells that dropped to zero. The publish time goes in as stampKey.
func (g *heatGen) next(now time.Time) (map[string]json.RawMessage, []string) {
	n := 5 + g.rng.IntN(16)
	set := make(map[string]json.RawMessage, n+1)
	for range n {
		i := g.rng.IntN(len(g.cells))
		g.counts[i] += 1 + g.rng.IntN(3)
		set[g.cells[i]] = g.value(g.counts[i])
	}
	var del []string
	if g.rng.IntN(5) == 0 {
		for range 1 + g.rng.IntN(3) {
			i := g.rng.IntN(len(g.cells))
			if _, ok := set[g.cells[i]]; ok || g.counts[i] == 0 {
				continue
			}
			g.counts[i] = 0
			del = append(del, g.cells[i])
		}
	}
	set[stampKey] = json.RawMessage(strconv.FormatInt(now.UnixNano(), 10))
	return set, del
}
