// Package cluster holds what several citywall instances sharing one Redis
// need besides the stores: the leader lease (cluster/lease), the shared
// versioned snapshot the walls and the alerts keep their state in
// (cluster/snapshot), the durable ingest log (cluster/ingestlog) and a
// redis-server for tests (cluster/redistest).
package cluster
