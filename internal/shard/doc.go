// Package shard owns the rooms and the nicknames. A Group runs N Shard
// goroutines; a room belongs to the shard its name hashes to, and so does a
// nickname (by its case-folded form: nicknames are unique regardless of
// case). Only that goroutine reads or writes the room's members or the
// nickname's holder: there is no mutex on room or nickname state. The one
// exception is the count of unused /auth claims per client address, which
// spans shards (claimCounts, a small locked map touched only by claims). Everything
// else (event loops, the HTTP /auth handler, the admin API, other shards)
// talks to a shard by queueing an op in its inbox.
//
// The room's shard also owns its history (history.go): it numbers every
// message (seq), names the room's history line (epoch) and keeps the recent
// message frames, within per-room, age and per-shard byte bounds, to answer
// `history`.
//
// A shard drains its whole inbox in one pass and fans out what the pass
// produced with one fanout.Batch flush: one push per event loop per pass.
//
// A connection is a Conn (events.go): a fanout.Peer plus one method per
// event a shard sends it (Claimed, Prepared, Joined, NickSet, Renamed,
// Moved, Replaced, Kicked). Outcomes are domain errors (ErrNicknameTaken,
// ErrTokenRevoked, ErrRoomExists, ErrRoomNotFound), never HTTP statuses,
// error codes or close codes: the connection's package maps them.
//
// A shard must never block: it does no I/O, never waits on another shard
// (shard-to-shard ops are queued without limit, so two busy shards cannot
// deadlock), and replies to connections only through fanout events, which
// keep their order with the frames around them.
package shard
