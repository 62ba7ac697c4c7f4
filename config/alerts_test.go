package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateAlerts(t *testing.T) {
	base := func() Config {
		c := Default()
		c.Auth.Tokens = []Token{
			{Name: "team-1", Token: "team-token-0123456789", Roles: []Role{RoleTeam}},
			{Name: "wall-1", Token: "wall-token-0123456789", Roles: []Role{RoleWall}},
		}
		c.Alerts.Teams = []AlertTeam{{ID: "longhua", Name: "龙华区应急队", Members: []string{"team-1"}, Districts: []string{"龙华区"}}}
		c.Alerts.EscalateTo = []string{"longhua"}
		return c
	}
	if err := func() error { c := base(); return c.Validate() }(); err != nil {
		t.Fatalf("valid alerts section: %v", err)
	}
	for _, tc := range []struct {
		name, key string
		edit      func(*Config)
	}{
		{"resolution", "alerts.resolution", func(c *Config) { c.Alerts.Resolution = 12 }},
		{"windows order", "alerts.windows[1]", func(c *Config) { c.Alerts.Windows = []time.Duration{time.Hour, 30 * time.Minute} }},
		{"min count", "alerts.min_count", func(c *Config) { c.Alerts.MinCount = 1 }},
		{"target", "alerts.false_alarms_per_week", func(c *Config) { c.Alerts.FalseAlarmsPerWeek = 0 }},
		{"escalate after", "alerts.escalate_after", func(c *Config) { c.Alerts.EscalateAfter = time.Second }},
		{"unknown member", "alerts.teams[0].members[0]", func(c *Config) { c.Alerts.Teams[0].Members = []string{"nobody"} }},
		{"member without the role", "alerts.teams[0].members[0]", func(c *Config) { c.Alerts.Teams[0].Members = []string{"wall-1"} }},
		{"team id", "alerts.teams[0].id", func(c *Config) { c.Alerts.Teams[0].ID = "Long Hua" }},
		{"bad cell", "alerts.teams[0].cells[0]", func(c *Config) { c.Alerts.Teams[0].Cells = []string{"nope"} }},
		{"bad source", "alerts.teams[0].sources[0]", func(c *Config) { c.Alerts.Teams[0].Sources = []string{"rumour"} }},
		{"escalate to nobody", "alerts.escalate_to[0]", func(c *Config) { c.Alerts.EscalateTo = []string{"duty"} }},
		{"webhook", "alerts.webhooks[0]", func(c *Config) { c.Alerts.Webhooks = []string{"ftp://robot.example/send?key=s3cret"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			err := c.Validate()
			var ce *Error
			found := false
			for _, e := range unjoin(err) {
				if errors.As(e, &ce) && ce.Key == tc.key {
					found = true
				}
			}
			if !found {
				t.Fatalf("want an error on %s, got %v", tc.key, err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows a webhook's key: %v", err)
			}
		})
	}
}
