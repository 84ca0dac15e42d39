package admin

import (
	"context"
	"encoding/base64"
	"errors"
	"runtime"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ics-chat/ics/internal/cluster"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/metric"
	"github.com/ics-chat/ics/internal/server"
	"github.com/ics-chat/ics/internal/shard"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

// Paging and streaming limits.
const (
	DefaultPageSize  = 100
	MaxPageSize      = 1000
	MinWatchInterval = 100 * time.Millisecond
	DefaultWatch     = time.Second
)

// GetStats implements AdminService.
func (s *Server) GetStats(ctx context.Context, _ *adminv1.GetStatsRequest) (*adminv1.GetStatsResponse, error) {
	return s.snapshot(), nil
}

func (s *Server) snapshot() *adminv1.GetStatsResponse {
	now := time.Now()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := s.srv.Shards()
	loops := s.srv.WS().LoopStats()
	started := s.srv.Started()
	resp := &adminv1.GetStatsResponse{
		Time: timestamppb.New(now),
		Node: &adminv1.NodeStats{
			Version:        server.Version,
			StartTime:      timestamppb.New(started),
			Uptime:         durationpb.New(now.Sub(started)),
			Goroutines:     int64(runtime.NumGoroutine()),
			HeapAllocBytes: ms.HeapAlloc,
			HeapSysBytes:   ms.HeapSys,
			GcCount:        ms.NumGC,
			Connections:    s.srv.WS().Connections(),
			Draining:       s.srv.Draining(),
			ShardCount:     int32(g.Len()),
			LoopCount:      int32(len(loops)),
			NodeId:         s.srv.Config().NodeID,
			Clustered:      s.srv.Cluster() != nil,
		},
	}
	for i := range g.Len() {
		sh := g.Shard(i)
		st := sh.Stats()
		resp.Shards = append(resp.Shards, &adminv1.ShardStats{
			Index:          int32(i),
			Rooms:          st.Rooms.Load(),
			Members:        st.Members.Load(),
			Nicknames:      st.Nicknames.Load(),
			InboxDepth:     int64(sh.InboxDepth()),
			InboxHighWater: st.InboxHigh.Load(),
			Commands:       st.Commands.Load(),
			MessagesIn:     st.MessagesIn.Load(),
			DeliveriesOut:  st.Deliveries.Load(),
			BytesOut:       st.BytesOut.Load(),
			Errors:         st.Errors.Load(),
			Busy:           st.Busy.Load(),
			InboxPasses:    st.InboxPasses.Load(),
		})
	}
	for i, l := range loops {
		ls := &adminv1.LoopStats{
			Index:              int32(i),
			Connections:        l.WSConns.Load(),
			Sockets:            l.Conns.Load(),
			WriteCalls:         l.Writes.Load(),
			Frames:             l.Frames.Load(),
			BytesOut:           l.BytesOut.Load(),
			MessagesIn:         l.MessagesIn.Load(),
			Commands:           l.Commands.Load(),
			SlowConsumerCloses: l.SlowCloses.Load(),
			RateLimited:        l.RateLimited.Load(),
			RateLimitCloses:    l.RateCloses.Load(),
			ProtocolCloses:     l.ProtocolCloses.Load(),
			PingCloses:         l.PingCloses.Load(),
			Upgrades:           l.Upgrades.Load(),
			FlushWindow:        durationpb.New(time.Duration(l.FlushWindow.Load())),
		}
		if ls.WriteCalls > 0 {
			ls.FramesPerWrite = float64(ls.Frames) / float64(ls.WriteCalls)
		}
		resp.Loops = append(resp.Loops, ls)
	}
	resp.Metrics = metricsPB(s.srv.Metrics())
	return resp
}

// metricsPB is every sample /metrics has, from the same table.
func metricsPB(src *metric.Source) []*adminv1.Metric {
	var out []*adminv1.Metric
	src.Read(func(sm metric.Sample) {
		m := &adminv1.Metric{Name: sm.Def.Name, Value: sm.Value, Kind: kindPB(sm.Def.Kind)}
		for _, l := range sm.Labels() {
			m.Labels = append(m.Labels, &adminv1.Label{Name: l.Name, Value: l.Value})
		}
		out = append(out, m)
	})
	return out
}

func kindPB(k metric.Kind) adminv1.MetricKind {
	switch k {
	case metric.Counter:
		return adminv1.MetricKind_METRIC_KIND_COUNTER
	case metric.Gauge:
		return adminv1.MetricKind_METRIC_KIND_GAUGE
	}
	return adminv1.MetricKind_METRIC_KIND_UNSPECIFIED
}

// WatchStats implements AdminService.
func (s *Server) WatchStats(req *adminv1.WatchStatsRequest, stream grpc.ServerStreamingServer[adminv1.GetStatsResponse]) error {
	every := DefaultWatch
	if req.GetInterval() != nil {
		if err := req.GetInterval().CheckValid(); err != nil {
			return status.Errorf(codes.InvalidArgument, "interval: %v", err)
		}
		every = max(req.GetInterval().AsDuration(), MinWatchInterval)
	}
	s.watchers.Add(1)
	defer s.watchers.Add(-1)
	t := time.NewTicker(every)
	defer t.Stop()
	ctx := stream.Context()
	for {
		if err := stream.Send(s.snapshot()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.done:
			return status.Error(codes.Unavailable, "admin server stopping")
		case <-t.C:
		}
	}
}

// ListRooms implements AdminService.
func (s *Server) ListRooms(ctx context.Context, req *adminv1.ListRoomsRequest) (*adminv1.ListRoomsResponse, error) {
	size, after, err := pageArgs(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	rooms, err := s.srv.Shards().Rooms(ctx)
	if err != nil {
		return nil, grpcErr(err)
	}
	if rooms, err = s.withRemoteRooms(ctx, rooms); err != nil {
		return nil, grpcErr(err)
	}
	page, next := pageOf(rooms, func(r shard.RoomInfo) string { return r.Name }, size, after)
	resp := &adminv1.ListRoomsResponse{NextPageToken: next}
	for _, r := range page {
		resp.Rooms = append(resp.Rooms, roomPB(r))
	}
	return resp, nil
}

func roomPB(r shard.RoomInfo) *adminv1.Room {
	return &adminv1.Room{Name: r.Name, MemberCount: int64(r.Members), Shard: int32(r.Shard), Seq: r.Seq, Epoch: r.Epoch, HistoryBytes: r.History}
}

// ListUsers implements AdminService.
func (s *Server) ListUsers(ctx context.Context, req *adminv1.ListUsersRequest) (*adminv1.ListUsersResponse, error) {
	if req.GetRoom() != "" {
		if err := checkName("room", req.GetRoom()); err != nil {
			return nil, err
		}
	}
	size, after, err := pageArgs(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	local, lerr := s.srv.Shards().Users(ctx, req.GetRoom())
	users, err := s.withRemoteUsers(ctx, req.GetRoom(), local, lerr)
	if err != nil {
		return nil, grpcErr(err)
	}
	page, next := pageOf(users, func(u nodeUser) string { return u.Nick }, size, after)
	resp := &adminv1.ListUsersResponse{NextPageToken: next}
	for _, u := range page {
		resp.Users = append(resp.Users, &adminv1.User{
			Nickname:       u.Nick,
			Room:           u.Room,
			RemoteAddr:     u.Remote,
			ConnectedSince: timestamppb.New(u.Since),
			MessagesSent:   u.Sent,
			BacklogBytes:   max(u.Backlog, 0),
			Node:           u.node,
		})
	}
	return resp, nil
}

// Kick implements AdminService.
func (s *Server) Kick(ctx context.Context, req *adminv1.KickRequest) (*adminv1.KickResponse, error) {
	if err := checkName("nickname", req.GetNickname()); err != nil {
		return nil, err
	}
	if err := s.notDraining(); err != nil {
		return nil, err
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "kicked by admin"
	}
	if err := s.kick(ctx, req.GetNickname(), reason); err != nil {
		return nil, grpcErr(err)
	}
	s.log.Info("admin: kicked", "nickname", req.GetNickname(), "reason", reason)
	return &adminv1.KickResponse{}, nil
}

// Broadcast implements AdminService.
func (s *Server) Broadcast(ctx context.Context, req *adminv1.BroadcastRequest) (*adminv1.BroadcastResponse, error) {
	if req.GetRoom() != "" {
		if err := checkName("room", req.GetRoom()); err != nil {
			return nil, err
		}
	}
	if req.GetBody() == "" {
		return nil, status.Error(codes.InvalidArgument, "body is empty")
	}
	if max := s.srv.Config().MaxBodyBytes; len(req.GetBody()) > max {
		return nil, status.Errorf(codes.InvalidArgument, "body is %d bytes, more than the limit of %d", len(req.GetBody()), max)
	}
	if err := s.notDraining(); err != nil {
		return nil, err
	}
	res, err := s.broadcast(ctx, req.GetRoom(), req.GetBody())
	if err != nil {
		return nil, grpcErr(err)
	}
	return &adminv1.BroadcastResponse{Rooms: int64(res.Rooms), Recipients: int64(res.Recipients)}, nil
}

// CreateRoom implements AdminService.
func (s *Server) CreateRoom(ctx context.Context, req *adminv1.CreateRoomRequest) (*adminv1.CreateRoomResponse, error) {
	if err := checkName("room", req.GetName()); err != nil {
		return nil, err
	}
	if err := s.notDraining(); err != nil {
		return nil, err
	}
	r, err := s.createRoom(ctx, req.GetName())
	if err != nil {
		return nil, grpcErr(err)
	}
	return &adminv1.CreateRoomResponse{Room: roomPB(r)}, nil
}

// DeleteRoom implements AdminService.
func (s *Server) DeleteRoom(ctx context.Context, req *adminv1.DeleteRoomRequest) (*adminv1.DeleteRoomResponse, error) {
	if err := checkName("room", req.GetName()); err != nil {
		return nil, err
	}
	if err := s.notDraining(); err != nil {
		return nil, err
	}
	n, err := s.deleteRoom(ctx, req.GetName())
	if err != nil {
		return nil, grpcErr(err)
	}
	s.log.Info("admin: deleted room", "room", req.GetName(), "moved", n)
	return &adminv1.DeleteRoomResponse{Moved: int64(n)}, nil
}

// Drain implements AdminService.
func (s *Server) Drain(ctx context.Context, req *adminv1.DrainRequest) (*adminv1.DrainResponse, error) {
	timeout := s.cfg.DrainTimeout
	if d := req.GetTimeout(); d != nil {
		if err := d.CheckValid(); err != nil || d.AsDuration() <= 0 {
			return nil, status.Error(codes.InvalidArgument, "timeout must be a positive duration")
		}
		timeout = d.AsDuration()
	}
	s.drainMu.Lock()
	if s.drained || s.srv.Draining() {
		s.drainMu.Unlock()
		return nil, status.Error(codes.FailedPrecondition, "the server is already draining")
	}
	s.drained = true
	s.drainMu.Unlock()

	s.setServing(false)
	s.log.Info("admin: drain requested", "timeout", timeout)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	derr := s.srv.Drain(dctx)
	if derr != nil {
		s.log.Warn("admin: drain", "err", derr)
	}
	if s.cfg.OnDrain != nil {
		s.cfg.OnDrain()
	}
	return &adminv1.DrainResponse{Remaining: s.srv.WS().Connections()}, nil
}

func (s *Server) notDraining() error {
	if s.srv.Draining() {
		return status.Error(codes.FailedPrecondition, "the server is draining")
	}
	return nil
}

func checkName(what, name string) error {
	if !command.ValidName(name) {
		return status.Errorf(codes.InvalidArgument, "invalid %s %q: 2-32 characters, letters, digits, _ and -, not starting with a digit or -", what, name)
	}
	return nil
}

// grpcErr maps shard and context errors to status codes.
func grpcErr(err error) error {
	switch {
	case errors.Is(err, shard.ErrRoomNotFound), errors.Is(err, shard.ErrUserNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, shard.ErrRoomExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, shard.ErrGlobalRoom):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, cluster.ErrIncomplete):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// Page tokens are opaque to clients: "v1:" and the last key of the previous
// page, base64url. A page holds the items whose key sorts after it, so a
// walk lists every item that exists throughout the walk exactly once.
const tokenPrefix = "v1:"

func pageArgs(size int32, token string) (int, string, error) {
	switch {
	case size < 0:
		return 0, "", status.Errorf(codes.InvalidArgument, "page_size %d is negative", size)
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		return 0, "", status.Errorf(codes.InvalidArgument, "page_size %d is over the maximum of %d", size, MaxPageSize)
	}
	if token == "" {
		return int(size), "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(raw), tokenPrefix) || len(raw) == len(tokenPrefix) {
		return 0, "", status.Error(codes.InvalidArgument, "invalid page_token")
	}
	return int(size), string(raw[len(tokenPrefix):]), nil
}

// pageOf returns the first size items (sorted by key) after key after, and
// the token of the next page ("" if none).
func pageOf[T any](items []T, key func(T) string, size int, after string) ([]T, string) {
	i := 0
	if after != "" {
		i = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	items = items[i:]
	if len(items) <= size {
		return items, ""
	}
	page := items[:size]
	return page, base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + key(page[size-1])))
}
