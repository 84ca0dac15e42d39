package wsio

import (
	"time"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/shard"
)

// phase is where a connection's session stands. One operation at a time
// is in flight with a shard (the phases that wait); commands that arrive
// meanwhile queue behind it, so replies keep the order of the commands.
//
//	none ──/ws accepted──▶ claiming ──Claimed(nil)──▶ joining ──Joined──▶ ready
//	ready ──switchroom, createroom, Moved──▶ preparing ──Prepared(nil)──▶ joining
//	ready ──setnick──▶ renaming ──NickSet(nil)──▶ renaming ──Renamed──▶ ready
//	renaming ──NickSet(err)──▶ ready
//	preparing ──Prepared(err)──▶ ready
//	any ──exit, close, kick, takeover──▶ gone
type phase uint8

const (
	phNone      phase = iota // plain HTTP: no WebSocket session
	phClaiming               // /ws accepted, the 101 held until the nickname's shard answers Claimed
	phJoining                // upgraded; waiting for Joined (first room, or the join half of a switch)
	phReady                  // a member of room: commands run at once
	phPreparing              // switch: waiting for the target room's Prepared
	phRenaming               // setnick: waiting for the signed token, then NickSet, then Renamed
	phGone                   // room and nickname given back: late events only undo what they did
)

// tokenRef is a token this connection used or was given, revoked on exit.
type tokenRef struct {
	nick, jti string
	exp       time.Time
}

// session is a connection's protocol state, owned by its event loop. It is
// the connection's one record of its nickname and room; the shards keep
// their own view (the nickname's holder, the room's members), told through
// shard ops and answered through shard.Conn events.
type session struct {
	phase     phase
	nick      string // the nickname held ("" before the claim or after a refused one)
	room      string // the room it is a member of ("" until the first Joined)
	roomShard int32  // the shard owning room
	tokens    []tokenRef
	op        *pending // the operation in flight and what queued behind it (nil when none)
}

// pending is what the session needs only while an operation is in flight
// or commands wait.
type pending struct {
	id     []byte   // the command's id, echoed in its reply
	token  tokenRef // setnick: the new token's claims
	signed string   // setnick: the new token
	queue  []queued // what arrived meanwhile, run in order once the operation ends
}

// queued is a client command (raw JSON) or a move an admin's room
// deletion ordered (moveTo).
type queued struct {
	cmd    []byte
	moveTo string
}

// pend returns the session's pending state, allocating it on first use.
func (s *session) pend() *pending {
	if s.op == nil {
		s.op = &pending{}
	}
	return s.op
}

// busy reports whether an operation is in flight: commands must queue.
func (s *session) busy() bool { return s.phase != phReady }

// settle drops the pending state once nothing in it is needed.
func (s *session) settle() {
	if s.op != nil && !s.busy() && len(s.op.queue) == 0 {
		s.op = nil
	}
}

// jtiOf is the token this connection holds nick with.
func (s *session) jtiOf(nick string) string {
	for i := len(s.tokens) - 1; i >= 0; i-- {
		if s.tokens[i].nick == nick {
			return s.tokens[i].jti
		}
	}
	return ""
}

// info describes the connection to the shard that will hold it.
func (c *conn) info() shard.Member {
	return shard.Member{Nick: c.s.nick, Remote: c.remote(), Since: time.Unix(0, c.since)}
}

// gone reports whether late events must only undo what they did: the
// socket closed or the session gave back its room and nickname.
func (c *conn) gone() bool { return c.closed || c.s.phase == phGone }

// Claimed implements shard.Conn: complete or refuse the upgrade.
func (c *conn) Claimed(err error) {
	s := &c.s
	g := c.srv.shards
	if c.gone() {
		if err == nil {
			g.Shard(g.NickShard(s.nick)).Release(s.nick, c)
		}
		c.releaseNick(s.nick, s.jtiOf(s.nick))
		return
	}
	if err != nil {
		c.ls.stats.Rejected.Add(1)
		status, code, reason := claimRefusal(err, s.nick)
		c.releaseNick(s.nick, s.jtiOf(s.nick)) // a no-op unless we claimed it
		s.nick = ""
		_, _ = c.gc.Write(httpErrorResponse(status, code, reason))
		c.drop()
		return
	}
	_, _ = c.gc.Write(c.x.upgradeResp)
	c.x.upgradeResp = nil
	c.ls.stats.Upgrades.Add(1)
	c.ws = true
	c.allowance = float64(c.srv.cfg.CommandBurst)
	s.phase = phJoining
	g.Shard(g.RoomShard(command.GlobalRoom)).Join(c, command.GlobalRoom, c.info())
	// Frames the client sent right behind its handshake are waiting.
	if c.gc.InboundBuffered() > 0 {
		c.onWS()
	}
}

// Prepared implements shard.Conn: the switch's target room is pinned (leave
// towards it) or refused.
func (c *conn) Prepared(room string, id []byte, err error) {
	s := &c.s
	g := c.srv.shards
	if c.gone() {
		if err == nil {
			g.Shard(g.RoomShard(room)).Unpin(room)
		}
		return
	}
	if err != nil {
		s.phase = phReady
		code, msg := prepareRefusal(err, room)
		c.sendError(code, msg, id)
		c.runQueue()
		return
	}
	s.phase = phJoining
	g.Shard(int(s.roomShard)).Leave(c, room, g.RoomShard(room), c.info())
}

