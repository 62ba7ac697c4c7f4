package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts/webhook"
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
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"demo-tokens.json", "VERSION", "log"} {
		if _, err := os.Stat(filepath.Join(os.Getenv("XDG_STATE_HOME"), "citywall", f)); err != nil {
			t.Errorf("%s not in the data directory: %v", f, err)
		}
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

// TestNoServerOnAStrayArgument: a mistyped command line is an error that
// lists the subcommands, never a server start (which would bind the port
// and run the demo city).
func TestNoServerOnAStrayArgument(t *testing.T) {
	t.Setenv("CITYWALL_SERVER_LISTEN", "127.0.0.1:0")
	for _, args := range [][]string{{"bogus"}, {"-config", "", "stray"}, {"serve", "stray"}, {"alerts"}, {"alerts", "bogus"},
		{"alerts", "test-webhook"}, {"alerts", "test-webhook", "a", "b"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		err := run(ctx, args)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "usage") && !strings.Contains(err.Error(), "citywall alerts test-webhook") {
			t.Errorf("%q: %v, want an error listing the subcommands", args, err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("%q ran for %v: a server started", args, time.Since(start))
		}
	}
	// -h prints the flags and starts nothing.
	if err := run(context.Background(), []string{"alerts", "test-webhook", "-h"}); err != nil && !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestAlertsTestWebhook sends the test message to a DingTalk robot that
// checks its signature, and prints what it answered; a refusal is an
// error with the robot's reason.
func TestAlertsTestWebhook(t *testing.T) {
	const secret = "SECtest0123"
	var refuse atomic.Bool
	var got atomic.Value
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.Store(string(body))
		q := r.URL.Query()
		if refuse.Load() || q.Get("sign") != webhook.DingTalkSign(secret, q.Get("timestamp")) {
			_, _ = io.WriteString(w, `{"errcode":310000,"errmsg":"sign not match"}`)
			return
		}
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer robot.Close()
	cfg := filepath.Join(t.TempDir(), "city.yaml")
	doc := fmt.Sprintf("alerts:\n  webhooks:\n    - %s/plain\n    - {name: duty-robot, kind: dingtalk, url: \"%s/robot/send?access_token=tok\", secret: %s}\n", robot.URL, robot.URL, secret)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := alertsCmd(context.Background(), []string{"test-webhook", "-config", cfg, "duty-robot"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, `HTTP 200 {"errcode":0,"errmsg":"ok"}`) || !strings.Contains(s, "delivered") || strings.Contains(s, "tok") {
		t.Errorf("output:\n%s", s)
	}
	if b, _ := got.Load().(string); !strings.Contains(b, "测试消息") {
		t.Errorf("body %s", b)
	}
	refuse.Store(true)
	out.Reset()
	err := alertsCmd(context.Background(), []string{"test-webhook", "-config", cfg, "duty-robot"}, &out)
	if err == nil || !strings.Contains(err.Error(), "310000") || !strings.Contains(out.String(), "sign not match") {
		t.Errorf("refused: %v\n%s", err, out.String())
	}
	err = alertsCmd(context.Background(), []string{"test-webhook", "-config", cfg, "nobody"}, &out)
	if err == nil || !strings.Contains(err.Error(), "all-1, duty-robot") {
		t.Errorf("unknown target: %v", err)
	}
}
