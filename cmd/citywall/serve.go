package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	_ "time/tzdata" // the city's zone resolves on minimal machines

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
)

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("citywall", flag.ContinueOnError)
	path := fs.String("config", "", "YAML configuration file (default: the embedded demo city)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	var demoTokens map[config.Role]string
	if *path == "" && len(cfg.Auth.Tokens) == 0 {
		demoTokens = addDemoTokens(&cfg)
		addDemoTeams(&cfg)
	}
	if *path == "" && cfg.Alerts.StateFile == "" {
		// The demo keeps its open alerts and timers across restarts too.
		if dir, err := os.UserConfigDir(); err == nil {
			cfg.Alerts.StateFile = filepath.Join(dir, "citywall", "alerts-state.json")
		}
	}
	log := newLogger(cfg.Log, os.Stderr)
	app, err := app.New(cfg, app.Options{Logger: log, Build: buildID()})
	if err != nil {
		return err
	}
	if _, err := app.Listen(); err != nil {
		return err
	}
	if demoTokens != nil {
		printDemo(os.Stdout, app.URL(), demoTokens)
	}
	return app.Run(ctx)
}

// addDemoTokens gives the demo city tokens of its own: random, made on the
// first start and kept in the user's config directory, so a demo never
// ships a well-known password and a wall's session survives a restart.
func addDemoTokens(cfg *config.Config) map[config.Role]string {
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

func printDemo(w io.Writer, url string, tok map[config.Role]string) {
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

// addDemoTeams gives the demo two emergency teams, one for the west and
// centre and one for the east and south, and a duty commander that
// unacknowledged alerts escalate to after 30 minutes.
func addDemoTeams(cfg *config.Config) {
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

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// buildID names this binary by its content, so pages reload after an
// upgrade without any release tooling.
var buildID = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return "dev"
	}
	f, err := os.Open(exe)
	if err != nil {
		return "dev"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "dev"
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
})

func configCmd(args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return fmt.Errorf("usage: citywall config check FILE")
	}
	if _, err := config.Load(args[1], os.Environ()); err != nil {
		return err
	}
	fmt.Printf("%s: ok\n", args[1])
	return nil
}