// Joined implements shard.Conn: the connection is a member of room.
func (c *conn) Joined(room string, sh int) {
	s := &c.s
	if c.gone() {
		c.srv.shards.Shard(sh).Disconnect(c)
		return
	}
	s.room, s.roomShard, s.phase = room, int32(sh), phReady
	c.runQueue()
}

// NickSet implements shard.Conn: the new nickname is held (give back the
// old one and announce the change) or refused.
func (c *conn) NickSet(nick string, err error) {
	s := &c.s
	g := c.srv.shards
	if c.gone() {
		if err == nil {
			g.Shard(g.NickShard(nick)).Release(nick, c)
		}
		if s.op != nil {
			c.releaseNick(nick, s.op.token.jti)
		}
		return
	}
	op := s.pend()
	if err != nil {
		s.phase = phReady
		c.releaseNick(nick, op.token.jti) // a no-op unless we claimed it
		code, msg := nickRefusal(err, nick)
		c.sendError(code, msg, op.id)
		op.id = nil
		c.runQueue()
		return
	}
	old := s.nick
	g.Shard(g.NickShard(old)).Release(old, c)
	c.releaseNick(old, s.jtiOf(old))
	s.nick = nick
	s.tokens = append(s.tokens, op.token)
	g.Shard(int(s.roomShard)).Rename(c, old, nick, op.signed, op.id)
	op.signed, op.id, op.token = "", nil, tokenRef{}
}

// Renamed implements shard.Conn: the room has the rename, and the client
// its own nick frame: what queued behind the setnick may run (its replies,
// even errors decided here on the loop, come after that frame).
func (c *conn) Renamed(string) {
	if c.gone() {
		return
	}
	c.s.phase = phReady
	c.runQueue()
}

// Moved implements shard.Conn: an admin deleted the room; switch to room
// as if the client had asked, after the operation in flight if any.
func (c *conn) Moved(room string) {
	if c.gone() {
		return
	}
	if c.s.busy() {
		op := c.s.pend()
		op.queue = append(op.queue, queued{moveTo: room})
		return
	}
	c.move(room)
	c.runQueue()
}

// move switches to room for an admin: no reply of its own (the client sees
// left and joined), nothing when it is there already.
func (c *conn) move(room string) {
	if room != c.s.room {
		c.switchRoom(room, false, nil)
	}
}

// Replaced implements shard.Conn: the token now holds the nickname on
// another connection.
func (c *conn) Replaced() {
	if c.closed {
		return
	}
	c.closeWith(command.CloseReplaced, "session replaced")
}

// Kicked implements shard.Conn: revoke every token used (even when already
// closed: a kick must stick), then close.
func (c *conn) Kicked(reason string) {
	c.revokeTokens()
	if c.closed {
		return
	}
	c.closeWith(command.CloseKicked, reason)
}

// Missed implements shard.Conn: the room lost events from another node on
// their way here; close with 1012 so the client reconnects and learns of
// the gap from history (its epoch is gone), rather than go on without it.
func (c *conn) Missed() {
	if c.closed {
		return
	}
	c.closeWith(command.CloseServiceRestart, "missed messages from another node; reconnect")
}

// Overflowed implements fanout.Peer: frames for this connection were dropped
// (its loop's queue was full): close it like a slow consumer rather than
// leave a gap.
func (c *conn) Overflowed() { c.slowClose() }

// runQueue runs what waited for an operation to finish, until the next
// operation starts.
func (c *conn) runQueue() {
	s := &c.s
	for s.op != nil && len(s.op.queue) > 0 && !s.busy() && !c.closing && !c.closed {
		q := s.op.queue[0]
		s.op.queue[0] = queued{}
		s.op.queue = s.op.queue[1:]
		if q.moveTo != "" {
			c.move(q.moveTo)
		} else {
			c.command(q.cmd)
		}
	}
	if s.op != nil && len(s.op.queue) == 0 {
		s.op.queue = nil
	}
	c.settle()
}

// exit: leave the room, free the nickname, revoke the tokens, close 1000.
func (c *conn) exit() {
	c.revokeTokens()
	c.cleanup()
	c.closeWith(command.CloseNormal, "bye")
}

// revokeTokens revokes every token this connection used or was given, on
// the shard owning each token's nickname.
func (c *conn) revokeTokens() {
	g := c.srv.shards
	for _, t := range c.s.tokens {
		g.Shard(g.NickShard(t.nick)).Revoke(t.jti, t.exp)
		if n := c.srv.cluster; n != nil {
			n.Revoke(t.nick, t.jti, t.exp) // a token works on every node: refuse it on every node
		}
	}
}

// cleanup gives back the room membership and the nickname, once.
func (c *conn) cleanup() {
	s := &c.s
	was := s.phase
	if was == phNone || was == phGone {
		return
	}
	s.phase = phGone
	g := c.srv.shards
	if s.room != "" {
		g.Shard(int(s.roomShard)).Disconnect(c)
	}
	// While claiming, the claim's answer gives the nickname back (Claimed).
	if s.nick != "" && was != phClaiming {
		g.Shard(g.NickShard(s.nick)).Release(s.nick, c)
		c.releaseNick(s.nick, s.jtiOf(s.nick))
	}
}
