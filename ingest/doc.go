// Package ingest is citywall's one ingest pipeline: tickets, ticket events,
// sensor readings and call-centre events, from the API, the import tool and
// the demo city alike, go through a Pipeline into the ticket store, the H3
// windows, the KPIs, the feeds and the hub.
//
// Where the accepted batches are kept before they are applied is a
// Backend's business, and the only place single-instance and Redis modes
// differ: Local applies a batch at once; Redis appends it to the shared
// ingest stream and every instance applies it from there, in the stream's
// order. A backend that keeps a log on local disk fits the same interface
// (append durably, apply in order, replay at start, not ready until
// caught up). Handlers validate, build a Batch and Submit it; they never
// ask which backend runs.
package ingest
