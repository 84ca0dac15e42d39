package cluster

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/ics-chat/ics/internal/shard"
)

// Scatter-gather: a request goes to every node at once; the requester
// waits for as many answers as the registry shows other live nodes, or
// until its deadline, whichever comes first (a node that died but is still
// in the registry costs one deadline, never a hang).

// RoomInfo is one room as another node sees it.
type RoomInfo struct {
	Name    string `json:"n"`
	Members int    `json:"m"`
}

// UserInfo is one member on another node.
type UserInfo struct {
	Nick string `json:"n"`
	Room string `json:"r"`
	Node string `json:"node"`
}

func (n *Node) subscribeQueries() error {
	for subj, h := range map[string]func(*nats.Msg){
		roomsQuery: n.answerRooms,
		usersQuery: n.answerUsers,
	} {
		if _, err := n.nc.Subscribe(subj, func(m *nats.Msg) {
			if !n.Go(func() { h(m) }) {
				n.opts.Logger.Warn("cluster query dropped: busy", "subject", subj)
			}
		}); err != nil {
			return fmt.Errorf("subscribe %s: %w", subj, err)
		}
	}
	return nil
}

func (n *Node) answerRooms(m *nats.Msg) {
	ctx, cancel := n.reqCtx()
	defer cancel()
	rs, err := n.shards.Rooms(ctx)
	if err != nil {
		return
	}
	filter := string(m.Data)
	out := make([]RoomInfo, 0, len(rs))
	for _, r := range rs {
		if filter == "" || r.Name == filter {
			out = append(out, RoomInfo{Name: r.Name, Members: r.Members})
		}
	}
	n.reply(m, out)
}

func (n *Node) answerUsers(m *nats.Msg) {
	ctx, cancel := n.reqCtx()
	defer cancel()
	us, err := n.shards.Users(ctx, string(m.Data))
	if err != nil {
		n.reply(m, []UserInfo{})
		return
	}
	out := make([]UserInfo, 0, len(us))
	for _, u := range us {
		out = append(out, UserInfo{Nick: u.Nick, Room: u.Room, Node: n.opts.NodeID})
	}
	n.reply(m, out)
}

func (n *Node) reply(m *nats.Msg, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		_ = m.Respond(b)
	}
}

// gather sends payload to subj on every other node and collects the
// answers until each live node answered or ctx ends.
func (n *Node) gather(ctx context.Context, subj string, payload []byte) ([][]byte, error) {
	want := n.liveCount()
	if want == 0 {
		return nil, nil
	}
	inbox := n.nc.NewRespInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("gather %s: %w", subj, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := n.nc.PublishRequest(subj, inbox, payload); err != nil {
		return nil, fmt.Errorf("gather %s: %w", subj, err)
	}
	var out [][]byte
	for len(out) < want {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			break // deadline: answer with what came
		}
		out = append(out, m.Data)
	}
	return out, nil
}

// RemoteRooms lists the rooms of the other nodes (only room filter when it
// is not empty), merged by name.
func (n *Node) RemoteRooms(ctx context.Context, filter string) ([]RoomInfo, error) {
	parts, err := n.gather(ctx, roomsQuery, []byte(filter))
	if err != nil {
		return nil, err
	}
	byName := map[string]int{}
	var out []RoomInfo
	for _, p := range parts {
		var rs []RoomInfo
		if json.Unmarshal(p, &rs) != nil {
			continue
		}
		for _, r := range rs {
			if i, ok := byName[r.Name]; ok {
				out[i].Members += r.Members
				continue
			}
			byName[r.Name] = len(out)
			out = append(out, r)
		}
	}
	return out, nil
}

// RemoteUsers lists the members on the other nodes (of room, or of every
// room when room is "").
func (n *Node) RemoteUsers(ctx context.Context, room string) ([]UserInfo, error) {
	parts, err := n.gather(ctx, usersQuery, []byte(room))
	if err != nil {
		return nil, err
	}
	var out []UserInfo
	for _, p := range parts {
		var us []UserInfo
		if json.Unmarshal(p, &us) == nil {
			out = append(out, us...)
		}
	}
	return out, nil
}

// RoomExists reports whether room exists on another node.
func (n *Node) RoomExists(ctx context.Context, room string) (bool, error) {
	rs, err := n.RemoteRooms(ctx, room)
	return len(rs) > 0, err
}

var _ = shard.RoomInfo{}
