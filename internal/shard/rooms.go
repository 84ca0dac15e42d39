package shard

import (
	"slices"
	"sync/atomic"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
)

type room struct {
	name     string
	members  []*member
	pins     int  // switches on their way in (Prepare without Leave yet)
	deleting bool // an admin deleted it: members are moving out

	// byLoop holds the members again, grouped by event loop (index: loop
	// index), so a broadcast is one entry per loop.
	byLoop []fanout.Group
	// users answers listusers (users.go); nil until the room is listed.
	users *userList

	seq   uint64  // the last message's number (history.go)
	epoch string  // names this room's history line
	hist  history // recent message frames
	hidx  int     // position in the shard's oldest-frame heap, -1 when out
	hkey  int64   // heap key: time of the oldest frame (maybe stale, never later)

	// remote are the members on other nodes, by nickname, known while
	// this node watches the room (it has local members). Nil on a single node.
	remote map[string]remoteMember
	// Clustered: stream names this room in the events it sends (its
	// first epoch), outSeq numbers them, and heard is the last event
	// received from each other node (bridge.go).
	stream string
	outSeq uint64
	heard  map[string]heard
}

type member struct {
	peer Conn
	loop int
	room *room
	pos  int
	gpos int // position in room.byLoop[loop]
	Member
}

func (s *Shard) publish(p Conn, frame []byte) {
	m := s.members[p]
	if m == nil {
		// Not (or no longer) here: the connection left or is switching;
		// its loop holds commands while it switches, so this is a stale
		// frame from a connection that is closing. Drop it.
		return
	}
	m.Sent++
	s.stats.MessagesIn.Add(1)
	r := m.room
	r.seq++
	sealed := command.SealMessage(frame, r.seq)
	s.post(r, sealed)
	s.bridgeOut(r, Event{Kind: EvMessage, Frame: sealed})
}

// fanout queues frame for every member of r: one entry per event loop
// with members, whatever the room's size.
func (s *Shard) fanout(r *room, frame []byte) {
	for i := range r.byLoop {
		s.batch.AddGroup(i, &r.byLoop[i], frame)
	}
	n := uint64(len(r.members))
	s.stats.Deliveries.Add(n)
	s.stats.BytesOut.Add(n * uint64(len(frame)))
}

func (s *Shard) join(p Conn, name string, info Member, pinned bool) {
	r := s.rooms[name]
	if r == nil {
		// Only global is joined without a pin, and it always exists; a
		// pinned room cannot vanish. Recreate defensively.
		r = s.newRoom(name)
		s.rooms[name] = r
		s.stats.Rooms.Add(1)
	}
	if pinned {
		r.pins--
	}
	if old := s.members[p]; old != nil {
		s.remove(old)
	}
	m := &member{peer: p, loop: p.Loop().Index, room: r, pos: len(r.members), Member: info}
	joined := command.AppendMembership(nil, command.FrameJoined, r.name, m.Nick)
	if len(r.members) > 0 && s.presence1(len(r.members)+1) {
		// Everyone already here hears of the arrival (before it is added).
		s.fanout(r, joined)
	}
	r.members = append(r.members, m)
	if len(r.members) == 1 {
		s.roomsChanged() // an empty pinned room (one a switch created) becomes listed
	}
	if r.byLoop == nil {
		r.byLoop = make([]fanout.Group, len(s.g.loops))
	}
	m.gpos = r.byLoop[m.loop].Add(p)
	r.users.add(m.Nick)
	s.members[p] = m
	s.stats.Members.Add(1)
	if len(r.members) == 1 {
		s.bridgeWatch(r, true)
	}
	s.bridgeOut(r, Event{Kind: EvJoined, Nick: m.Nick, Frame: joined})
	// The member's own copy tells it where the room's history stands.
	s.batch.AddAt(m.loop, m.peer, command.AppendOwnJoined(nil, r.name, m.Nick, r.seq, r.epoch))
	s.stats.Deliveries.Add(1)
	s.batch.Event(p, joinedEv{p, r.name, s.idx})
	if r.deleting {
		s.batch.Event(p, moved{p, command.GlobalRoom})
	}
}

