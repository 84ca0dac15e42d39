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
// Besides frames, a peer can be sent an Event (Batch.Event): a typed value
// that carries its recipient and calls it (Deliver) on the peer's loop after
// every frame queued for it before the event has been written. fanout never
// looks inside an event. A frame dropped because the loop's queue is full
// (SetMaxQueue) reaches its peer as one Overflowed call instead.
//
// The Loop owns only its queue (guarded by a mutex held for an append or a
// swap, never while writing). It must never block a shard: Push only appends
// and schedules. Peers are touched only on their own event loop.
package fanout
