// Package web is citywall's HTTP side and only that: the API handlers,
// authentication (bearer tokens and session cookies), the pages and their
// embedded static files, the /ws hub endpoint and the /ws/video camera
// endpoint. It receives every part it serves from in one Deps struct,
// built by package app; it starts no background work of its own.
//
// Ingest handlers validate a request, build an ingest.Batch and submit it
// to the pipeline; whether the instance runs alone or shares Redis is not
// their concern. ResolveTopic and the Topic constants are the hub
// protocol's topic names (docs/protocol.md).
package web
