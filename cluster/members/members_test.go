package members_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/cluster/members"
	"github.com/citywall/citywall/cluster/redistest"
)

func cameras(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("cam-%04d", i)
	}
	return out
}

// TestOwnerMovesFew: a join moves only the cameras the newcomer wins
// (about 1/n of them), a leave only the leaver's.
func TestOwnerMovesFew(t *testing.T) {
	cams := cameras(5000)
	var ms []members.Member
	for i := range 4 {
		ms = append(ms, members.Member{ID: fmt.Sprintf("i%d", i)})
	}
	before := map[string]string{}
	for _, c := range cams {
		before[c] = members.Owner(c, ms).ID
	}
	joined := append(slices.Clone(ms), members.Member{ID: "new"})
	moved := 0
	for _, c := range cams {
		o := members.Owner(c, joined).ID
		if o != before[c] {
			moved++
			if o != "new" {
				t.Fatalf("%s moved from %s to %s, not to the newcomer", c, before[c], o)
			}
		}
	}
	if moved < len(cams)/5*8/10 || moved > len(cams)/5*12/10 {
		t.Errorf("a join moved %d of %d cameras, want about a fifth", moved, len(cams))
	}
	left := ms[1:]
	for _, c := range cams {
		if o := members.Owner(c, left).ID; o != before[c] && before[c] != ms[0].ID {
			t.Fatalf("%s moved from %s to %s when %s left", c, before[c], o, ms[0].ID)
		}
	}
}

// TestRandomJoinsAndLeaves: 50 random joins and leaves of registries on a
// real Redis; once the live ones agree on the view, every camera has
// exactly one owner among them, and a crashed one (that stops renewing)
// drops out within its TTL.
func TestRandomJoinsAndLeaves(t *testing.T) {
	addr := redistest.Addr(t)
	key := "{" + redistest.Prefix(t) + "}:instances"
	cams := cameras(300)
	type inst struct {
		reg    *members.Registry
		cancel context.CancelFunc
	}
	var wg sync.WaitGroup
	live := map[string]*inst{}
	next := 0
	join := func() {
		id := fmt.Sprintf("inst-%02d", next)
		next++
		reg := members.New(redistest.Client(t, addr), members.Options{Key: key, ID: id, URL: "http://" + id, TTL: time.Second, Poll: 50 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		wg.Go(func() { reg.Run(ctx) })
		live[id] = &inst{reg: reg, cancel: cancel}
	}
	defer func() {
		for _, in := range live {
			in.cancel()
		}
		wg.Wait()
	}()
	agree := func(step int) {
		t.Helper()
		var want []string
		for id := range live {
			want = append(want, id)
		}
		slices.Sort(want)
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok := true
			for _, in := range live {
				var got []string
				for _, m := range in.reg.View().Members {
					got = append(got, m.ID)
				}
				if !slices.Equal(got, want) {
					ok = false
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("step %d: views never agreed on %v", step, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, c := range cams {
			owners := 0
			for id, in := range live {
				if in.reg.Owner(c).ID == id {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("step %d: camera %s has %d owners among %v", step, c, owners, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	join()
	join()
	for step := range 50 {
		if len(live) <= 1 || (len(live) < 6 && rng.IntN(2) == 0) {
			join()
		} else {
			ids := make([]string, 0, len(live))
			for id := range live {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			id := ids[rng.IntN(len(ids))]
			in := live[id]
			if rng.IntN(2) == 0 {
				in.reg.Pause(true) // a crash: the entry stays until it expires
			}
			in.cancel()
			in.reg.Close()
			delete(live, id)
		}
		agree(step)
	}
}
