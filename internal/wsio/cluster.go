package wsio

import (
	"context"
	"errors"
	"net/http"

	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
	"github.com/ics-chat/ics/internal/shard"
)

// This file is the event loops' door to the cluster. The loop never waits:
// anything that needs NATS runs on a cluster goroutine (Node.Go), which
// then queues the shard op or hands the connection its answer as a control
// through the connection's fanout loop, exactly as a shard would.

// later hands c a control from another goroutine.
func (c *conn) later(ctl any) {
	c.ls.fan.Push([]fanout.Delivery{{To: c, Ctl: ctl}})
}

// claimNick claims the nickname of the token c upgrades with: cluster-wide
// first (when clustered), then on its shard, which answers ClaimResult.
func (c *conn) claimNick(nick, jti string, t tokenRef) {
	g := c.srv.shards
	n := c.srv.cluster
	if n == nil {
		g.Shard(g.NickShard(nick)).Claim(c, nick, jti, t.exp)
		return
	}
	ok := n.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.HandshakeTimeout)
		defer cancel()
		if err := n.Claim(ctx, nick, jti); err != nil {
			c.later(claimRefusal(nick, err))
			return
		}
		g.Shard(g.NickShard(nick)).Claim(c, nick, jti, t.exp)
	})
	if !ok {
		c.onClaim(claimRefusal(nick, cluster.ErrBusy))
	}
}

func claimRefusal(nick string, err error) shard.ClaimResult {
	if errors.Is(err, cluster.ErrTaken) {
		return shard.ClaimResult{Status: http.StatusConflict, Reason: "nickname " + nick + " is in use"}
	}
	return shard.ClaimResult{Status: http.StatusServiceUnavailable, Reason: "cluster busy or unreachable, retry"}
}

// releaseNick gives back the cluster claim of nick held with jti.
func (c *conn) releaseNick(nick, jti string) {
	if n := c.srv.cluster; n != nil && nick != "" {
		n.Release(nick, jti)
	}
}

// jtiOf is the token this connection holds nick with.
func (c *conn) jtiOf(nick string) string {
	for i := len(c.tokens) - 1; i >= 0; i-- {
		if c.tokens[i].nick == nick {
			return c.tokens[i].jti
		}
	}
	return ""
}

// setNickOn asks for the new nickname: cluster-wide first, then its shard,
// which answers NickResult. False means the shard is busy (single node: the
// caller answers server_busy; clustered, the refusal comes as NickResult).
func (c *conn) setNickOn(name string, t tokenRef) bool {
	g := c.srv.shards
	n := c.srv.cluster
	if n == nil {
		return g.Shard(g.NickShard(name)).SetNick(c, name, t.jti, t.exp)
	}
	ok := n.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.HandshakeTimeout)
		defer cancel()
		if err := n.Claim(ctx, name, t.jti); err != nil {
			c.later(nickRefusal(name, err))
			return
		}
		if !g.Shard(g.NickShard(name)).SetNick(c, name, t.jti, t.exp) {
			n.Release(name, t.jti)
			c.later(nickRefusal(name, cluster.ErrBusy))
		}
	})
	if !ok {
		c.later(nickRefusal(name, cluster.ErrBusy))
	}
	return true
}

func nickRefusal(name string, err error) shard.NickResult {
	if errors.Is(err, cluster.ErrTaken) {
		return shard.NickResult{Nick: name, Code: command.ErrNicknameTaken, Msg: "nickname " + name + " is in use"}
	}
	return shard.NickResult{Nick: name, Code: command.ErrServerBusy, Msg: "server busy, retry"}
}

// errorReply is an `error` frame for c decided off the loop (a cluster
// goroutine), handed to the loop like a shard's control.
type errorReply struct {
	code, msg string
	id        []byte
}

// listRooms answers listrooms; clustered, with every node's rooms.
func (c *conn) listRooms(id []byte, watch command.Watch) {
	g := c.srv.shards
	n := c.srv.cluster
	rs := int(c.roomShard) // read on the loop, which owns it
	if n == nil {
		if !g.ListRooms(c, rs, id, watch) {
			c.sendError(command.ErrServerBusy, "server busy, retry", id)
		}
		return
	}
	if !n.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.HandshakeTimeout)
		defer cancel()
		names := n.OtherRooms(ctx) // a node that does not answer in time is left out
		if !g.ListRoomsWith(c, rs, id, watch, names) {
			c.later(errorReply{command.ErrServerBusy, "server busy, retry", id})
		}
	}) {
		c.sendError(command.ErrServerBusy, "server busy, retry", id)
	}
}

// prepare pins the target room of a switch; clustered, a room that exists
// on another node exists here too, and createroom refuses it.
func (c *conn) prepare(t int, name string, create bool, id []byte) bool {
	g := c.srv.shards
	n := c.srv.cluster
	if n == nil {
		return g.Shard(t).Prepare(c, name, create, id)
	}
	return n.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.HandshakeTimeout)
		defer cancel()
		exists, err := n.RoomExists(ctx, name)
		switch {
		case err != nil:
			c.later(shard.PrepareResult{Room: name, Code: command.ErrServerBusy, Msg: "cluster unreachable, retry", ID: id})
		case create && exists:
			c.later(shard.PrepareResult{Room: name, Code: command.ErrRoomExists, Msg: "room " + name + " already exists", ID: id})
		case !g.Shard(t).PrepareKnown(c, name, create, exists, id):
			c.later(shard.PrepareResult{Room: name, Code: command.ErrServerBusy, Msg: "server busy, retry", ID: id})
		}
	})
}
