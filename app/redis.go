package app

import (
	"crypto/tls"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/config"
)

// newRedis returns the client for redis.addrs: a standalone server, a
// Sentinel-watched master (master_name) or a Cluster, by what is set.
// Nil when Redis is not configured.
func newRedis(c config.Redis) redis.UniversalClient {
	if !c.Enabled() {
		return nil
	}
	o := &redis.UniversalOptions{
		Addrs:       c.Addrs,
		MasterName:  c.MasterName,
		Username:    c.Username,
		Password:    c.Password,
		DB:          c.DB,
		DialTimeout: c.DialTimeout,
		// Reads and writes fail fast when Redis is away, so ingest can
		// answer 503 instead of hanging.
		ReadTimeout:  c.DialTimeout,
		WriteTimeout: c.DialTimeout,
	}
	if c.TLS {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return redis.NewUniversalClient(o)
}
