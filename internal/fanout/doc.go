// Package fanout carries frames from shards to sockets. A shard appends one
// Delivery per recipient, or one per loop for a whole Group (a room's members
// on that loop, expanded by the loop), to a per-event-loop Batch; at the end
// of its batch it hands each loop its deliveries with one Loop.Push. A Loop keeps at most one
// task pending on its event loop; that task groups the queued frames by peer
// and asks each dirty peer to write them at once: one write per connection per batch,
// not one per frame. The coalescing window between tasks adapts to how busy
// the loop is (Loop.SetAdaptiveLinger).
//
// Frames are shared, never copied: every recipient of a broadcast holds the
// same []byte, which nobody may modify after it is pushed.
//
// The Loop owns only its queue (guarded by a mutex held for an append or a
// swap, never while writing). It must never block a shard: Push only appends
// and schedules. Peers are touched only on their own event loop.
package fanout
