package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ics-chat/ics/internal/shard"
)

// Scatter-gather: a request goes to every node at once; the requester
// waits for as many answers as the registry shows other live nodes, or
// until its deadline, whichever comes first (a node that died but is still
// in the registry costs one deadline, never a hang).

// ErrIncomplete is returned (with the answers that did come) when not every
// live node answered a cluster-wide request within its deadline.
var ErrIncomplete = errors.New("not every cluster node answered in time")

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
		roomsQuery:     n.answerRooms,
		usersQuery:     n.answerUsers,
		kickQuery:      n.answerKick,
		broadcastSubj:  n.answerBroadcast,
		deleteRoomSubj: n.answerDeleteRoom,
	} {
		if _, err := n.nc.Subscribe(subj, func(m *nats.Msg) {
			if !n.Go(func() { h(m) }) {
				n.opts.Logger.Warn("cluster query dropped: busy", "subject", subj)
			}
		}); err != nil {
			return fmt.Errorf("subscribe %s: %w", subj, err)
		}
	}
	if _, err := n.nc.Subscribe(revokeSubj, n.onRevoke); err != nil {
		return fmt.Errorf("subscribe %s: %w", revokeSubj, err)
	}
	if _, err := n.nc.Subscribe(takeoverSubj, n.onTakeover); err != nil {
		return fmt.Errorf("subscribe %s: %w", takeoverSubj, err)
	}
	if _, err := n.nc.Subscribe(roomsSubj, n.onRoomsChanged); err != nil {
		return fmt.Errorf("subscribe %s: %w", roomsSubj, err)
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
		n.opts.Logger.Debug("cluster request: no other node in the registry", "subject", subj)
		return nil, nil
	}
	// Never longer than one request deadline, whatever the caller allows:
	// a dead node still in the registry costs this much and no more.
	ctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	defer cancel()
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
			// Deadline: answer with what came, and say so.
			n.opts.Logger.Warn("cluster request: not every node answered in time", "subject", subj, "answers", len(out), "nodes", want)
			return out, fmt.Errorf("%s: %d of %d nodes: %w", subj, len(out), want, ErrIncomplete)
		}
		out = append(out, m.Data)
	}
	return out, nil
}

// RemoteRooms lists the rooms of the other nodes (only room filter when it
// is not empty), merged by name.
//
// Concurrent asks with the same filter share one gather (a join storm into
// a room asks whether it exists once per arriving client: a thousand
// scatter-gathers at once used to time out the nodes that answer them).
// Callers must not modify the result.
func (n *Node) RemoteRooms(ctx context.Context, filter string) ([]RoomInfo, error) {
	v, err, _ := n.roomAsks.Do(filter, func() (any, error) { return n.remoteRooms(ctx, filter) })
	rs, _ := v.([]RoomInfo)
	return rs, err
}

