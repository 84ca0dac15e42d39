// Package wsio owns the sockets. It runs gnet event loops that parse HTTP/1.1
// requests on the raw connection, upgrade /ws with gobwas/ws, decode
// WebSocket frames in place, decode commands and hand them to the owning
// shard, and write what the shards fan out (internal/fanout) with one write
// per connection per batch. Every other HTTP request is served by a standard
// net/http Handler on its own goroutine, off the event loop.
//
// Sockets are admitted on gnet's acceptor (a hook of the patched gnet in
// third_party/gnet), before any event loop sees them: a socket budget below
// RLIMIT_NOFILE and a per-address cap, refused with a short 503.
//
// Each connection's state belongs to its event loop: only that loop reads or
// writes it (OnTraffic, OnClose, fanout tasks and the periodic sweep all run
// there). A conn holds the socket's I/O state; its session (session.go)
// holds the protocol state — nickname, room, tokens, the one operation in
// flight and the commands queued behind it — with one phase. A conn is a
// shard.Conn: the shards' answers and orders (Claimed, Prepared, Joined,
// NickSet, Renamed, Moved, Replaced, Kicked) are method calls on it, delivered by
// fanout in order with its frames; answers.go maps their domain errors to
// HTTP statuses, error codes and close codes.
//
// Code in this package must never block an event loop: no waiting on a
// shard (shard calls only queue), no blocking I/O, no locks held across
// writes, no signing (setnick tokens are signed by the signer, off the
// loop, and come back as an event). Bytes from gnet's Peek are borrowed;
// anything a shard keeps is copied first.
package wsio