func (s *Shard) prepare(p Conn, a *args) {
	r := s.rooms[a.room]
	fail := func(err error) {
		s.stats.Errors.Add(1)
		s.batch.Event(p, prepared{p, a.room, a.id, err})
	}
	switch {
	case a.create && r != nil:
		fail(ErrRoomExists)
		return
	case !a.create && ((r == nil && !a.ensure) || (r != nil && r.deleting)):
		fail(ErrRoomNotFound)
		return
	case r == nil:
		r = s.newRoom(a.room)
		s.rooms[a.room] = r
		s.stats.Rooms.Add(1)
		s.roomsChanged()
	}
	r.pins++
	s.batch.Event(p, prepared{p, a.room, a.id, nil})
}

func (s *Shard) leave(p Conn, a *args) {
	info := a.info
	if m := s.members[p]; m != nil {
		info = m.Member
		s.remove(m)
	}
	// Forwarded only after this pass's frames (the `left` events) are
	// handed to the loops, so the mover and everyone else see `left`
	// before `joined`.
	s.forward(a.next, op{kind: opJoin, peer: p, x: &args{room: a.room, info: info, pinned: true}})
}

// remove takes m out of its room, tells the room (and m itself) and deletes
// the room if it is now empty and unpinned.
func (s *Shard) remove(m *member) {
	r := m.room
	last := len(r.members) - 1
	r.members[m.pos] = r.members[last]
	r.members[m.pos].pos = m.pos
	r.members[last] = nil
	r.members = r.members[:last]
	if last == 0 {
		s.roomsChanged()
	}
	if moved := r.byLoop[m.loop].Remove(m.gpos); moved != nil {
		s.members[moved].gpos = m.gpos
	}
	r.users.remove(m.Nick)
	delete(s.members, m.peer)
	s.stats.Members.Add(-1)
	f := leftFrame(r.name, m.Nick)
	if s.presence(r) {
		s.fanout(r, f)
	}
	s.bridgeOut(r, Event{Kind: EvLeft, Nick: m.Nick, Frame: f})
	if len(r.members) == 0 {
		// No longer watched: what we knew of the other nodes' members
		// goes stale from here on.
		r.remote, r.heard = nil, nil
		r.users = nil // rebuilt from the members on the next listusers
		s.bridgeWatch(r, false)
	}
	s.batch.AddAt(m.loop, m.peer, f)
	s.stats.Deliveries.Add(1)
	s.maybeDelete(r)
}

func leftFrame(room, nick string) []byte {
	return command.AppendMembership(nil, command.FrameLeft, room, nick)
}

// presence reports whether r is small enough to announce joins and leaves
// to every member.
func (s *Shard) presence(r *room) bool { return s.presence1(len(r.members)) }

// presence1 reports whether a room of n members announces joins and leaves.
func (s *Shard) presence1(n int) bool {
	limit := s.g.opts.PresenceMax
	return limit <= 0 || n <= limit
}

func (s *Shard) maybeDelete(r *room) {
	if len(r.members) == 0 && r.pins <= 0 && r.name != command.GlobalRoom {
		delete(s.rooms, r.name)
		s.stats.Rooms.Add(-1)
		s.roomsChanged()
		s.dropHistory(r)
	}
}

