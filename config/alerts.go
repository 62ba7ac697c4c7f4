package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/citywall/citywall/wall"
	"github.com/uber/h3-go/v4"
)

// validateAlerts checks the alerts section.
func (c *Config) validateAlerts() []error {
	var errs []error
	bad := func(key string, value any, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Value: value, Reason: fmt.Sprintf(format, args...)})
	}
	a := c.Alerts
	if a.Resolution < 5 || a.Resolution > 10 {
		bad("alerts.resolution", a.Resolution, "must be 5..10")
	}
	if len(a.Windows) == 0 || len(a.Windows) > 4 {
		bad("alerts.windows", a.Windows, "one to four windows")
	}
	for i, w := range a.Windows {
		if w < 5*time.Minute || w > 24*time.Hour {
			bad(fmt.Sprintf("alerts.windows[%d]", i), w, "must be between 5m and 24h")
		}
		if i > 0 && w <= a.Windows[i-1] {
			bad(fmt.Sprintf("alerts.windows[%d]", i), w, "windows must be in increasing order")
		}
	}
	if a.MinCount < 2 || a.MinCount > 1000 {
		bad("alerts.min_count", a.MinCount, "must be 2..1000")
	}
	if a.Threshold < 0 {
		bad("alerts.threshold", a.Threshold, "must not be negative (0: calibrated)")
	}
	if a.FalseAlarmsPerWeek <= 0 || a.FalseAlarmsPerWeek > 100 {
		bad("alerts.false_alarms_per_week", a.FalseAlarmsPerWeek, "must be in (0, 100]")
	}
	if a.HotIssueFalseAlarmsPerWeek < 0 || a.HotIssueFalseAlarmsPerWeek > 100 {
		bad("alerts.hot_issue_false_alarms_per_week", a.HotIssueFalseAlarmsPerWeek, "must be in [0, 100] (0: no hot-issue alerts)")
	}
	if a.CalibrateWeeks < 1 || a.CalibrateWeeks > 52 {
		bad("alerts.calibrate_weeks", a.CalibrateWeeks, "must be 1..52")
	}
	if a.ScanInterval < time.Second || a.ScanInterval > 10*time.Minute {
		bad("alerts.scan_interval", a.ScanInterval, "must be between 1s and 10m")
	}
	if a.Quiet < time.Minute {
		bad("alerts.quiet", a.Quiet, "must be at least 1m")
	}
	if a.BaselineForget < 14*24*time.Hour {
		bad("alerts.baseline_forget", a.BaselineForget, "must be at least 336h (two weeks of history)")
	}
	if a.MinHistory < 0 {
		bad("alerts.min_history", a.MinHistory, "must not be negative")
	}
	if a.NearestCameras < 0 || a.NearestCameras > 16 {
		bad("alerts.nearest_cameras", a.NearestCameras, "must be 0..16")
	}
	if a.CameraMaxDistance < 0 || a.CameraMaxDistance > 20 {
		bad("alerts.camera_max_distance", a.CameraMaxDistance, "must be 0..20")
	}
	if a.EscalateAfter < time.Minute {
		bad("alerts.escalate_after", a.EscalateAfter, "must be at least 1m")
	}
	if a.Renotify < time.Minute {
		bad("alerts.renotify", a.Renotify, "must be at least 1m")
	}
	if a.SLAResponse < 0 {
		bad("alerts.sla_response", a.SLAResponse, "must not be negative (0: off)")
	}
	if a.WebhookRetries < 1 || a.WebhookRetries > 20 {
		bad("alerts.webhook_retries", a.WebhookRetries, "must be 1..20")
	}
	if a.WebhookBackoff < 10*time.Millisecond || a.WebhookBackoff > time.Hour {
		bad("alerts.webhook_backoff", a.WebhookBackoff, "must be between 10ms and 1h")
	}
	names := map[string]bool{}
	checkWebhook := func(key string, w Webhook, name string) {
		// Robot URLs carry their key in the query: the error shows the
		// scheme and host only, and never the secret.
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			shown := "<unparsable>"
			if err == nil {
				shown = u.Scheme + "://" + u.Host + "/…"
			}
			bad(key+".url", quote(shown), "must be an http(s) URL")
		}
		if w.Kind != "" && !slices.Contains(WebhookKinds, w.Kind) {
			bad(key+".kind", quote(w.Kind), "must be one of wecom, dingtalk, feishu, generic")
		}
		if w.Kind == WebhookWeCom && w.Secret != "" {
			bad(key+".secret", quote("<redacted>"), "WeCom robots are not signed: their key is in the URL; remove the secret")
		}
		if w.PerMinute < -1 || w.PerMinute > 6000 {
			bad(key+".per_minute", w.PerMinute, "must be 1..6000 messages a minute, 0 for the kind's limit (wecom and dingtalk 20, feishu 100) or -1 for none")
		}
		if len(w.Secret) > 256 {
			bad(key+".secret", quote("<redacted>"), "at most 256 bytes")
		}
		if w.Name != "" && !wall.ValidID(w.Name) {
			bad(key+".name", quote(w.Name), "must be 1..64 of a-z, 0-9, '-' and '_'")
		}
		if names[name] {
			bad(key+".name", quote(name), "two webhooks have this name (unnamed ones are all-N and TEAM-N)")
		}
		names[name] = true
	}
	targets := a.WebhookTargets()
	for i, w := range a.Webhooks {
		checkWebhook(fmt.Sprintf("alerts.webhooks[%d]", i), w, targets[i].Name)
	}
	next := len(a.Webhooks)
	for i, t := range a.Teams {
		for j, w := range t.Webhooks {
			checkWebhook(fmt.Sprintf("alerts.teams[%d].webhooks[%d]", i, j), w, targets[next].Name)
			next++
		}
	}
	tokens := map[string][]Role{}
	for _, t := range c.Auth.Tokens {
		tokens[t.Name] = t.Roles
	}
	ids := map[string]bool{}
	for i, t := range a.Teams {
		key := fmt.Sprintf("alerts.teams[%d]", i)
		if !wall.ValidID(t.ID) {
			bad(key+".id", quote(t.ID), "must be 1..64 of a-z, 0-9, '-' and '_'")
		} else if ids[t.ID] {
			bad(key+".id", quote(t.ID), "listed twice")
		}
		ids[t.ID] = true
		if t.Name == "" {
			bad(key+".name", quote(t.Name), "the team page shows it; set it")
		}
		for j, m := range t.Members {
			mkey := fmt.Sprintf("%s.members[%d]", key, j)
			roles, ok := tokens[m.Name]
			switch {
			case !ok:
				bad(mkey, quote(m.Name), "no token has this name")
			case !slices.Contains(roles, RoleTeam) && !slices.Contains(roles, RoleCommander) && !slices.Contains(roles, RoleAdmin):
				bad(mkey, quote(m.Name), "the token needs role team, commander or admin")
			}
			if m.Mobile != "" && !validMobile(m.Mobile) {
				bad(mkey+".mobile", quote(m.Mobile), "must be a phone number: 5..20 digits, an optional leading +")
			}
			if m.UserID != "" && !validUserID(m.UserID) {
				bad(mkey+".user_id", quote(m.UserID), "must be 1..128 letters, digits, '-', '_', '.' or '@'")
			}
		}
		for j, cell := range t.Cells {
			if h3.CellFromString(cell) == 0 || !h3.CellFromString(cell).IsValid() {
				bad(fmt.Sprintf("%s.cells[%d]", key, j), quote(cell), "not an H3 cell")
			}
		}
		for j, s := range t.Sources {
			if !slices.Contains([]string{"cluster", "sla", "camera", "feed", "hotissue"}, s) {
				bad(fmt.Sprintf("%s.sources[%d]", key, j), quote(s), "must be cluster, sla, camera, feed or hotissue")
			}
		}
	}
	for i, id := range a.EscalateTo {
		if !ids[id] {
			bad(fmt.Sprintf("alerts.escalate_to[%d]", i), quote(id), "no team has this id")
		}
	}
	return errs
}

func validMobile(s string) bool {
	d := strings.TrimPrefix(s, "+")
	if len(d) < 5 || len(d) > 20 {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// validUserID keeps ids to what the platforms issue, so one cannot break
// out of the mention markup (<@id>, <at user_id="id">) it is put in.
func validUserID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r)) {
			return false
		}
	}
	return true
}
