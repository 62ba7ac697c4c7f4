package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("server:\n  listen: 127.0.0.1:9000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("geo:\n  resolutions: [7, 16]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"config", "check", good}); err != nil {
		t.Fatalf("good config: %v", err)
	}
	err := run(context.Background(), []string{"config", "check", bad})
	if err == nil || !strings.Contains(err.Error(), "geo.resolutions[1]") || !strings.Contains(err.Error(), "16") {
		t.Fatalf("bad config: %v, want the key and value named", err)
	}
}

// TestImportNYC reads the real NYC 311 sample without a server.
func TestImportNYC(t *testing.T) {
	path := sharedData(t, "nyc311_sample_2011-03.csv")
	if err := run(context.Background(), []string{"import", "-mapping", "nyc311", path}); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"import", "-mapping", "bogus", path}); err == nil {
		t.Fatal("unknown mapping accepted")
	}
}

// TestServeDemo starts the embedded demo city and stops it on cancel.
func TestServeDemo(t *testing.T) {
	t.Setenv("CITYWALL_SERVER_LISTEN", "127.0.0.1:0")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "citywall", "demo-tokens.json")); err != nil {
		t.Errorf("demo tokens not kept: %v", err)
	}
}

// sharedData finds shared/data beside the repository (CI clones it there).
func sharedData(t *testing.T, name string) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, "shared", "data", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("shared/data/%s not found above the repository", name)
		}
		dir = parent
	}
}
