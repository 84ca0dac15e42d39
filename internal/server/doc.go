// Package server assembles one ICS server: config → token issuer → shards →
// event loops (wsio) → the plain HTTP routes (/auth, /, /healthz, /readyz,
// /metrics). It owns the process-level lifecycle: Start, Drain, Stop.
//
// It must never touch room or connection state itself: it only wires the
// packages that own them and serves the declared counters (internal/metric) on /metrics.
package server
