package demo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/citywall/citywall/config"
)

// Unconfigured completes the configuration of a server started without a
// configuration file: tokens (unless set by the environment) and the
// demo's teams, and an alert state file in the user's config directory so
// the demo keeps its open alerts and timers across restarts. It returns
// the demo's tokens by role, nil when the environment set tokens.
func Unconfigured(cfg *config.Config) map[config.Role]string {
	var tokens map[config.Role]string
	if len(cfg.Auth.Tokens) == 0 {
		tokens = addTokens(cfg)
		addTeams(cfg)
	}
	if cfg.Alerts.StateFile == "" {
		if dir, err := os.UserConfigDir(); err == nil {
			cfg.Alerts.StateFile = filepath.Join(dir, "citywall", "alerts-state.json")
		}
	}
	return tokens
}

// addTokens gives the demo city tokens of its own: random, made on the
// first start and kept in the user's config directory, so a demo never
// ships a well-known password and a wall's session survives a restart.
func addTokens(cfg *config.Config) map[config.Role]string {
	path := ""
	if dir, err := os.UserConfigDir(); err == nil {
		path = filepath.Join(dir, "citywall", "demo-tokens.json")
	}
	out := map[config.Role]string{}
	if path != "" {
		if data, err := os.ReadFile(path); err == nil {
			_ = json.Unmarshal(data, &out)
		}
	}
	changed := false
	for _, r := range []config.Role{config.RoleAdmin, config.RoleWall, config.RoleIngest, config.RoleCommander, config.RolePatrol, config.RoleTeam} {
		if len(out[r]) < 32 {
			var b [16]byte
			_, _ = rand.Read(b[:])
			out[r] = hex.EncodeToString(b[:])
			changed = true
		}
		cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.Token{Name: "demo-" + string(r), Token: out[r], Roles: []config.Role{r}})
	}
	if changed && path != "" {
		// Best effort: without it the tokens are new at the next start.
		if data, err := json.Marshal(out); err == nil && os.MkdirAll(filepath.Dir(path), 0o700) == nil {
			_ = os.WriteFile(path, data, 0o600)
		}
	}
	return out
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
  demo tokens are kept in your config directory (citywall/demo-tokens.json);
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
			Members: []string{"demo-team"}, Districts: []string{"秀英区", "龙华区"}},
		{ID: "east", Name: "琼山美兰应急分队", NameEn: "Qiongshan-Meilan emergency team",
			Members: []string{"demo-team"}, Districts: []string{"琼山区", "美兰区"}},
		{ID: "duty", Name: "值班长", NameEn: "Duty commander",
			Members: []string{"demo-commander"}},
	}
	cfg.Alerts.EscalateTo = []string{"duty"}
}
