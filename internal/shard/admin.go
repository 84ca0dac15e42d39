package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ics-chat/ics/internal/command"
)

// This file is the admin API's door into the shards. Every method queues a
// function on the owning shard goroutine(s) with call and waits for its
// answer on a buffered reply channel, or until ctx ends (the function then
// still runs; its answer is dropped). Nothing here touches shard state from
// the caller's goroutine.

// Errors returned by the admin methods.
var (
	ErrRoomNotFound = errors.New("room not found")
	ErrRoomExists   = errors.New("room already exists")
	ErrUserNotFound = errors.New("user not connected")
	ErrGlobalRoom   = errors.New("the global room cannot be deleted")
)

// RoomInfo describes one room.
type RoomInfo struct {
	Name    string
	Members int
	Shard   int
	Seq     uint64 // the room's last message number
	Epoch   string // the room's history line
	History int64  // bytes of message frames kept for history
}

func (s *Shard) roomInfo(r *room) RoomInfo {
	return RoomInfo{Name: r.name, Members: len(r.members), Shard: s.idx, Seq: r.seq, Epoch: r.epoch, History: r.hist.bytes}
}

// UserInfo describes one connected member.
type UserInfo struct {
	Member
	Room    string
	Backlog int64 // bytes the socket holds unsent (-1 when unknown)
}

// Backlogger is implemented by peers that can report their output backlog
// from any goroutine (wsio connections).
type Backlogger interface {
	Backlog() int64
}

