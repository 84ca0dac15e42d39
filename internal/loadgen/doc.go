// Package loadgen is the ICS load generator: it opens many WebSocket client
// connections against an ICS-protocol server on loopback, drives open-loop
// chat traffic through it and checks every delivery for loss, duplication
// and reordering per publisher, recording latency (receive time minus
// intended send time) in HDR histograms.
//
// Client I/O is event driven: after a blocking auth + upgrade handshake each
// socket is handed to a github.com/panjf2000/gnet/v2 client engine, so a few
// event loops serve every connection; incoming frames are parsed
// incrementally and receivers scan message frames for a marker instead of
// decoding JSON.
//
// A churn run also checks history recovery: reconnecting clients ask
// `history` from the last seq they saw and a complete:true reply that leaves
// a message out fails the run (recover.go).
//
// Runs: RunFanout, RunSweep, RunConnect, RunChurn and RunAbuse, each owned by
// the context.Context passed in and bounded by Config.Duration. Main is the
// command-line front end used by cmd/loadgen.
//
// The package owns only client-side state. It must never load a non-loopback
// target unless Config.AllowRemote is set, never run unbounded in time, and
// never import the server packages: it speaks the wire protocol
// (docs/PROTOCOL.md) only.
package loadgen
