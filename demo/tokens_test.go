package demo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/citywall/citywall/config"
)

// TestDemoTokensOneSetPerDataDirectory starts demos on one empty data
// directory at the same moment, many times: every start gets the set of
// tokens the file holds, the same for all, and a later start reads it
// back.
func TestDemoTokensOneSetPerDataDirectory(t *testing.T) {
	for round := range 50 {
		dir := filepath.Join(t.TempDir(), "data")
		const n = 4
		got := make([]map[config.Role]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				var cfg config.Config
				got[i] = addTokens(&cfg, dir)
			})
		}
		close(start)
		wg.Wait()
		data, err := os.ReadFile(filepath.Join(dir, TokenFile))
		if err != nil {
			t.Fatal(err)
		}
		var file map[config.Role]string
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatalf("round %d: the token file does not decode: %v", round, err)
		}
		for i, g := range got {
			for _, r := range demoRoles {
				if g[r] != file[r] {
					t.Fatalf("round %d: start %d has %s token %.6s…, the file %.6s…", round, i, r, g[r], file[r])
				}
			}
		}
		var cfg config.Config
		again := addTokens(&cfg, dir)
		if again[config.RoleWall] != file[config.RoleWall] || len(cfg.Auth.Tokens) != len(demoRoles) {
			t.Fatalf("round %d: a later start made new tokens", round)
		}
	}
}
