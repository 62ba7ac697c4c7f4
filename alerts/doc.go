// Package alerts is citywall's alerting: the alert lifecycle and who is
// told. Sources fire and clear conditions by fingerprint (Manager.Fire,
// Manager.Clear): space-time clusters of tickets (ClusterSource, over the
// scan of package alerts/scan), tickets dispatched but not responded to
// within 30 minutes (SLA), and, wired from outside, cameras offline and
// feed thresholds. The Manager deduplicates by fingerprint, takes alerts
// from firing to acknowledged to resolved, mutes them under silences,
// escalates those unacknowledged past the 30-minute rule and re-notifies,
// and saves its state to a Store after every change so that open alerts
// and their deadlines survive a restart. Notifiers deliver: the hub's
// alert topics (published by package app), webhooks (alerts/webhook) and the wall's
// camera linkage (WallLink, to a WallPusher).
package alerts
