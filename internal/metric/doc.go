// Package metric declares every counter and gauge the server exports, once:
// one table (table.go) of name, help, kind, labels and where the value is
// read. /metrics (Prometheus, through Collector) and the admin API's
// GetStats (through Read) are both fed from that table, so the two cannot
// drift: a counter added here appears in both, and a counter not declared
// here appears in neither.
//
// Why a package of its own and not a registry in each owner: the values
// live in five owners (shard.Stats, wsio.LoopStats, wsio.Server,
// fanout.Loop, cluster.Stats) that must not know about Prometheus or gRPC,
// and the two consumers (internal/server for /metrics, internal/admin for
// gRPC) must not know each other's formats. This package is the one place that sees
// both sides: it imports the owners to read their atomics and nothing
// imports it but the consumers.
//
// It owns the table and nothing else: the values stay in the atomics their
// owners increment on the event loops and shards. It must never be on an
// increment path (no locks, maps or allocations added there): everything
// here runs at scrape or GetStats time, off the hot path, and only loads.
package metric
