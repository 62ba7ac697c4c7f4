package app

import (
	"log/slog"
	"net"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/internal/connlimit"
)

// fdReserve is the open files kept back from HTTP connections: the stores,
// cameras being relayed or checked, Redis, ffmpeg pipes.
const fdReserve = 256

// connLimits are the connection caps in force: the configured ones, lowered
// to three quarters of the open-file limit (nofile; 0 when unknown) when
// that leaves fewer than fdReserve files for the rest. Lowered says so.
func connLimits(c config.Server, nofile uint64) (o connlimit.Options, lowered bool) {
	o = connlimit.Options{Max: c.MaxConnections, MaxUnauthenticated: c.MaxUnauthenticatedConnections,
		MaxUnauthenticatedPerAddress: c.MaxUnauthenticatedPerAddress}
	if nofile > 0 && uint64(o.Max)+fdReserve > nofile {
		o.Max, lowered = max(int(nofile*3/4), 2), true
	}
	if o.MaxUnauthenticated > o.Max/2 && lowered {
		o.MaxUnauthenticated = max(o.Max/2, 1)
	}
	o.MaxUnauthenticatedPerAddress = min(o.MaxUnauthenticatedPerAddress, o.MaxUnauthenticated)
	return o, lowered
}

// openFileLimit is the process's limit on open files; 0 when unknown.
func openFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}

// limitConns wraps the listener with the connection caps of c.
func limitConns(ln net.Listener, c config.Server, reg prometheus.Registerer, log *slog.Logger) *connlimit.Listener {
	o, lowered := connLimits(c, openFileLimit())
	if lowered {
		log.Warn("connection caps lowered to fit the open-file limit (raise it with LimitNOFILE= or ulimit -n)",
			"server.max_connections", o.Max, "server.max_unauthenticated_connections", o.MaxUnauthenticated,
			"open_file_limit", openFileLimit())
	}
	return connlimit.New(ln, o, reg)
}
