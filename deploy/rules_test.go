package deploy

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestPrometheusRules checks the alert rules with promtool and runs their
// unit tests (prometheus/citywall-rules.test.yml); every rule carries a
// runbook line.
func TestPrometheusRules(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "citywall-rules.yml"},
		{"test", "rules", "citywall-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	b, err := os.ReadFile("prometheus/citywall-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			n++
			if strings.TrimSpace(r.Annotations["runbook"]) == "" {
				t.Errorf("rule %s has no runbook annotation", r.Alert)
			}
		}
	}
	if n < 10 {
		t.Errorf("%d rules, want the 10 of the operator's list", n)
	}
}
