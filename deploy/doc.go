// Package deploy holds what an operator installs beside the citywall binary:
// the systemd unit (citywall.service, citywall.sysusers), the Prometheus
// alert rules (prometheus/) and the Grafana dashboard (grafana/). It has no
// code; its tests check each file with the tool that will read it
// (systemd-analyze, promtool, a real Prometheus scraping a real citywall).
package deploy
