package wsio

import (
	"bytes"
	"time"

	"github.com/ics-chat/ics/internal/command"
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
		f := command.OpenMessage(l.buf, c.s.nick, c.s.room, cmd.Arg, c.lastRead/int64(time.Millisecond)) // ts: when the server read it
		l.buf = f[:0:cap(f)]
		// One allocation, as before: the room's shard appends the seq
		// into the spare room and the result is both broadcast and
		// kept for history.
		frame := append(make([]byte, 0, len(f)+command.SealRoom), f...)
		if !g.Shard(int(c.s.roomShard)).Publish(c, frame) {
			c.sendError(command.ErrServerBusy, "server busy: message not sent, retry", cmd.ID)
		}
	case command.TypeSetNick:
		c.setNick(string(cmd.Arg), cmd.ID)
	case command.TypeSwitchRoom, command.TypeCreateRoom:
		c.switchRoom(string(cmd.Arg), cmd.Type == command.TypeCreateRoom, cmd.ID)
	case command.TypeListUsers:
		if !g.Shard(int(c.s.roomShard)).ListUsers(c, string(cmd.Arg), cmd.Limit, bytes.Clone(cmd.ID)) {
			c.sendError(command.ErrServerBusy, "server busy, retry", cmd.ID)
		}
	case command.TypeListRooms:
		c.listRooms(bytes.Clone(cmd.ID), cmd.Watch)
	case command.TypeHistory:
		if !g.Shard(int(c.s.roomShard)).History(c, cmd.Since, cmd.HasSince, string(cmd.Arg), cmd.HasEpoch, cmd.Limit, bytes.Clone(cmd.ID)) {
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
	if name == c.s.room {
		code, msg := command.ErrAlreadyInRoom, "you are already in room "+name
		if create {
			code, msg = command.ErrRoomExists, "room "+name+" already exists"
		}
		c.sendError(code, msg, id)
		return
	}
	id = bytes.Clone(id)
	c.s.phase = phPreparing
	if !c.prepare(c.srv.shards.RoomShard(name), name, create, id) {
		c.s.phase = phReady
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
	if name == c.s.nick {
		c.sendError(command.ErrNicknameTaken, "that is already your nickname", id)
		return
	}
	op := c.s.pend()
	op.id = bytes.Clone(id)
	c.s.phase = phRenaming
	if !c.srv.signer.sign(c, name) {
		c.s.phase, op.id = phReady, nil
		c.sendError(command.ErrServerBusy, "server busy, retry", id)
	}
}

// signed continues a setnick once its token is signed (off the loop, see
// signer): claim the name with it.
func (c *conn) signed(name string, t tokenRef, token string, err error) {
	s := &c.s
	if c.gone() {
		return // nothing was claimed with it yet
	}
	op := s.pend()
	if err != nil {
		s.phase = phReady
		c.sendError(command.ErrInternal, "could not issue a token", op.id)
		op.id = nil
		c.runQueue()
		return
	}
	op.token, op.signed = t, token
	if !c.setNickOn(name, t) {
		s.phase = phReady
		c.sendError(command.ErrServerBusy, "server busy, retry", op.id)
		op.id, op.token, op.signed = nil, tokenRef{}, ""
		c.runQueue()
	}
}
