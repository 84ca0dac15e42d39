// Package admin serves the gRPC admin API (proto/ics/admin/v1) of one ICS
// server: stats, room and user listings, kick, broadcast, room creation and
// deletion, and drain, next to the standard grpc.health.v1 health service
// and server reflection (so grpcurl works without the .proto).
//
// It owns the admin listener, the gRPC server and its goroutines, the health
// status it reports (SERVING until a drain begins, by this API or by
// SIGTERM), and the optional bearer-token check (every RPC but health).
//
// It must never touch room, member or nickname state itself: every read and
// change goes through the shard goroutines (shard.Group's admin methods,
// which queue work on the owning shard and wait for the answer with the
// RPC's context), and connections are only ever closed or moved by their own
// event loop, on the shard's order. It only reads counters that are atomics.
// It must never declare a counter of its own: GetStats' metrics list is read
// from internal/metric's table, the one /metrics serves.
// It must never serve on a non-loopback address without a token unless told
// to (-admin-insecure).
//
// Subpackage cli is the `server admin ...` command-line client.
package admin
