package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/config"
)

const alertsUsage = `usage: citywall alerts test-webhook [-config FILE] TARGET

  test-webhook   send a test message to the webhook named TARGET in the
                 configuration (alerts.webhooks, alerts.teams[].webhooks;
                 unnamed ones are all-N and TEAM-N) and print its answer
`

// alertsCmd runs `citywall alerts …`.
func alertsCmd(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "test-webhook" {
		if len(args) > 0 && isHelp(args[0]) {
			fmt.Fprint(out, alertsUsage)
			return nil
		}
		return fmt.Errorf("alerts: want a subcommand\n%s", alertsUsage)
	}
	fs := flag.NewFlagSet("citywall alerts test-webhook", flag.ContinueOnError)
	fs.SetOutput(out)
	path := fs.String("config", "", "YAML configuration file with the webhook")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	fs.Usage = func() { fmt.Fprint(out, alertsUsage+"\nflags:\n"); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("alerts test-webhook: want one TARGET, got %d arguments\n%s", fs.NArg(), alertsUsage)
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	var names []string
	for _, w := range cfg.Alerts.WebhookTargets() {
		names = append(names, w.Name)
		if w.Name != name {
			continue
		}
		t := webhook.Target{Name: w.Name, URL: w.URL, Kind: w.Kind, Secret: w.Secret, Teams: w.Teams, PerMinute: w.PerMinute}
		s := webhook.New([]webhook.Target{t}, webhook.Options{Client: newHTTPClient(*timeout)})
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		kind := w.Kind
		if kind == "" {
			kind = webhook.KindGeneric
		}
		fmt.Fprintf(out, "target %s: %s, %s\n", w.Name, kind, hostOf(w.URL))
		a, err := s.Try(ctx, t, testNote(t.Teams))
		if a.Status != 0 {
			fmt.Fprintf(out, "answer: HTTP %d %s\n", a.Status, strings.TrimSpace(a.Body))
		}
		if err != nil {
			return fmt.Errorf("test message to %s not delivered: %w", w.Name, err)
		}
		fmt.Fprintln(out, "delivered")
		return nil
	}
	if len(names) == 0 {
		return fmt.Errorf("alerts test-webhook: no webhooks configured (give -config FILE, or set CITYWALL_ALERTS_WEBHOOKS)")
	}
	return fmt.Errorf("alerts test-webhook: no webhook named %q; the configured ones: %s", name, strings.Join(names, ", "))
}

// testNote is the test message: a firing alert that says it is a test.
func testNote(teams []string) alerts.Notification {
	now := time.Now()
	a := alerts.Alert{ID: "test", State: alerts.StateFiring, Teams: teams, StartsAt: now, UpdatedAt: now,
		Signal: alerts.Signal{Source: "test", Kind: "test", Fingerprint: "test", Severity: alerts.SeverityInfo,
			Title: "测试消息：citywall 告警推送已接通", TitleEn: "Test message: citywall alerts reach this robot",
			Detail: "这是一条测试消息，无需处置。This is a test; nothing to do."}}
	return alerts.Notification{Event: alerts.EventFiring, Alert: a, Teams: teams, Time: now}
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" || s == "help" }

func newHTTPClient(timeout time.Duration) *http.Client { return &http.Client{Timeout: timeout} }

// hostOf shows where a webhook goes without its key.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Scheme + "://" + u.Host
	}
	return "?"
}
