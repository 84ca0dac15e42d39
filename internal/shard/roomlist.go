package shard

import (
	"context"
	"slices"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// The room list is pushed to the connections that asked for it (listrooms
// with watch): a `rooms` frame, like listrooms' reply without an id,
// whenever the list differs from the last one pushed, at most once per
// Options.RoomsPushInterval. Shards only bump their room version
// (roomsChanged, one atomic add); one goroutine per Group gathers and pushes, so a storm of
// room creations costs every watcher at most one frame per interval and
// costs the shards one list and one pass over their members per interval.
// Clustered, the list is the cluster's: the pusher tells the other nodes
// when its rooms change and asks them for theirs (Directory) when they
// say theirs did.

// Directory is the cluster's side of the room-list push. Only the pusher
// goroutine calls it (never a shard), so OtherRooms may wait on the network
// until ctx ends.
type Directory interface {
	// OtherRooms lists the rooms of the other nodes (those that answered
	// before ctx ended).
	OtherRooms(ctx context.Context) []string
	// LocalRoomsChanged tells the other nodes this node's listed rooms
	// changed; it must not block.
	LocalRoomsChanged()
}

// OtherRoomsChanged says another node's listed rooms changed (or a node
// came or went): watchers get the new list at the next push.
func (g *Group) OtherRoomsChanged() { g.otherRoomsVer.Add(1) }

// otherRoomsWait bounds how long one push waits for the other nodes.
const otherRoomsWait = time.Second

// visibleRooms are the names of this shard's listed rooms (unsorted).
func (s *Shard) visibleRooms() []string {
	names := make([]string, 0, len(s.rooms))
	for _, r := range s.rooms {
		if r.visible() {
			names = append(names, r.name)
		}
	}
	return names
}

// pushRooms runs until ctx ends, pushing a changed room list to watchers at
// most once per interval.
func (g *Group) pushRooms(ctx context.Context) {
	t := time.NewTicker(g.opts.RoomsPushInterval)
	defer t.Stop()
	var last []string
	var lastVer, lastOther uint64
	dir := g.opts.Directory
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, ov := g.roomsVersion(), g.otherRoomsVer.Load()
		if v == lastVer && ov == lastOther {
			continue
		}
		if v != lastVer && dir != nil {
			dir.LocalRoomsChanged()
		}
		lastVer, lastOther = v, ov
		parts, err := onShards(ctx, g, (*Shard).visibleRooms)
		if err != nil {
			return
		}
		all := slices.Concat(parts...)
		if dir != nil {
			octx, cancel := context.WithTimeout(ctx, otherRoomsWait)
			all = append(all, dir.OtherRooms(octx)...)
			cancel()
		}
		slices.Sort(all)
		all = slices.Compact(all) // a room with members on several nodes
		if slices.Equal(all, last) {
			continue
		}
		last = all
		frame := command.AppendList(nil, command.FrameRooms, all, nil)
		for _, s := range g.shards {
			s.call(func(s *Shard) { s.pushTo(frame) })
		}
	}
}

// pushTo queues frame for every watcher that is a member here.
func (s *Shard) pushTo(frame []byte) {
	n := uint64(0)
	for _, m := range s.members {
		if m.WatchRooms {
			s.batch.AddAt(m.loop, m.peer, frame)
			n++
		}
	}
	s.stats.Deliveries.Add(n)
	s.stats.BytesOut.Add(n * uint64(len(frame)))
}
