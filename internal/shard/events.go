package shard

import (
	"errors"

	"github.com/ics-chat/ics/internal/fanout"
)

// Conn is a client connection as a shard sees it: where its frames go
// (fanout.Peer) and the events a shard sends it, one method per event. A
// shard delivers them through fanout, in order with the frames around
// them, and they run on the connection's event loop. Adding an event here
// breaks the build of every Conn that does not handle it: no event can be
// dropped silently. Domain outcomes are errors (ErrNicknameTaken,
// ErrTokenRevoked, ErrRoomExists, ErrRoomNotFound); the connection maps
// them to its wire (HTTP statuses, error codes, close codes).
type Conn interface {
	fanout.Peer
	// Claimed answers Claim: nil when the nickname is bound to the
	// connection (it may complete its upgrade), else ErrTokenRevoked or
	// ErrNicknameTaken.
	Claimed(err error)
	// Prepared answers Prepare: nil when room is pinned for the coming
	// switch (the connection then Leaves its room towards it), else
	// ErrRoomExists or ErrRoomNotFound. id is the command's id.
	Prepared(room string, id []byte, err error)
	// Joined says the connection is now a member of room, owned by shard.
	Joined(room string, shard int)
	// NickSet answers SetNick: nil when nick is held for the connection,
	// else ErrNicknameTaken.
	NickSet(nick string, err error)
	// Renamed answers Rename once the room's `nick` frames, the
	// connection's own included, are queued ahead of it: replies to what
	// the connection does next come after them.
	Renamed(nick string)
	// Moved says an admin deleted the connection's room: it must switch
	// to room (global) as if it had asked.
	Moved(room string)
	// Replaced says the token the connection holds its nickname with now
	// holds it on another connection (this node or another): it closes.
	Replaced()
	// Kicked says an admin kicked the connection with reason: it revokes
	// every token it used and closes.
	Kicked(reason string)
	// Missed says the connection's room lost events on their way from
	// another node (overload): it closes with 1012, so the client
	// reconnects and its history request reports the gap.
	Missed()
}

// ErrTokenRevoked: the token was revoked (exit, kick) and may not connect.
var ErrTokenRevoked = errors.New("token revoked")

// The events, each the typed call of one Conn method.
type (
	claimed struct {
		c   Conn
		err error
	}
	prepared struct {
		c    Conn
		room string
		id   []byte
		err  error
	}
	joinedEv struct {
		c     Conn
		room  string
		shard int
	}
	nickSet struct {
		c    Conn
		nick string
		err  error
	}
	renamed struct {
		c    Conn
		nick string
	}
	moved struct {
		c    Conn
		room string
	}
	replaced struct{ c Conn }
	missedEv struct{ c Conn }
	kicked   struct {
		c      Conn
		reason string
	}
)

func (e claimed) Deliver()  { e.c.Claimed(e.err) }
func (e prepared) Deliver() { e.c.Prepared(e.room, e.id, e.err) }
func (e joinedEv) Deliver() { e.c.Joined(e.room, e.shard) }
func (e nickSet) Deliver()  { e.c.NickSet(e.nick, e.err) }
func (e renamed) Deliver()  { e.c.Renamed(e.nick) }
func (e moved) Deliver()    { e.c.Moved(e.room) }
func (e replaced) Deliver() { e.c.Replaced() }
func (e missedEv) Deliver() { e.c.Missed() }
func (e kicked) Deliver()   { e.c.Kicked(e.reason) }
