package wsio

import (
	"context"

	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/fanout"
	"github.com/ics-chat/ics/internal/shard"
)

// This file is the event loops' door to the cluster. The loop never waits:
// anything that needs NATS runs on a cluster goroutine (Node.Go), which
// then queues the shard op or hands the connection its answer as an event
// (answers.go) through the connection's fanout loop, exactly as a shard
// would.

// later hands c an event from another goroutine, in order with its frames.
func (c *conn) later(ev fanout.Event) {
	c.ls.fan.Push([]fanout.Delivery{{To: c, Ev: ev}})
}

// claimNick claims the nickname of the token c upgrades with: cluster-wide
// first (when clustered), then on its shard, which answers Claimed.
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
			c.later(claimAnswer{c, err})
			return
		}
		g.Shard(g.NickShard(nick)).Claim(c, nick, jti, t.exp)
	})
	if !ok {
		c.Claimed(cluster.ErrBusy)
	}
}

// releaseNick gives back the cluster claim of nick held with jti.
func (c *conn) releaseNick(nick, jti string) {
	if n := c.srv.cluster; n != nil && nick != "" {
		n.Release(nick, jti)
	}
}

// setNickOn asks for the new nickname: cluster-wide first, then its shard,
// which answers NickSet. False means the shard is busy (single node: the
// caller answers server_busy; clustered, the refusal comes as NickSet).
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
			c.later(nickAnswer{c, name, err})
			return
		}
		if !g.Shard(g.NickShard(name)).SetNick(c, name, t.jti, t.exp) {
			n.Release(name, t.jti)
			c.later(nickAnswer{c, name, cluster.ErrBusy})
		}
	})
	if !ok {
		c.later(nickAnswer{c, name, cluster.ErrBusy})
	}
	return true
}

// listRooms answers listrooms; clustered, with every node's rooms.
func (c *conn) listRooms(id []byte, watch command.Watch) {
	g := c.srv.shards
	n := c.srv.cluster
	rs := int(c.s.roomShard) // read on the loop, which owns it
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
			c.later(errorAnswer{c, command.ErrServerBusy, "server busy, retry", id})
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
			c.later(prepareAnswer{c, name, id, errClusterUnreachable})
		case create && exists:
			c.later(prepareAnswer{c, name, id, shard.ErrRoomExists})
		case !g.Shard(t).PrepareKnown(c, name, create, exists, id):
			c.later(prepareAnswer{c, name, id, cluster.ErrBusy})
		}
	})
}