// onShards runs fn on every shard in the group (concurrently, each on its own
// goroutine) and returns each shard's result in shard order.
func onShards[T any](ctx context.Context, g *Group, fn func(*Shard) T) ([]T, error) {
	out := make([]T, len(g.shards))
	done := make(chan struct{}, len(g.shards))
	for i, s := range g.shards {
		s.call(func(s *Shard) {
			out[i] = fn(s)
			done <- struct{}{}
		})
	}
	for range g.shards {
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// onShard runs fn on shard i and returns its result.
func onShard[T any](ctx context.Context, g *Group, i int, fn func(*Shard) T) (T, error) {
	reply := make(chan T, 1)
	g.shards[i].call(func(s *Shard) { reply <- fn(s) })
	select {
	case v := <-reply:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// visible reports whether r is listed (rooms being deleted, and rooms that
// exist only as a pin for a switch in flight, are not).
func (r *room) visible() bool {
	return !r.deleting && (len(r.members) > 0 || r.name == command.GlobalRoom || r.pins == 0)
}

// Barrier returns once every shard has handled and flushed everything
// queued to it before the call (Drain: what was accepted is then in the
// event loops' delivery queues).
func (g *Group) Barrier(ctx context.Context) error {
	_, err := onShards(ctx, g, func(s *Shard) struct{} {
		s.flush()
		return struct{}{}
	})
	return err
}

// Rooms returns every room, sorted by name.
func (g *Group) Rooms(ctx context.Context) ([]RoomInfo, error) {
	parts, err := onShards(ctx, g, func(s *Shard) []RoomInfo {
		rs := make([]RoomInfo, 0, len(s.rooms))
		for _, r := range s.rooms {
			if r.visible() {
				rs = append(rs, s.roomInfo(r))
			}
		}
		return rs
	})
	if err != nil {
		return nil, err
	}
	all := slices.Concat(parts...)
	slices.SortFunc(all, func(a, b RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

// Room returns one room, or ErrRoomNotFound.
func (g *Group) Room(ctx context.Context, name string) (RoomInfo, error) {
	type res struct {
		ri RoomInfo
		ok bool
	}
	r, err := onShard(ctx, g, g.RoomShard(name), func(s *Shard) res {
		r := s.rooms[name]
		if r == nil || !r.visible() {
			return res{}
		}
		return res{s.roomInfo(r), true}
	})
	if err != nil {
		return RoomInfo{}, err
	}
	if !r.ok {
		return RoomInfo{}, fmt.Errorf("%w: %s", ErrRoomNotFound, name)
	}
	return r.ri, nil
}

func (s *Shard) users(r *room) []UserInfo {
	out := make([]UserInfo, 0, len(r.members))
	for _, m := range r.members {
		u := UserInfo{Member: m.Member, Room: r.name, Backlog: -1}
		if b, ok := m.peer.(Backlogger); ok {
			u.Backlog = b.Backlog()
		}
		out = append(out, u)
	}
	return out
}

// Users returns the members of room (of every room when room is ""), sorted
// by nickname. ErrRoomNotFound if room is given and does not exist.
// Connections in the middle of a room switch are not listed.
func (g *Group) Users(ctx context.Context, room string) ([]UserInfo, error) {
	var all []UserInfo
	if room == "" {
		parts, err := onShards(ctx, g, func(s *Shard) []UserInfo {
			var us []UserInfo
			for _, r := range s.rooms {
				us = append(us, s.users(r)...)
			}
			return us
		})
		if err != nil {
			return nil, err
		}
		all = slices.Concat(parts...)
	} else {
		type res struct {
			us []UserInfo
			ok bool
		}
		r, err := onShard(ctx, g, g.RoomShard(room), func(s *Shard) res {
			r := s.rooms[room]
			if r == nil || !r.visible() {
				return res{}
			}
			return res{s.users(r), true}
		})
		if err != nil {
			return nil, err
		}
		if !r.ok {
			return nil, fmt.Errorf("%w: %s", ErrRoomNotFound, room)
		}
		all = r.us
	}
	slices.SortFunc(all, func(a, b UserInfo) int { return strings.Compare(a.Nick, b.Nick) })
	return all, nil
}

// Kick closes the connection holding nick with close code 4001 and reason
// (cut to fit by command.AppendClose),
// revokes the token it connected with and frees the nickname at once (the
// connection's own release, when it closes, is then a no-op).
// ErrUserNotFound when no live connection holds nick.
func (g *Group) Kick(ctx context.Context, nick, reason string) error {
	found, err := onShard(ctx, g, g.NickShard(nick), func(s *Shard) bool {
		key := NickKey(nick)
		e := s.nicks[key]
		if e == nil || e.peer == nil {
			return false
		}
		// The connection revokes every other token it used when it
		// handles Kicked; this one is revoked here at once.
		s.batch.Event(e.peer, kicked{e.peer, reason})
		s.revoke(e.jti, e.exp)
		s.forget(key, e)
		return true
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrUserNotFound, nick)
	}
	return nil
}

// BroadcastResult counts what Broadcast reached.
type BroadcastResult struct {
	Rooms, Recipients int
}

// Broadcast sends body as a `message` from `system` to every member of room
// name, or of every room when name is "". ErrRoomNotFound if name is given and
// does not exist.
func (g *Group) Broadcast(ctx context.Context, name, body string) (BroadcastResult, error) {
	ts := time.Now().UnixMilli()
	send := func(s *Shard, r *room) int {
		r.seq++
		f := command.AppendSystemMessage(make([]byte, 0, len(body)+len(r.name)+80), r.name, body, ts, r.seq)
		s.post(r, f)
		return len(r.members)
	}
	if name == "" {
		parts, err := onShards(ctx, g, func(s *Shard) BroadcastResult {
			var br BroadcastResult
			for _, r := range s.rooms {
				if r.deleting || len(r.members) == 0 {
					continue
				}
				br.Rooms++
				br.Recipients += send(s, r)
			}
			return br
		})
		if err != nil {
			return BroadcastResult{}, err
		}
		var total BroadcastResult
		for _, p := range parts {
			total.Rooms += p.Rooms
			total.Recipients += p.Recipients
		}
		return total, nil
	}
	type res struct {
		n  int
		ok bool
	}
	r, err := onShard(ctx, g, g.RoomShard(name), func(s *Shard) res {
		r := s.rooms[name]
		if r == nil || !r.visible() {
			return res{}
		}
		return res{send(s, r), true}
	})
	if err != nil {
		return BroadcastResult{}, err
	}
	if !r.ok {
		return BroadcastResult{}, fmt.Errorf("%w: %s", ErrRoomNotFound, name)
	}
	return BroadcastResult{Rooms: 1, Recipients: r.n}, nil
}

// CreateRoom creates an empty room (it lasts until its last member leaves,
// or it is deleted). ErrRoomExists if it exists (or is being deleted).
func (g *Group) CreateRoom(ctx context.Context, name string) (RoomInfo, error) {
	ok, err := onShard(ctx, g, g.RoomShard(name), func(s *Shard) bool {
		if s.rooms[name] != nil {
			return false
		}
		s.rooms[name] = s.newRoom(name)
		s.stats.Rooms.Add(1)
		s.roomsChanged()
		return true
	})
	if err != nil {
		return RoomInfo{}, err
	}
	if !ok {
		return RoomInfo{}, fmt.Errorf("%w: %s", ErrRoomExists, name)
	}
	return RoomInfo{Name: name, Shard: g.RoomShard(name)}, nil
}

// DeleteRoom deletes room name: it stops being listed or joinable at once,
// and each member is told to move to global (its event loop then switches
// it as if it had asked); the room goes when the last one has left. It
// returns how many members are moving.
func (g *Group) DeleteRoom(ctx context.Context, name string) (int, error) {
	if name == command.GlobalRoom {
		return 0, ErrGlobalRoom
	}
	n, err := onShard(ctx, g, g.RoomShard(name), func(s *Shard) int {
		r := s.rooms[name]
		if r == nil || r.deleting {
			return -1
		}
		r.deleting = true
		s.roomsChanged()
		for _, m := range r.members {
			s.batch.Event(m.peer, moved{m.peer, command.GlobalRoom})
		}
		n := len(r.members)
		s.maybeDelete(r)
		return n
	})
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: %s", ErrRoomNotFound, name)
	}
	return n, nil
}
