package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
)

// TestTicketsTopicExactlyOnceAcrossLeaderChange posts tickets to three
// instances on one Redis while the leader stops and Redis stalls for
// 3 s, retrying by id whatever was not answered 200. A client connected
// the whole time to an instance that never stopped receives every
// acknowledged ticket on the tickets topic exactly once.
func TestTicketsTopicExactlyOnceAcrossLeaderChange(t *testing.T) {
	r := startRedis(t)
	cfg, tokens := clusterConfig(t, r.addr)
	cfg.Redis.LeaseTTL = 2 * time.Second
	insts := []*server{startInstance(t, cfg, tokens, nil), startInstance(t, cfg, tokens, nil), startInstance(t, cfg, tokens, nil)}
	eventually(t, "a leader", func() bool { return len(leaders(insts)) == 1 })
	leader := leaders(insts)[0]
	var alive []*server
	for _, s := range insts {
		if s != leader {
			alive = append(alive, s)
		}
	}
	watcher := alive[0]
	c := watcher.connect(tokens[config.RoleWall])
	c.subscribe("tickets")

	rdb := redis.NewClient(&redis.Options{Addr: r.addr})
	defer rdb.Close()
	acked := map[string]bool{}
	post := func(s *server, batch int) bool {
		code, b := s.post("/api/v1/tickets", batchOf("once", batch*20, 20))
		if code != http.StatusOK {
			return false
		}
		var res ticket.PostResult
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("answer: %v %s", err, b)
		}
		for _, it := range res.Items {
			if it.Status == ticket.StatusAccepted || it.Status == ticket.StatusDuplicate {
				acked[it.ID] = true
			}
		}
		return true
	}
	const batches = 60
	var retry []int
	for i := range batches {
		switch i {
		case 15:
			go func() { _ = leader.stop() }()
		case 25:
			if err := rdb.Do(context.Background(), "CLIENT", "PAUSE", 3000, "ALL").Err(); err != nil {
				t.Fatalf("client pause: %v", err)
			}
		}
		targets := alive
		if i < 15 {
			targets = insts
		}
		if !post(targets[i%len(targets)], i) {
			retry = append(retry, i)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(retry) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("batches %v never answered 200", retry)
		}
		if post(alive[retry[0]%len(alive)], retry[0]) {
			retry = retry[1:]
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("%d tickets acknowledged", len(acked))

	seen := map[string]int{}
	tallied := 0
	end := time.Now().Add(20 * time.Second)
	for {
		for _, e := range c.events["tickets"][tallied:] {
			var v struct{ ID string }
			_ = json.Unmarshal(e, &v)
			seen[v.ID]++
			tallied++
		}
		if len(seen) >= len(acked) {
			break
		}
		c.queue = c.queue[:0]
		if err := c.read(end); err != nil {
			break // the rest is missing
		}
	}
	missing, twice := 0, 0
	for id := range acked {
		if seen[id] == 0 {
			missing++
		}
	}
	for id, n := range seen {
		if n > 1 {
			twice++
		}
		if !acked[id] {
			t.Errorf("ticket %s on the topic but never acknowledged", id)
		}
	}
	if missing > 0 || twice > 0 {
		t.Errorf("of %d acknowledged tickets the watcher's tickets topic lacks %d and has %d twice (%d events)",
			len(acked), missing, twice, len(c.events["tickets"]))
	}
}
