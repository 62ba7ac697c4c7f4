package main

import (
	"context"
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

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo"
	"github.com/citywall/citywall/storage"
)

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("citywall", flag.ContinueOnError)
	path := fs.String("config", "", "YAML configuration file (default: the embedded demo city)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// Never start a server on a mistyped command line.
		return fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	if cfg.Storage.Dir == "" && !cfg.Storage.Memory && !cfg.Redis.Enabled() {
		if cfg.Storage.Dir, err = storage.DefaultDir(); err != nil {
			return err
		}
	}
	var demoTokens map[config.Role]string
	if *path == "" {
		dataDir := cfg.Storage.Dir
		if cfg.Storage.Memory || cfg.Redis.Enabled() {
			dataDir = ""
		}
		demoTokens = demo.Unconfigured(&cfg, dataDir)
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
		demo.PrintWelcome(os.Stdout, app.URL(), demoTokens)
	}
	return app.Run(ctx)
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
