package wsio

import (
	"bytes"
	"time"

	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
	"github.com/ics-chat/ics/internal/shard"
)

// command decodes and runs one command. p is borrowed.
func (c *conn) command(p []byte) {
	l := c.ls
	cmd, derr := l.dec.Decode(p)
	if derr != nil {
		c.sendError(derr.Code, derr.Msg, derr.ID)
		return
	}
	g := c.srv.shards
	switch cmd.Type {
	case command.TypeMessage:
		if len(cmd.Arg) > c.srv.cfg.MaxBodyBytes {
			c.sendError(command.ErrBodyTooLong, "message body is longer than the limit", cmd.ID)
			return
		}
		l.stats.MessagesIn.Add(1)
		f := command.OpenMessage(l.buf, c.nick, c.room, cmd.Arg, c.lastRead/int64(time.Millisecond)) // ts: when the server read it
		l.buf = f[:0:cap(f)]
		// One allocation, as before: the room's shard appends the seq
		// into the spare room and the result is both broadcast and
		// kept for history.
		frame := append(make([]byte, 0, len(f)+command.SealRoom), f...)
		if !g.Shard(int(c.roomShard)).Publish(c, frame) {
			c.sendError(command.ErrServerBusy, "server busy: message not sent, retry", cmd.ID)
		}
	case command.TypeSetNick:
		c.setNick(string(cmd.Arg), cmd.ID)
	case command.TypeSwitchRoom, command.TypeCreateRoom:
		c.switchRoom(string(cmd.Arg), cmd.Type == command.TypeCreateRoom, cmd.ID)
	case command.TypeListUsers:
		if !g.Shard(int(c.roomShard)).ListUsers(c, string(cmd.Arg), cmd.Limit, bytes.Clone(cmd.ID)) {
			c.sendError(command.ErrServerBusy, "server busy, retry", cmd.ID)
		}
	case command.TypeListRooms:
		c.listRooms(bytes.Clone(cmd.ID), cmd.Watch)
	case command.TypeHistory:
		if !g.Shard(int(c.roomShard)).History(c, cmd.Since, cmd.HasSince, string(cmd.Arg), cmd.HasEpoch, cmd.Limit, bytes.Clone(cmd.ID)) {
			c.sendError(command.ErrServerBusy, "server busy, retry", cmd.ID)
		}
	case command.TypeExit:
		c.exit()
	}
}

func (c *conn) switchRoom(name string, create bool, id []byte) {
	if !command.ValidName(name) {
		c.sendError(command.ErrInvalidName, "room names are 2-32 characters: letters, digits, _ and -, not starting with a digit or -", id)
		return
	}
	if name == c.room {
		code, msg := command.ErrAlreadyInRoom, "you are already in room "+name
		if create {
			code, msg = command.ErrRoomExists, "room "+name+" already exists"
		}
		c.sendError(code, msg, id)
		return
	}
	g := c.srv.shards
	t := g.RoomShard(name)
	x := c.ext()
	c.pend, x.pendRoom, x.pendShard, x.pendID = pendPrepare, name, t, bytes.Clone(id)
	if !c.prepare(t, name, create, x.pendID) {
		c.pend = pendNone
		c.sendError(command.ErrServerBusy, "server busy, retry", id)
	}
}

func (c *conn) setNick(name string, id []byte) {
	if !command.ValidName(name) {
		c.sendError(command.ErrInvalidName, "nicknames are 2-32 characters: letters, digits, _ and -, not starting with a digit or -", id)
		return
	}
	if command.ReservedName(name) {
		c.sendError(command.ErrReservedName, "nickname "+name+" is reserved", id)
		return
	}
	if name == c.nick {
		c.sendError(command.ErrNicknameTaken, "that is already your nickname", id)
		return
	}
	token, cl, err := c.srv.issuer.Issue(name)
	if err != nil {
		c.sendError(command.ErrInternal, "could not issue a token", id)
		return
	}
	x := c.ext()
	c.pend, x.pendNick, x.pendTok, x.pendID = pendNick, name, token, bytes.Clone(id)
	x.pendToken = tokenRef{nick: name, jti: cl.ID, exp: cl.Expires}
	if !c.setNickOn(name, x.pendToken) {
		c.pend, x.pendNick, x.pendTok, x.pendID = pendNone, "", "", nil
		c.sendError(command.ErrServerBusy, "server busy, retry", id)
	}
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
	for _, t := range c.tokens {
		g.Shard(g.NickShard(t.nick)).Revoke(t.jti, t.exp)
		if n := c.srv.cluster; n != nil {
			n.Revoke(t.nick, t.jti, t.exp) // a token works on every node: refuse it on every node
		}
	}
}

