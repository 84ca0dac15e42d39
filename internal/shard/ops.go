package shard

import (
	"net/netip"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

type opKind uint8

const (
	opPublish opKind = iota + 1
	opJoin
	opPrepare
	opLeave
	opUnpin
	opDisconnect
	opRename
	opListUsers
	opListRooms
	opReserve
	opClaim
	opSetNick
	opRelease
	opRevoke
	opCall
	opHistory
	opRemote
)

// op is one unit of work in a shard's inbox. Hot ops (publish) use only the
// inline fields; the rest carry their arguments in x.
type op struct {
	kind  opKind
	peer  Conn
	frame []byte
	x     *args
}

type args struct {
	room, nick, old, token, jti string
	id                          []byte
	create, pinned, ensure      bool
	next                        int
	exp                         time.Time
	info                        Member
	addr                        netip.Addr
	reply                       chan error
	gather                      *gather
	fn                          func(*Shard)
	history                     historyQuery
	list                        *roomList
	watch                       command.Watch
	ev                          Event
}

// Member describes a connection to the shard that will hold it. Remote and
// Since never change, so any goroutine may read them.
type Member struct {
	Nick   string
	Remote string
	Since  time.Time
	Sent   uint64 // messages sent so far (carried across rooms)
	// WatchRooms: the connection asked listrooms with watch and gets a
	// `rooms` frame whenever the room list changes (carried across rooms).
	WatchRooms bool
}

// Publish queues a chat message from peer for its room on this shard: an
// open message (command.OpenMessage) with command.SealRoom spare capacity,
// which the shard seals with the room's next seq. The shard owns it from
// now on. It returns false when the inbox is over its limit (answer
// server_busy).
func (s *Shard) Publish(peer Conn, frame []byte) bool {
	return s.offer(op{kind: opPublish, peer: peer, frame: frame})
}

// Join adds peer to room (which must exist on this shard, like global) and
// tells it Joined. Used for the first room of a new connection.
func (s *Shard) Join(peer Conn, room string, m Member) {
	s.in.put(op{kind: opJoin, peer: peer, x: &args{room: room, info: m}})
}

// Prepare pins room on this shard for peer's coming switch (creating it when
// create is set) and answers Prepared. False means busy.
func (s *Shard) Prepare(peer Conn, room string, create bool, id []byte) bool {
	return s.offer(op{kind: opPrepare, peer: peer, x: &args{room: room, create: create, id: id}})
}

// PrepareKnown is Prepare for a cluster node: exists says whether the room
// exists on another node, in which case a switch creates it here too.
func (s *Shard) PrepareKnown(peer Conn, room string, create, exists bool, id []byte) bool {
	return s.offer(op{kind: opPrepare, peer: peer, x: &args{room: room, create: create, ensure: exists, id: id}})
}

// Leave removes peer from its room on this shard (announcing `left`), then
// hands it to shard next, where it joins the pinned room next room.
func (s *Shard) Leave(peer Conn, nextRoom string, next int, m Member) {
	s.in.put(op{kind: opLeave, peer: peer, x: &args{room: nextRoom, next: next, info: m}})
}

// Unpin drops a pin taken by Prepare whose switch will not happen.
func (s *Shard) Unpin(room string) {
	s.in.put(op{kind: opUnpin, x: &args{room: room}})
}

// Disconnect removes peer from its room on this shard, if it is there.
func (s *Shard) Disconnect(peer Conn) {
	s.in.put(op{kind: opDisconnect, peer: peer})
}

// Rename announces peer's new nickname to its room; the renamer's own copy
// carries token and id, and Renamed follows it.
func (s *Shard) Rename(peer Conn, old, nick, token string, id []byte) {
	s.in.put(op{kind: opRename, peer: peer, x: &args{old: old, nick: nick, token: token, id: id}})
}

// ListUsers replies to peer with one page of the sorted members of its
// room: at most limit names, those after after ("" = from the first).
func (s *Shard) ListUsers(peer Conn, after string, limit int, id []byte) bool {
	return s.offer(op{kind: opListUsers, peer: peer, x: &args{nick: after, next: limit, id: id}})
}

// History replies to peer with the messages of its room after since (when
// hasSince; else the latest limit), saying whether any is missing: a
// `history` frame. epoch (when hasEpoch) is the room epoch the client
// last saw. False means busy.
func (s *Shard) History(peer Conn, since uint64, hasSince bool, epoch string, hasEpoch bool, limit int, id []byte) bool {
	q := historyQuery{since: since, hasSince: hasSince, epoch: epoch, hasEpoch: hasEpoch, limit: limit}
	return s.offer(op{kind: opHistory, peer: peer, x: &args{history: q, id: id}})
}

// Claim asks the nickname's owner to bind nick to peer for token jti
// (upgrade of /ws). Answers Claimed.
func (s *Shard) Claim(peer Conn, nick, jti string, exp time.Time) {
	s.in.put(op{kind: opClaim, peer: peer, x: &args{nick: nick, jti: jti, exp: exp}})
}

// SetNick asks the owner of nick to bind it to peer (setnick). Replies
// NickSet. False means busy (answer server_busy).
func (s *Shard) SetNick(peer Conn, nick, jti string, exp time.Time) bool {
	return s.offer(op{kind: opSetNick, peer: peer, x: &args{nick: nick, jti: jti, exp: exp}})
}

// Release frees nick if peer holds it.
func (s *Shard) Release(nick string, peer Conn) {
	s.in.put(op{kind: opRelease, peer: peer, x: &args{nick: nick}})
}

// Revoke refuses token jti (which names a nickname of this shard) until exp.
func (s *Shard) Revoke(jti string, exp time.Time) {
	s.in.put(op{kind: opRevoke, x: &args{jti: jti, exp: exp}})
}

// offer queues a client op unless the inbox is over its limit, counting
// refusals (the caller answers server_busy).
func (s *Shard) offer(o op) bool {
	if s.in.tryPut(o, s.g.opts.InboxLimit) {
		return true
	}
	s.stats.Busy.Add(1)
	return false
}

// call runs fn on the shard goroutine.
func (s *Shard) call(fn func(*Shard)) {
	s.in.put(op{kind: opCall, x: &args{fn: fn}})
}

func (s *Shard) handle(o *op) {
	s.stats.Commands.Add(1)
	switch o.kind {
	case opPublish:
		s.publish(o.peer, o.frame)
	case opJoin:
		s.join(o.peer, o.x.room, o.x.info, o.x.pinned)
	case opPrepare:
		s.prepare(o.peer, o.x)
	case opLeave:
		s.leave(o.peer, o.x)
	case opUnpin:
		if r := s.rooms[o.x.room]; r != nil {
			r.pins--
			s.roomsChanged() // an empty pinned room is listed again
			s.maybeDelete(r)
		}
	case opDisconnect:
		if m := s.members[o.peer]; m != nil {
			s.remove(m)
		}
	case opRename:
		s.rename(o.peer, o.x)
	case opListUsers:
		s.listUsers(o.peer, o.x.nick, o.x.next, o.x.id)
	case opListRooms:
		if o.x.list != nil {
			s.setWatch(o.peer, o.x.watch)
			s.batch.Add(o.peer, command.AppendList(nil, command.FrameRooms, o.x.list.names, o.x.id))
			break
		}
		s.listRooms(o.x.gather)
	case opReserve:
		o.x.reply <- s.reserve(o.x)
	case opClaim:
		s.claim(o.peer, o.x)
	case opSetNick:
		s.setNick(o.peer, o.x)
	case opRelease:
		s.release(o.x.nick, o.peer)
	case opRevoke:
		s.revoke(o.x.jti, o.x.exp)
	case opCall:
		o.x.fn(s)
	case opHistory:
		s.answerHistory(o.peer, &o.x.history, o.x.id)
	case opRemote:
		s.remote(o.x.room, &o.x.ev)
	}
}
