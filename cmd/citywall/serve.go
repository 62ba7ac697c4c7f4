package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	_ "time/tzdata" // the city's zone resolves on minimal machines

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/web"
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
	}
	log := newLogger(cfg.Log, os.Stderr)
	app, err := web.New(cfg, web.Options{Logger: log, Build: buildID()})
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

// addDemoTokens gives the demo city fresh tokens at every start: a demo
// must not ship a well-known password.
func addDemoTokens(cfg *config.Config) map[config.Role]string {
	out := map[config.Role]string{}
	for _, r := range []config.Role{config.RoleAdmin, config.RoleWall, config.RoleIngest} {
		var b [16]byte
		_, _ = rand.Read(b[:])
		tok := hex.EncodeToString(b[:])
		out[r] = tok
		cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.Token{Name: "demo-" + string(r), Token: tok, Roles: []config.Role{r}})
	}
	return out
}

func printDemo(w io.Writer, url string, tok map[config.Role]string) {
	fmt.Fprintf(w, `
  citywall demo city: 海口 Haikou 12345, simulated live
  wall (admin):  %s/wall?token=%s
  wall display:  %s/wall?token=%s
  post tickets:  curl -H 'Authorization: Bearer %s' -d @tickets.json %s/api/v1/tickets
  tokens are new at every start; set auth.tokens in a config file to keep them

`, url, tok[config.RoleAdmin], url, tok[config.RoleWall], tok[config.RoleIngest], url)
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
