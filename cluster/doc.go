// Package cluster holds what several citywall instances sharing one Redis
// need besides the stores: the leader lease (cluster/lease) and a
// redis-server for tests (cluster/redistest).
package cluster
