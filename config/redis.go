package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Redis joins several citywall instances: durable ingest, hub fan-out
// across instances, one leader for singleton work and shared state. With
// no addrs the instance runs alone on memory and a state file.
type Redis struct {
	// Addrs are host:port of the servers: one for a standalone server, the
	// Sentinels' with master_name, or several Cluster nodes.
	Addrs       []string      `yaml:"addrs"`
	MasterName  string        `yaml:"master_name"` // Sentinel: the monitored master's name
	Username    string        `yaml:"username"`
	Password    string        `yaml:"password"` // never logged
	DB          int           `yaml:"db"`       // standalone and Sentinel only
	TLS         bool          `yaml:"tls"`
	Prefix      string        `yaml:"prefix"`    // key prefix, so centres can share a server
	Retention   time.Duration `yaml:"retention"` // how far back the ingest stream is kept (and replayed at start)
	LeaseTTL    time.Duration `yaml:"lease_ttl"` // the leader's lease; another instance takes over within it
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// AdvertiseURL is where the other instances reach this one to read
	// the cameras it owns (http://10.0.0.5:8080); empty: the listen
	// address, with this host's name when it listens on every interface.
	AdvertiseURL string `yaml:"advertise_url"`
}

// Enabled says whether Redis is configured.
func (r Redis) Enabled() bool { return len(r.Addrs) > 0 }

func defaultRedis() Redis {
	return Redis{
		Prefix:      "citywall",
		Retention:   48 * time.Hour,
		LeaseTTL:    6 * time.Second,
		DialTimeout: 2 * time.Second,
	}
}

func (c *Config) validateRedis(bad func(key string, value any, format string, args ...any)) {
	r := c.Redis
	for i, a := range r.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			bad(fmt.Sprintf("redis.addrs[%d]", i), quote(a), "must be host:port")
		}
	}
	if !r.Enabled() {
		return
	}
	if r.DB < 0 || r.DB > 15 {
		bad("redis.db", r.DB, "must be in 0..15")
	}
	if r.Prefix == "" || strings.ContainsAny(r.Prefix, " {}") {
		bad("redis.prefix", quote(r.Prefix), "must be non-empty, without spaces or braces")
	}
	if r.Retention < time.Hour {
		bad("redis.retention", r.Retention, "must be at least 1h")
	}
	if r.LeaseTTL < time.Second || r.LeaseTTL > 9*time.Second {
		// A crashed leader is replaced within lease_ttl + 0.25 s.
		bad("redis.lease_ttl", r.LeaseTTL, "must be in 1s..9s (failover must finish within 10 s)")
	}
	if a := r.AdvertiseURL; a != "" {
		if u, err := url.Parse(a); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			bad("redis.advertise_url", quote(a), "must be an http(s) URL with a host, such as http://10.0.0.5:8080")
		}
	}
	if r.DialTimeout <= 0 {
		bad("redis.dial_timeout", r.DialTimeout, "must be positive")
	}
}
