package relay

// gopCache keeps the fragments since the last keyframe, so that a viewer
// who joins starts at once from that keyframe.
type gopCache struct {
	items []Item
	bytes int
	full  bool // the group outgrew its bound: no instant start until the next keyframe
}

func (g *gopCache) reset() { g.items, g.bytes, g.full = nil, 0, false }

// add keeps a fragment; a keyframe starts the group again. limit bounds
// the bytes kept.
func (g *gopCache) add(it Item, limit int) {
	f := it.Fragment
	if f.Key {
		g.items, g.bytes, g.full = g.items[:0], 0, false
	}
	if g.full {
		return
	}
	if g.bytes+len(f.Data) > limit {
		g.items, g.bytes, g.full = nil, 0, true
		return
	}
	if len(g.items) > 0 || f.Key {
		g.items = append(g.items, it)
		g.bytes += len(f.Data)
	}
}

// replay hands a joining viewer the group, marked as replayed (see
// Item.Replay).
func (g *gopCache) replay(v *Viewer) {
	for _, it := range g.items {
		it.Replay = true
		v.push(it)
	}
}
