// Package web is citywall's server: the HTTP API, the /ws hub endpoint, the
// embedded wall pages, and App, which wires the ticket store, the H3 engine,
// the hub and the demo city together and runs them until its context ends.
package web
