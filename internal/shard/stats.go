package shard

import "sync/atomic"

// Stats are one shard's counters. The shard goroutine writes them; anyone
// may read them without a lock.
type Stats struct {
	Commands    atomic.Uint64 // ops handled
	MessagesIn  atomic.Uint64 // chat messages published
	Deliveries  atomic.Uint64 // frames queued for connections
	BytesOut    atomic.Uint64 // bytes of those frames
	Errors      atomic.Uint64 // commands answered with an error
	Busy        atomic.Uint64 // client ops refused because the inbox was full
	Rooms       atomic.Int64  // rooms owned now
	Members     atomic.Int64  // connections in those rooms now
	Nicknames   atomic.Int64  // nicknames held or reserved now
	InboxHigh   atomic.Int64  // highest inbox depth seen in one pass
	InboxPasses atomic.Uint64 // inbox passes

	HistoryBytes      atomic.Int64  // bytes of message frames kept for history now
	HistoryEvictSize  atomic.Uint64 // frames dropped: room over -history-size
	HistoryEvictAge   atomic.Uint64 // frames dropped: older than -history-ttl
	HistoryEvictBytes atomic.Uint64 // frames dropped: shard over its -history-max-bytes share

	RemoteIn   atomic.Uint64 // chat messages received from other nodes
	RemoteGaps atomic.Uint64 // times a room found it missed another node's events
}

func (s *Stats) observeDepth(n int) {
	s.InboxPasses.Add(1)
	if int64(n) > s.InboxHigh.Load() {
		s.InboxHigh.Store(int64(n))
	}
}