func (n *Node) remoteRooms(ctx context.Context, filter string) ([]RoomInfo, error) {
	parts, err := n.gather(ctx, roomsQuery, []byte(filter))
	if err != nil && !errors.Is(err, ErrIncomplete) {
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
	return out, err
}

// RemoteUsers lists the members on the other nodes (of room, or of every
// room when room is "").
func (n *Node) RemoteUsers(ctx context.Context, room string) ([]UserInfo, error) {
	parts, err := n.gather(ctx, usersQuery, []byte(room))
	if err != nil && !errors.Is(err, ErrIncomplete) {
		return nil, err
	}
	var out []UserInfo
	for _, p := range parts {
		var us []UserInfo
		if json.Unmarshal(p, &us) == nil {
			out = append(out, us...)
		}
	}
	return out, err
}

// RoomExists reports whether room exists on another node. Not found while
// some node did not answer is an error (ErrIncomplete), not "no".
func (n *Node) RoomExists(ctx context.Context, room string) (bool, error) {
	rs, err := n.RemoteRooms(ctx, room)
	if len(rs) > 0 {
		return true, nil
	}
	return false, err
}

// revokeMsg names a token that exit gave up.
type revokeMsg struct {
	Nick string    `json:"n"`
	JTI  string    `json:"j"`
	Exp  time.Time `json:"e"`
}

// Revoke tells every other node to refuse token jti (for nick) until exp,
// as exit does on this node. It never blocks the caller.
func (n *Node) Revoke(nick, jti string, exp time.Time) {
	b, err := json.Marshal(revokeMsg{Nick: nick, JTI: jti, Exp: exp})
	if err != nil {
		return
	}
	if !n.Go(func() { _ = n.nc.Publish(revokeSubj, b) }) {
		n.stats.Dropped.Add(1)
	}
}

// takeoverMsg tells node Inc that token JTI now holds Nick elsewhere.
type takeoverMsg struct {
	Inc  string `json:"i"`
	Nick string `json:"n"`
	JTI  string `json:"j"`
}

// takeover tells the previous holder (incarnation inc) to let go of nick:
// the same token reconnected here (its old socket may be half-open).
func (n *Node) takeover(inc, nick, jti string) {
	b, err := json.Marshal(takeoverMsg{Inc: inc, Nick: nick, JTI: jti})
	if err == nil {
		_ = n.nc.Publish(takeoverSubj, b)
	}
}

func (n *Node) onTakeover(m *nats.Msg) {
	var t takeoverMsg
	if json.Unmarshal(m.Data, &t) != nil || t.Inc != n.incarnation() {
		return
	}
	n.shards.Evict(t.Nick, t.JTI)
}

func (n *Node) onRevoke(m *nats.Msg) {
	var r revokeMsg
	if json.Unmarshal(m.Data, &r) != nil || r.Nick == "" {
		return
	}
	g := n.shards
	g.Shard(g.NickShard(r.Nick)).Revoke(r.JTI, r.Exp)
}

// kickReq and broadcastReq are the admin actions sent to every node.
type kickReq struct {
	Nick   string `json:"n"`
	Reason string `json:"r"`
}

type broadcastReq struct {
	Room string `json:"r"`
	Body string `json:"b"`
}

// deleteRoomReq is an admin room deletion sent to every node.
type deleteRoomReq struct {
	Room string `json:"room"`
}

// actionResult is a node's answer to an admin action.
type actionResult struct {
	Done       bool `json:"ok"`
	Rooms      int  `json:"rooms"`
	Recipients int  `json:"recipients"`
	Moved      int  `json:"moved,omitempty"`
}

func (n *Node) answerKick(m *nats.Msg) {
	var req kickReq
	if json.Unmarshal(m.Data, &req) != nil {
		return
	}
	ctx, cancel := n.reqCtx()
	defer cancel()
	err := n.shards.Kick(ctx, req.Nick, req.Reason)
	n.reply(m, actionResult{Done: err == nil})
}

func (n *Node) answerBroadcast(m *nats.Msg) {
	var req broadcastReq
	if json.Unmarshal(m.Data, &req) != nil {
		return
	}
	ctx, cancel := n.reqCtx()
	defer cancel()
	res, err := n.shards.Broadcast(ctx, req.Room, req.Body)
	n.reply(m, actionResult{Done: err == nil, Rooms: res.Rooms, Recipients: res.Recipients})
}

func (n *Node) answerDeleteRoom(m *nats.Msg) {
	var req deleteRoomReq
	if json.Unmarshal(m.Data, &req) != nil {
		return
	}
	ctx, cancel := n.reqCtx()
	defer cancel()
	moved, err := n.shards.DeleteRoom(ctx, req.Room)
	n.reply(m, actionResult{Done: err == nil, Moved: moved})
}

func (n *Node) action(ctx context.Context, subj string, req any) ([]actionResult, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	parts, err := n.gather(ctx, subj, b)
	if err != nil && !errors.Is(err, ErrIncomplete) {
		return nil, err
	}
	var out []actionResult
	for _, p := range parts {
		var r actionResult
		if json.Unmarshal(p, &r) == nil {
			out = append(out, r)
		}
	}
	return out, err
}

// RemoteKick kicks nick wherever it is connected on another node; false
// when no other node has it.
func (n *Node) RemoteKick(ctx context.Context, nick, reason string) (bool, error) {
	rs, err := n.action(ctx, kickQuery, kickReq{Nick: nick, Reason: reason})
	for _, r := range rs {
		if r.Done {
			return true, nil
		}
	}
	return false, err
}

// RemoteBroadcast broadcasts on every other node; the sums of what they
// reached, and whether any of them had the room.
func (n *Node) RemoteBroadcast(ctx context.Context, room, body string) (shard.BroadcastResult, bool, error) {
	rs, err := n.action(ctx, broadcastSubj, broadcastReq{Room: room, Body: body})
	var sum shard.BroadcastResult
	found := false
	for _, r := range rs {
		if r.Done {
			found = true
			sum.Rooms += r.Rooms
			sum.Recipients += r.Recipients
		}
	}
	return sum, found, err
}

var _ shard.Directory = (*Node)(nil)

// OtherRooms implements shard.Directory: the other nodes' listed rooms (a
// node that does not answer before ctx ends is left out, as in listrooms).
func (n *Node) OtherRooms(ctx context.Context) []string {
	if !n.started.Load() {
		return nil // the shards run before the node joins
	}
	rooms, _ := n.RemoteRooms(ctx, "")
	names := make([]string, len(rooms))
	for i, r := range rooms {
		names[i] = r.Name
	}
	return names
}

// LocalRoomsChanged implements shard.Directory: it tells the other nodes to
// refresh their room lists. Publish only queues.
func (n *Node) LocalRoomsChanged() {
	if n.started.Load() && !n.Lost() {
		_ = n.nc.Publish(roomsSubj, []byte(n.incarnation()))
	}
}

func (n *Node) onRoomsChanged(m *nats.Msg) {
	if string(m.Data) != n.incarnation() {
		n.shards.OtherRoomsChanged()
	}
}

// RemoteDeleteRoom deletes room on every other node that has it (its
// members there move to global); how many moved, and whether any node had
// the room.
func (n *Node) RemoteDeleteRoom(ctx context.Context, room string) (int, bool, error) {
	rs, err := n.action(ctx, deleteRoomSubj, deleteRoomReq{Room: room})
	moved, found := 0, false
	for _, r := range rs {
		if r.Done {
			found = true
			moved += r.Moved
		}
	}
	return moved, found, err
}
