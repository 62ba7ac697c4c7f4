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
		c.Alerts.Teams = []AlertTeam{{ID: "longhua", Name: "龙华区应急队", Members: []TeamMember{{Name: "team-1"}}, Districts: []string{"龙华区"}}}
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
		{"hot-issue target", "alerts.hot_issue_false_alarms_per_week", func(c *Config) { c.Alerts.HotIssueFalseAlarmsPerWeek = -1 }},
		{"escalate after", "alerts.escalate_after", func(c *Config) { c.Alerts.EscalateAfter = time.Second }},
		{"unknown member", "alerts.teams[0].members[0]", func(c *Config) { c.Alerts.Teams[0].Members = []TeamMember{{Name: "nobody"}} }},
		{"member without the role", "alerts.teams[0].members[0]", func(c *Config) { c.Alerts.Teams[0].Members = []TeamMember{{Name: "wall-1"}} }},
		{"team id", "alerts.teams[0].id", func(c *Config) { c.Alerts.Teams[0].ID = "Long Hua" }},
		{"bad cell", "alerts.teams[0].cells[0]", func(c *Config) { c.Alerts.Teams[0].Cells = []string{"nope"} }},
		{"bad source", "alerts.teams[0].sources[0]", func(c *Config) { c.Alerts.Teams[0].Sources = []string{"rumour"} }},
		{"escalate to nobody", "alerts.escalate_to[0]", func(c *Config) { c.Alerts.EscalateTo = []string{"duty"} }},
		{"webhook", "alerts.webhooks[0].url", func(c *Config) { c.Alerts.Webhooks = []Webhook{{URL: "ftp://robot.example/send?key=s3cret"}} }},
		{"webhook kind", "alerts.webhooks[0].kind", func(c *Config) {
			c.Alerts.Webhooks = []Webhook{{URL: "https://robot.example/send", Kind: "slack", Secret: "s3cret"}}
		}},
		{"wecom is not signed", "alerts.webhooks[0].secret", func(c *Config) {
			c.Alerts.Webhooks = []Webhook{{URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", Kind: WebhookWeCom, Secret: "s3cret"}}
		}},
		{"webhook names twice", "alerts.teams[0].webhooks[0].name", func(c *Config) {
			c.Alerts.Webhooks = []Webhook{{URL: "https://a.example/", Name: "robot", Secret: "s3cret"}}
			c.Alerts.Teams[0].Webhooks = []Webhook{{URL: "https://b.example/", Name: "robot"}}
		}},
		{"per minute", "alerts.webhooks[0].per_minute", func(c *Config) {
			c.Alerts.Webhooks = []Webhook{{URL: "https://a.example/", PerMinute: -20}}
		}},
		{"default name taken", "alerts.webhooks[1].name", func(c *Config) {
			c.Alerts.Webhooks = []Webhook{{URL: "https://a.example/"}, {URL: "https://b.example/", Name: "all-1"}}
		}},
		{"mobile", "alerts.teams[0].members[0].mobile", func(c *Config) { c.Alerts.Teams[0].Members[0].Mobile = "138-0000" }},
		{"user id", "alerts.teams[0].members[0].user_id", func(c *Config) { c.Alerts.Teams[0].Members[0].UserID = `ou_1"><at user_id="all` }},
		{"public url", "server.public_url", func(c *Config) { c.Server.PublicURL = "wall.example.gov.cn" }},
		{"public url query", "server.public_url", func(c *Config) { c.Server.PublicURL = "https://wall.example.gov.cn/?x=s3cret" }},
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

// TestWebhooksAndMembersInYAML reads both forms of a webhook and of a team
// member; an unknown key inside the mapping form is an error like anywhere
// else in the file.
func TestWebhooksAndMembersInYAML(t *testing.T) {
	const doc = `
auth:
  tokens:
    - {name: team-1, token: team-token-0123456789, roles: [team]}
    - {name: team-2, token: team-token-9876543210, roles: [team]}
server:
  public_url: https://wall.example.gov.cn/citywall
alerts:
  webhooks:
    - https://robot.example/plain?key=k
    - {url: "https://oapi.dingtalk.com/robot/send?access_token=t", kind: dingtalk, secret: SECabc, name: duty-robot, per_minute: 10}
  teams:
    - id: longhua
      name: 龙华区应急队
      members: [team-1, {name: team-2, mobile: "+8613800000000", user_id: ou_abc}]
      webhooks: [{url: "https://open.feishu.cn/open-apis/bot/v2/hook/x", kind: feishu, secret: s}]
`
	c := Default()
	if err := Decode(strings.NewReader(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got := c.Alerts.WebhookTargets()
	want := []struct{ name, kind string }{{"all-1", ""}, {"duty-robot", WebhookDingTalk}, {"longhua-1", WebhookFeishu}}
	if len(got) != len(want) {
		t.Fatalf("targets %+v", got)
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Kind != w.kind {
			t.Errorf("target %d: %+v, want %+v", i, got[i], w)
		}
	}
	if got[2].Teams[0] != "longhua" || got[1].Secret != "SECabc" || got[1].PerMinute != 10 || got[2].PerMinute != 0 {
		t.Errorf("targets %+v", got)
	}
	m := c.Alerts.Teams[0].Members
	if m[0] != (TeamMember{Name: "team-1"}) || m[1] != (TeamMember{Name: "team-2", Mobile: "+8613800000000", UserID: "ou_abc"}) {
		t.Errorf("members %+v", m)
	}
	for _, bad := range []string{
		"alerts:\n  webhooks: [{url: \"https://a.example/\", secrte: x}]\n",
		"alerts:\n  teams: [{id: a, name: A, members: [{name: team-1, phone: \"1380\"}]}]\n",
	} {
		c := Default()
		if err := Decode(strings.NewReader(bad), &c); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("%q: %v, want an unknown field named", bad, err)
		}
	}
}

// TestWebhookSecretNotInEnvErrors: an override that does not parse shows
// no robot key or secret.
func TestWebhookSecretNotInEnvErrors(t *testing.T) {
	c := Default()
	err := ApplyEnv(&c, []string{"CITYWALL_ALERTS_WEBHOOKS=[{url: https://a.example/?key=s3cret, secret: s3cret"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("%v", err)
	}
}
