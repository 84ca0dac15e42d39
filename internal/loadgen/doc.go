// Package loadgen is the ICS load generator: it opens many WebSocket client
// connections against an ICS-protocol server on loopback, drives open-loop
// chat traffic through it and checks every delivery for loss, duplication
// and reordering per publisher, recording latency (receive time minus
// intended send time) in HDR histograms.
//
// Runs: RunFanout (fanout.go, one phase per method of fanoutRun), RunSweep,
// RunConnect, RunChurn (with the history recovery check of recover.go) and
// RunAbuse (one type per misbehaving-client scenario, registered in
// allScenarios). Each takes a Config of settings only and returns a Report;
// Main is the command line used by cmd/loadgen, and it alone owns what is
// not a setting: report files, the progress display, the exit status.
//
// Client I/O of the measured connections is event driven: after a blocking
// auth + upgrade handshake each socket is handed to a
// github.com/panjf2000/gnet/v2 client engine, so a few event loops serve
// every connection; incoming frames are parsed incrementally and receivers
// scan message frames for a marker instead of decoding JSON. Churn and abuse
// clients use plain blocking sockets on goroutines of their own.
//
// What it owns: client-side state only (its connections, their receive
// accounting, the report). It speaks the wire protocol (docs/PROTOCOL.md)
// and takes the protocol's vocabulary (opcodes, close codes, error codes,
// frame and command types) from internal/command rather than spelling it
// again; the admin client (internal/admin/cli) is its only other ICS
// import, to kick (kick_evasion) and to print the server's stats.
//
// What it must never do:
//   - load anything but 127.0.0.0/8 unless Config.AllowRemote is set
//     (Config.Validate refuses it; source addresses are spread over
//     127.0.0.0/8 only when every node is loopback);
//   - run without an end: every phase has a bound of its own (the connect
//     rate, Settle, the join timeouts, Duration, Drain, MaxSteps), and the
//     context passed in ends a run sooner;
//   - leave a goroutine behind: event loops stop with the run, and every
//     reader or writer a scenario or churn cycle starts ends before it
//     returns (the tests check with goleak, hiding no reader);
//   - rewrite the Config it was given: derived values (the dial targets)
//     are computed from it, not stored in it.
package loadgen