func (s *Shard) rename(p Conn, a *args) {
	defer s.batch.Event(p, renamed{p, a.nick}) // after the frames, even when p is not here
	m := s.members[p]
	if m == nil {
		return
	}
	m.room.users.remove(m.Nick)
	m.room.users.add(a.nick)
	m.Nick = a.nick
	r := m.room
	f := command.AppendNick(nil, a.old, a.nick, r.name, "", nil)
	s.bridgeOut(r, Event{Kind: EvNick, Nick: a.nick, Old: a.old, Frame: f})
	for _, o := range r.members {
		if o != m {
			s.batch.AddAt(o.loop, o.peer, f)
		}
	}
	own := command.AppendNick(nil, a.old, a.nick, r.name, a.token, a.id)
	s.batch.AddAt(m.loop, m.peer, own)
	s.stats.Deliveries.Add(uint64(len(r.members)))
}

// gather collects every shard's room names for one listrooms.
type gather struct {
	parts [][]string
	left  atomic.Int32
	peer  Conn
	id    []byte
	watch command.Watch
	ver   uint64   // roomsVersion when the gather began
	extra []string // rooms of other nodes (clustered; never cached)
}

// ListRooms replies to peer with every room, sorted. While no room was
// created, deleted, emptied or first joined since the last answer, the
// cached sorted list is sent by one shard (the peer's room's, through its
// inbox limit); otherwise every shard is asked and the last to answer sorts
// the union and caches it. watch subscribes peer to pushed room lists (or
// unsubscribes it); the shard that holds peer's membership records it.
// False means busy (answer server_busy).
func (g *Group) ListRooms(peer Conn, roomShard int, id []byte, watch command.Watch) bool {
	return g.ListRoomsWith(peer, roomShard, id, watch, nil)
}

// ListRoomsWith is ListRooms with the rooms of other nodes (extra) merged
// in; such an answer is neither taken from the cache nor cached.
func (g *Group) ListRoomsWith(peer Conn, roomShard int, id []byte, watch command.Watch, extra []string) bool {
	ver := g.roomsVersion()
	if c := g.roomList.Load(); extra == nil && c != nil && c.ver == ver {
		return g.shards[roomShard].offer(op{kind: opListRooms, peer: peer, x: &args{id: id, list: c, watch: watch}})
	}
	for _, s := range g.shards {
		if s.in.depth.Load() >= int64(g.opts.InboxLimit) {
			s.stats.Busy.Add(1)
			return false
		}
	}
	ga := &gather{parts: make([][]string, len(g.shards)), peer: peer, id: id, watch: watch, ver: ver, extra: extra}
	ga.left.Store(int32(len(g.shards)))
	for _, s := range g.shards {
		s.in.put(op{kind: opListRooms, x: &args{gather: ga}})
	}
	return true
}

// roomList is a sorted list of every room, valid while the shards' room
// versions add up to ver.
type roomList struct {
	ver   uint64
	names []string
}

// roomsChanged marks the shard's set of listed rooms as changed.
func (s *Shard) roomsChanged() { s.roomsVer.Add(1) }

// roomsVersion sums every shard's room version: it only grows, so a list
// gathered when it was v is current while it is still v.
func (g *Group) roomsVersion() uint64 {
	var v uint64
	for _, s := range g.shards {
		v += s.roomsVer.Load()
	}
	return v
}

// setWatch records watch (if set) on peer's membership, when it is here.
func (s *Shard) setWatch(peer Conn, watch command.Watch) {
	if m := s.members[peer]; m != nil && watch != command.WatchUnset {
		m.WatchRooms = watch == command.WatchOn
	}
}

func (s *Shard) listRooms(ga *gather) {
	s.setWatch(ga.peer, ga.watch)
	ga.parts[s.idx] = s.visibleRooms()
	if ga.left.Add(-1) != 0 {
		return
	}
	// Last shard: the atomic decrement orders every other shard's write
	// of its part before this read.
	all := slices.Clone(ga.extra)
	for _, p := range ga.parts {
		all = append(all, p...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if ga.extra == nil {
		s.g.roomList.Store(&roomList{ver: ga.ver, names: all})
	}
	s.batch.Add(ga.peer, command.AppendList(nil, command.FrameRooms, all, ga.id))
}
