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
	var lastVer uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v := g.roomsVersion()
		if v == lastVer {
			continue
		}
		lastVer = v
		parts, err := onShards(ctx, g, (*Shard).visibleRooms)
		if err != nil {
			return
		}
		all := slices.Concat(parts...)
		slices.Sort(all)
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
