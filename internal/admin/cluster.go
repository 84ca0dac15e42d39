package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/shard"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

// This file makes the admin API cluster-wide: on a clustered node rooms,
// users, kick, broadcast and room creation and deletion reach every node (scatter-gather through
// internal/cluster, each with its deadline); on a single node they are the
// shards' answers unchanged.

// ListNodes implements AdminService.
func (s *Server) ListNodes(ctx context.Context, _ *adminv1.ListNodesRequest) (*adminv1.ListNodesResponse, error) {
	n := s.srv.Cluster()
	if n == nil {
		return &adminv1.ListNodesResponse{Nodes: []*adminv1.Node{{
			Id: s.srv.Config().NodeID, HttpAddr: s.srv.Addr().String(), AdminAddr: s.addrString(),
			StartTime: timestamppb.New(s.srv.Started()), Updated: timestamppb.Now(),
			Connections: s.srv.WS().Connections(), Rooms: roomCount(s.srv.Shards()), Self: true,
		}}}, nil
	}
	recs, err := n.Nodes(ctx)
	if err != nil {
		return nil, grpcErr(err)
	}
	resp := &adminv1.ListNodesResponse{}
	for _, r := range recs {
		resp.Nodes = append(resp.Nodes, &adminv1.Node{
			Id: r.ID, HttpAddr: r.HTTP, AdminAddr: r.Admin,
			StartTime: timestamppb.New(r.Started), Updated: timestamppb.New(r.Updated),
			Connections: r.Conns, Rooms: r.Rooms, Self: r.Incarnation == n.Incarnation(),
		})
	}
	return resp, nil
}

func (s *Server) addrString() string {
	if a := s.Addr(); a != nil {
		return a.String()
	}
	return ""
}

func roomCount(g *shard.Group) int64 {
	var n int64
	for i := range g.Len() {
		n += g.Shard(i).Stats().Rooms.Load()
	}
	return n
}

// withRemoteRooms adds the other nodes' rooms (members summed).
func (s *Server) withRemoteRooms(ctx context.Context, rooms []shard.RoomInfo) ([]shard.RoomInfo, error) {
	n := s.srv.Cluster()
	if n == nil {
		return rooms, nil
	}
	remote, err := n.RemoteRooms(ctx, "")
	if err != nil && !errors.Is(err, cluster.ErrIncomplete) {
		return nil, err // incomplete: list what the nodes that answered have
	}
	at := map[string]int{}
	for i, r := range rooms {
		at[r.Name] = i
	}
	for _, r := range remote {
		if i, ok := at[r.Name]; ok {
			rooms[i].Members += r.Members
			continue
		}
		rooms = append(rooms, shard.RoomInfo{Name: r.Name, Members: r.Members, Shard: -1})
	}
	slices.SortFunc(rooms, func(a, b shard.RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return rooms, nil
}

// nodeUser is a user and the node it is connected to.
type nodeUser struct {
	shard.UserInfo
	node string
}

// withRemoteUsers adds the other nodes' users; a room unknown here but
// known elsewhere is not an error.
func (s *Server) withRemoteUsers(ctx context.Context, room string, local []shard.UserInfo, lerr error) ([]nodeUser, error) {
	if lerr != nil && !errors.Is(lerr, shard.ErrRoomNotFound) {
		return nil, lerr
	}
	self := s.srv.Config().NodeID
	out := make([]nodeUser, 0, len(local))
	for _, u := range local {
		out = append(out, nodeUser{UserInfo: u, node: self})
	}
	n := s.srv.Cluster()
	if n == nil {
		return out, lerr
	}
	remote, err := n.RemoteUsers(ctx, room)
	if err != nil && !errors.Is(err, cluster.ErrIncomplete) {
		return nil, err
	}
	for _, u := range remote {
		out = append(out, nodeUser{UserInfo: shard.UserInfo{Member: shard.Member{Nick: u.Nick}, Room: u.Room, Backlog: -1}, node: u.Node})
	}
	if lerr != nil && len(remote) == 0 {
		return nil, lerr
	}
	slices.SortFunc(out, func(a, b nodeUser) int { return strings.Compare(a.Nick, b.Nick) })
	return out, nil
}

// kick kicks nick on this node, or wherever it is connected.
func (s *Server) kick(ctx context.Context, nick, reason string) error {
	err := s.srv.Shards().Kick(ctx, nick, reason)
	n := s.srv.Cluster()
	if n == nil || !errors.Is(err, shard.ErrUserNotFound) {
		return err
	}
	if ok, rerr := n.RemoteKick(ctx, nick, reason); ok {
		return nil
	} else if rerr != nil && !errors.Is(rerr, cluster.ErrIncomplete) {
		return rerr
	}
	return err
}

// broadcast sends body to room (every room when "") on every node.
func (s *Server) broadcast(ctx context.Context, room, body string) (shard.BroadcastResult, error) {
	res, err := s.srv.Shards().Broadcast(ctx, room, body)
	n := s.srv.Cluster()
	if n == nil || (err != nil && !errors.Is(err, shard.ErrRoomNotFound)) {
		return res, err
	}
	remote, found, rerr := n.RemoteBroadcast(ctx, room, body)
	if rerr != nil && !errors.Is(rerr, cluster.ErrIncomplete) {
		return res, rerr
	}
	if err != nil && !found {
		return res, err
	}
	res.Rooms += remote.Rooms
	res.Recipients += remote.Recipients
	return res, nil
}

// createRoom creates name here unless it exists on any node (a room is
// one room cluster-wide, as createroom from a client sees it).
func (s *Server) createRoom(ctx context.Context, name string) (shard.RoomInfo, error) {
	if n := s.srv.Cluster(); n != nil {
		exists, err := n.RoomExists(ctx, name)
		if err != nil {
			return shard.RoomInfo{}, err
		}
		if exists {
			return shard.RoomInfo{}, fmt.Errorf("%w: %s (on another node)", shard.ErrRoomExists, name)
		}
	}
	return s.srv.Shards().CreateRoom(ctx, name)
}

// deleteRoom deletes name on every node that has it; the members moved to
// global, all nodes together. NotFound only when no node had it.
func (s *Server) deleteRoom(ctx context.Context, name string) (int, error) {
	moved, err := s.srv.Shards().DeleteRoom(ctx, name)
	n := s.srv.Cluster()
	if n == nil || (err != nil && !errors.Is(err, shard.ErrRoomNotFound)) {
		return moved, err
	}
	rmoved, found, rerr := n.RemoteDeleteRoom(ctx, name)
	if rerr != nil && !errors.Is(rerr, cluster.ErrIncomplete) {
		return moved, rerr
	}
	if err != nil && !found {
		return 0, err
	}
	return moved + rmoved, nil
}
