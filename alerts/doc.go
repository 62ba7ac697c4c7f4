// Package alerts is citywall's alerting: space-time cluster detection over
// the H3 windows of package geo, the alert lifecycle (fingerprints,
// acknowledgement, escalation under the 30-minute rule, silences) and
// notification of emergency teams. It holds no code yet; the package is
// placed now so the module's layout is settled.
package alerts
