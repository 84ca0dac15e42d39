package shard

import "github.com/ics-chat/ics/internal/command"

// This file is the shards' side of a cluster (internal/cluster). A Bridge is
// nil on a single node, and every hook below is one nil check then.

// EventKind says what a cross-node room event is.
type EventKind uint8

// The cross-node room events. Everything a node learns about a room from
// other nodes travels on that room's one subject, so it arrives in the order
// its origin node sent it.
const (
	EvMessage     EventKind = iota + 1 // a chat frame: fan out to local members
	EvJoined                           // Nick joined on Origin (Frame: the joined frame)
	EvLeft                             // Nick left on Origin (Frame: the left frame)
	EvNick                             // Old renamed to Nick on Origin (Frame: the nick frame)
	EvSnapshotReq                      // Origin started watching the room: tell it who is here
	EvSnapshot                         // Nicks are every member of the room on Origin
)

// Event is one cross-node room event.
type Event struct {
	Kind   EventKind
	Origin string // the node incarnation that sent it (set by the bridge on the way in)
	// Stream names the origin's room (its first epoch: one per room
	// created there) and Seq numbers the events it sent for that room,
	// 1, 2, 3…: a receiver that sees a number skipped knows it missed an
	// event (an outbox, NATS or inbox dropped it under load). Zero for
	// events the bridge itself sends (EvSnapshotReq).
	Stream string
	Seq    uint64
	Nick   string
	Old    string
	Nicks  []string
	Frame  []byte
}

// Bridge carries room events to the other nodes. Its methods are called on
// shard goroutines and must never block: they queue and return.
type Bridge interface {
	// Watch starts (on) or stops receiving the room's events from other
	// nodes: the shard calls it when the room gets its first local member
	// and when it loses its last.
	Watch(room string, on bool)
	// Out sends ev to every other node watching room.
	Out(room string, ev Event)
}

// Remote hands an event from another node to the shard owning room. Chat
// messages are refused (false) when the inbox is over its limit; membership
// events are always queued so no `left` is ever lost.
func (s *Shard) Remote(room string, ev Event) bool {
	o := op{kind: opRemote, x: &args{room: room, ev: ev}}
	if ev.Kind == EvMessage {
		return s.offer(o)
	}
	s.in.put(o)
	return true
}

// DropNode forgets every member that origin had, telling local members
// they left: origin died.
func (g *Group) DropNode(origin string) {
	for _, s := range g.shards {
		s.call(func(s *Shard) { s.dropNode(origin) })
	}
}

// Evict gives up this node's hold on nick for token jti because the token
// now holds it on another node: an open connection is told Replaced, an unused /auth reservation is dropped.
func (g *Group) Evict(nick, jti string) {
	g.shards[g.NickShard(nick)].call(func(s *Shard) {
		e := s.nicks[nick]
		switch {
		case e == nil || e.jti != jti:
		case e.peer != nil:
			s.batch.Event(e.peer, replaced{e.peer})
		default:
			delete(s.nicks, nick)
			s.stats.Nicknames.Add(-1)
		}
	})
}

// remoteMember is a member of a room on another node.
type remoteMember struct {
	origin string
}

// heard is the last event of one origin's stream a room received.
type heard struct {
	stream string
	seq    uint64
}

func (s *Shard) remote(name string, ev *Event) {
	r := s.rooms[name]
	if r == nil || len(r.members) == 0 {
		return // not watching it (any more)
	}
	if s.missed(r, ev) {
		s.gap(r)
	}
	switch ev.Kind {
	case EvMessage:
		s.stats.RemoteIn.Add(1)
		// Numbered again in this node's line of the room (its epoch
		// names the node's boot), and kept for history like a local one.
		f, ok := command.Reseal(ev.Frame, r.seq+1)
		if !ok {
			s.stats.Errors.Add(1)
			return
		}
		r.seq++
		s.post(r, f)
	case EvJoined:
		r.setRemote(ev.Nick, ev.Origin)
		s.announce(r, ev.Frame)
	case EvLeft:
		r.dropRemote(ev.Nick)
		s.announce(r, ev.Frame)
	case EvNick:
		r.dropRemote(ev.Old)
		r.setRemote(ev.Nick, ev.Origin)
		s.fanout(r, ev.Frame)
	case EvSnapshotReq:
		nicks := make([]string, len(r.members))
		for i, m := range r.members {
			nicks[i] = m.Nick
		}
		s.bridgeOut(r, Event{Kind: EvSnapshot, Nicks: nicks})
	case EvSnapshot:
		for nick, rm := range r.remote {
			if rm.origin == ev.Origin {
				r.dropRemote(nick)
			}
		}
		for _, n := range ev.Nicks {
			r.setRemote(n, ev.Origin)
		}
	}
}

// missed reports whether ev shows that r missed events of ev's origin:
// the origin numbered them 1, 2, 3… and one between the last heard and
// this one never came. The first event heard from a stream sets where it
// starts.
func (s *Shard) missed(r *room, ev *Event) bool {
	if ev.Seq == 0 {
		return false
	}
	if r.heard == nil {
		r.heard = map[string]heard{}
	}
	last, known := r.heard[ev.Origin]
	r.heard[ev.Origin] = heard{stream: ev.Stream, seq: ev.Seq}
	return known && last.stream == ev.Stream && ev.Seq != last.seq+1
}

// gap handles events of r lost on their way from another node: its local
// members missed them without a trace, so the room's line here breaks (a
// client asking history with the old epoch gets complete:false) and every
// local member is told (it closes with 1012 and reconnects: no silent gap).
func (s *Shard) gap(r *room) {
	s.stats.RemoteGaps.Add(1)
	s.breakLine(r)
	for _, m := range r.members {
		s.batch.Event(m.peer, missedEv{m.peer})
	}
}

// setRemote records nick as a member on node origin (and in the room's
// user list, when it is kept).
func (r *room) setRemote(nick, origin string) {
	if r.remote == nil {
		r.remote = map[string]remoteMember{}
	}
	if _, known := r.remote[nick]; !known {
		r.users.add(nick)
	}
	r.remote[nick] = remoteMember{origin: origin}
}

// dropRemote forgets nick as a member on another node.
func (r *room) dropRemote(nick string) {
	if _, known := r.remote[nick]; known {
		delete(r.remote, nick)
		r.users.remove(nick)
	}
}

// announce fans a joined/left frame out when the room is small enough.
func (s *Shard) announce(r *room, frame []byte) {
	if s.presence(r) {
		s.fanout(r, frame)
	}
}

func (s *Shard) dropNode(origin string) {
	for _, r := range s.rooms {
		for nick, rm := range r.remote {
			if rm.origin != origin {
				continue
			}
			r.dropRemote(nick)
			s.announce(r, leftFrame(r.name, nick))
		}
		delete(r.heard, origin)
	}
}

// bridgeOut sends ev for r to the other nodes, if clustered, numbered in
// r's stream.
func (s *Shard) bridgeOut(r *room, ev Event) {
	if b := s.g.opts.Bridge; b != nil {
		r.outSeq++
		ev.Stream, ev.Seq = r.stream, r.outSeq
		b.Out(r.name, ev)
	}
}

// bridgeWatch tells the bridge r gained its first or lost its last local
// member. Unwatched, the room misses the other nodes' messages, so its line
// here breaks (a room about to be deleted loses nothing by it).
func (s *Shard) bridgeWatch(r *room, on bool) {
	if b := s.g.opts.Bridge; b != nil {
		b.Watch(r.name, on)
		if !on {
			s.breakLine(r)
		}
	}
}
