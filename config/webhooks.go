package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Webhook kinds: the body and signature each receiver expects.
const (
	WebhookGeneric  = "generic"  // citywall's JSON; with a secret, an X-Citywall-Signature HMAC header
	WebhookWeCom    = "wecom"    // WeCom (企业微信) group robot: markdown
	WebhookDingTalk = "dingtalk" // DingTalk (钉钉) custom robot: markdown, signed in the query (加签)
	WebhookFeishu   = "feishu"   // Feishu / Lark (飞书) custom bot: text, signed in the body
)

// WebhookKinds lists the kinds in the order the documentation gives them.
var WebhookKinds = []string{WebhookWeCom, WebhookDingTalk, WebhookFeishu, WebhookGeneric}

// Webhook is one outbound webhook. In the file it is either a URL alone
// (kind generic, unsigned: the shape of earlier releases) or a mapping.
type Webhook struct {
	Name   string `yaml:"name"`   // metrics, dead letters and `citywall alerts test-webhook NAME`; default all-N or TEAM-N
	URL    string `yaml:"url"`    // http(s); robot URLs carry their key in the query
	Kind   string `yaml:"kind"`   // wecom, dingtalk, feishu or generic (default)
	Secret string `yaml:"secret"` // signature secret (dingtalk 加签, feishu 签名校验, generic HMAC key); never shown
	// PerMinute is the most messages a minute the receiver takes: 0 its
	// kind's (wecom and dingtalk 20, feishu 100), -1 no limit.
	PerMinute int `yaml:"per_minute"`
}

// UnmarshalYAML takes a URL alone or a mapping with only known keys.
func (w *Webhook) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*w = Webhook{}
		return n.Decode(&w.URL)
	}
	type plain Webhook
	return decodeKnown(n, (*plain)(w))
}

// TeamMember is one member of an emergency team: a token name, and how
// chat robots @-mention the person. In the file it is either the token
// name alone or a mapping.
type TeamMember struct {
	Name   string `yaml:"name"`    // token name (auth.tokens)
	Mobile string `yaml:"mobile"`  // mentioned by DingTalk and WeCom robots
	UserID string `yaml:"user_id"` // the chat platform's own id: WeCom userid, DingTalk userId, Feishu open_id / user_id
}

// UnmarshalYAML takes a token name alone or a mapping with only known keys.
func (m *TeamMember) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*m = TeamMember{}
		return n.Decode(&m.Name)
	}
	type plain TeamMember
	return decodeKnown(n, (*plain)(m))
}

// Names returns the members' token names.
func Names(members []TeamMember) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.Name
	}
	return out
}

// decodeKnown decodes a mapping into v (a pointer to a struct), refusing
// keys v has no field for, as the file's decoder does: a Node's own Decode
// does not carry KnownFields.
func decodeKnown(n *yaml.Node, v any) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a string or a mapping", n.Line)
	}
	t := reflect.TypeOf(v).Elem()
	known := map[string]bool{}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		known[tag] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !known[k.Value] {
			return fmt.Errorf("line %d: field %s not found in %s", k.Line, k.Value, t.Name())
		}
	}
	return n.Decode(v)
}

// NamedWebhook is a webhook with its name settled and the teams whose
// alerts it takes (none: every alert).
type NamedWebhook struct {
	Webhook
	Teams []string
}

// WebhookTargets lists every webhook, the section's then each team's, with
// the default names filled in (all-1, all-2, …; longhua-1, …).
func (a Alerts) WebhookTargets() []NamedWebhook {
	var out []NamedWebhook
	for i, w := range a.Webhooks {
		if w.Name == "" {
			w.Name = fmt.Sprintf("all-%d", i+1)
		}
		out = append(out, NamedWebhook{Webhook: w})
	}
	for _, t := range a.Teams {
		for i, w := range t.Webhooks {
			if w.Name == "" {
				w.Name = fmt.Sprintf("%s-%d", t.ID, i+1)
			}
			out = append(out, NamedWebhook{Webhook: w, Teams: []string{t.ID}})
		}
	}
	return out
}