// cleanup gives back the room membership and the nickname, once.
func (c *conn) cleanup() {
	if c.cleaned || c.state == stHTTP {
		return
	}
	c.cleaned = true
	g := c.srv.shards
	if c.joined {
		g.Shard(int(c.roomShard)).Disconnect(c)
	}
	if c.nick != "" && c.state == stWS {
		g.Shard(g.NickShard(c.nick)).Release(c.nick, c)
		c.releaseNick(c.nick, c.jtiOf(c.nick))
	}
}

// Control implements fanout.Peer: replies from shards, in order with frames.
func (c *conn) Control(ctl any) {
	g := c.srv.shards
	switch v := ctl.(type) {
	case shard.ClaimResult:
		c.onClaim(v)
		return
	case errorReply:
		c.sendError(v.code, v.msg, v.id)
		return
	case shard.PrepareResult:
		if c.closed || c.cleaned {
			if v.OK {
				g.Shard(g.RoomShard(v.Room)).Unpin(v.Room)
			}
			return
		}
		if !v.OK {
			c.pend = pendNone
			c.sendError(v.Code, v.Msg, v.ID)
			break
		}
		c.pend = pendJoin
		g.Shard(int(c.roomShard)).Leave(c, v.Room, g.RoomShard(v.Room), c.member())
		return
	case shard.Joined:
		if c.closed || c.cleaned {
			g.Shard(v.Shard).Disconnect(c)
			return
		}
		c.room, c.roomShard, c.joined = v.Room, int32(v.Shard), true
		c.pend = pendNone
	case shard.NickResult:
		if c.closed || c.cleaned {
			if v.OK {
				g.Shard(g.NickShard(v.Nick)).Release(v.Nick, c)
			}
			if c.x != nil {
				c.releaseNick(v.Nick, c.x.pendToken.jti)
			}
			return
		}
		c.pend = pendNone
		x := c.ext()
		if !v.OK {
			c.releaseNick(v.Nick, x.pendToken.jti) // a no-op unless we claimed it
			c.sendError(v.Code, v.Msg, x.pendID)
			break
		}
		old := c.nick
		g.Shard(g.NickShard(old)).Release(old, c)
		c.releaseNick(old, c.jtiOf(old))
		c.nick = v.Nick
		c.tokens = append(c.tokens, x.pendToken)
		g.Shard(int(c.roomShard)).Rename(c, old, v.Nick, x.pendTok, x.pendID)
		x.pendTok, x.pendID = "", nil
	case fanout.Overflow:
		// Frames for this connection were dropped (its loop's queue was
		// full): close it like a slow consumer rather than leave a gap.
		c.slowClose()
		return
	case shard.CloseOrder:
		if v.RevokeAll {
			c.revokeTokens() // even when already closed: a kick must stick
		}
		if c.closed {
			return
		}
		c.closeWith(v.Code, v.Reason)
		return
	case shard.MoveOrder:
		if c.closed || c.cleaned {
			return
		}
		if c.pend != pendNone {
			x := c.ext()
			x.queue = append(x.queue, moveCommand(v.Room))
			return
		}
		c.switchRoom(v.Room, false, nil)
	}
	c.runQueue()
}

// moveCommand is the switchroom an admin's room deletion asks for, queued
// like a client command.
func moveCommand(room string) []byte {
	return []byte(`{"type":"switchroom","args":{"room":"` + room + `"}}`)
}

// runQueue runs the commands that waited for an op to finish, until the
// next op starts.
func (c *conn) runQueue() {
	for c.x != nil && len(c.x.queue) > 0 && c.pend == pendNone && !c.closing && !c.closed {
		x := c.x
		p := x.queue[0]
		x.queue[0] = nil
		x.queue = x.queue[1:]
		c.command(p)
	}
	if c.x != nil && len(c.x.queue) == 0 {
		c.x.queue = nil
	}
	c.settle()
}
