package main

import (
	"flag"
	"fmt"
	"net/http"
	"time"
)

// healthCmd asks a citywall's /healthz, for container health checks in an
// image without curl: exit 0 when it answers 200.
func healthCmd(args []string) error {
	fs := flag.NewFlagSet("citywall health", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "host:port of the instance")
	path := fs.String("path", "/healthz", "/healthz (alive) or /readyz (ready for traffic)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + *addr + *path)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s%s answered %s", *addr, *path, resp.Status)
	}
	return nil
}
