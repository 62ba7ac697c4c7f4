package demo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/internal/atomicfile"
)

// Unconfigured completes the configuration of a server started without a
// configuration file: tokens (unless set by the environment) and the
// demo's teams. The tokens are kept in dataDir (the instance's data
// directory; "": fresh at every start). It returns the demo's tokens by
// role, nil when the environment set tokens.
func Unconfigured(cfg *config.Config, dataDir string) map[config.Role]string {
	var tokens map[config.Role]string
	if len(cfg.Auth.Tokens) == 0 {
		tokens = addTokens(cfg, dataDir)
		addTeams(cfg)
	}
	return tokens
}

// TokenFile is where the demo keeps its tokens in the data directory.
const TokenFile = "demo-tokens.json"

// addTokens gives the demo city tokens of its own: random, made on the
// first start and kept in the data directory, so a demo never ships a
// well-known password and a wall's session survives a restart.
func addTokens(cfg *config.Config, dataDir string) map[config.Role]string {
	out := demoTokens(dataDir)
	for _, r := range demoRoles {
		cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.Token{Name: "demo-" + string(r), Token: out[r], Roles: []config.Role{r}})
	}
	return out
}

var demoRoles = []config.Role{config.RoleAdmin, config.RoleWall, config.RoleIngest, config.RoleCommander, config.RolePatrol, config.RoleTeam}

// demoTokens reads the demo's tokens from dataDir, making the missing
// ones. The file is written whole or not at all (a crash never leaves a
// torn file, which would change every token at the next start), and a
// new file is created exclusively: of two demos starting on one data
// directory (the second is then refused by its lock) both read the one
// set that was written first, never each its own.
func demoTokens(dataDir string) map[config.Role]string {
	path := ""
	if dataDir != "" {
		path = filepath.Join(dataDir, TokenFile)
	}
	for attempt := 0; ; attempt++ {
		out := map[config.Role]string{}
		existed := false
		if path != "" {
			if data, err := os.ReadFile(path); err == nil {
				existed = true
				_ = json.Unmarshal(data, &out)
			}
		}
		changed := false
		for _, r := range demoRoles {
			if len(out[r]) < 32 {
				var b [16]byte
				_, _ = rand.Read(b[:])
				out[r] = hex.EncodeToString(b[:])
				changed = true
			}
		}
		if !changed || path == "" {
			return out
		}
		data, err := json.Marshal(out)
		if err != nil || os.MkdirAll(dataDir, 0o700) != nil {
			return out // best effort: the tokens are new at the next start
		}
		if existed {
			_ = atomicfile.Write(path, data)
			return out
		}
		switch err := atomicfile.Create(path, data); {
		case err == nil:
			return out
		case errors.Is(err, fs.ErrExist) && attempt < 3:
			continue // another start wrote it first: read theirs
		default:
			return out
		}
	}
}

// PrintWelcome prints where the demo city's pages are and its tokens.
func PrintWelcome(w io.Writer, url string, tok map[config.Role]string) {
	fmt.Fprintf(w, `
  citywall demo city: 海口 Haikou 12345, simulated live
  wall (admin):     %s/wall?token=%s
  wall display:     %s/wall/main?monitor=0&token=%s   (monitor 0..7 of the 4 × 2 wall)
  patrol console:   %s/console?token=%s
  emergency team:   %s/team?token=%s
  duty commander:   %s/team?token=%s
  post tickets:     curl -H 'Authorization: Bearer %s' -d @tickets.json %s/api/v1/tickets
  demo tokens are kept in the data directory (demo-tokens.json);
  a real centre sets auth.tokens in its config file

`, url, tok[config.RoleAdmin], url, tok[config.RoleWall], url, tok[config.RolePatrol],
		url, tok[config.RoleTeam], url, tok[config.RoleCommander], tok[config.RoleIngest], url)
}

// addTeams gives the demo two emergency teams, one for the west and
// centre and one for the east and south, and a duty commander that
// unacknowledged alerts escalate to after 30 minutes.
func addTeams(cfg *config.Config) {
	if len(cfg.Alerts.Teams) > 0 {
		return
	}
	cfg.Alerts.Teams = []config.AlertTeam{
		{ID: "west", Name: "秀英龙华应急分队", NameEn: "Xiuying-Longhua emergency team",
			Members: []config.TeamMember{{Name: "demo-team"}}, Districts: []string{"秀英区", "龙华区"}},
		{ID: "east", Name: "琼山美兰应急分队", NameEn: "Qiongshan-Meilan emergency team",
			Members: []config.TeamMember{{Name: "demo-team"}}, Districts: []string{"琼山区", "美兰区"}},
		{ID: "duty", Name: "值班长", NameEn: "Duty commander",
			Members: []config.TeamMember{{Name: "demo-commander"}}},
	}
	cfg.Alerts.EscalateTo = []string{"duty"}
}
