package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ics-chat/ics/internal/admin"
	"github.com/ics-chat/ics/internal/command"
	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/wstest"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

func TestStatsAddUpToTraffic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	g := e.srv.Shards()
	for _, r := range []string{"lobby", "dev"} {
		if _, err := e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: r}); err != nil {
			t.Fatal(err)
		}
	}
	rooms := map[string][]string{
		"global": {"a1", "a2"},
		"lobby":  {"b1", "b2", "b3"},
		"dev":    {"c1"},
	}
	clients := map[string]*wstest.Client{}
	var all []*wstest.Client
	for room, nicks := range rooms {
		for _, n := range nicks {
			c := wstest.Dial(t, e.addr, n)
			if room != "global" {
				join(t, c, room)
			}
			clients[n] = c
			all = append(all, c)
		}
	}
	// Let the setup's membership events settle: the loops' frame count
	// stops moving.
	var before *adminv1.GetStatsResponse
	last := ^uint64(0)
	eventually(t, "setup to settle", func() bool {
		var err error
		before, err = e.api.GetStats(ctx, &adminv1.GetStatsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var frames uint64
		for _, l := range before.Loops {
			frames += l.Frames
		}
		settled := frames == last
		last = frames
		time.Sleep(40 * time.Millisecond)
		return settled
	})
	// Members and rooms, per shard, from the gauges.
	wantMembers := make([]int64, g.Len())
	wantRooms := make([]int64, g.Len())
	for room, nicks := range rooms {
		wantMembers[g.RoomShard(room)] += int64(len(nicks))
		wantRooms[g.RoomShard(room)]++
	}
	for i, s := range before.Shards {
		if s.Members != wantMembers[i] || s.Rooms != wantRooms[i] {
			t.Errorf("shard %d: %d members %d rooms, want %d and %d", i, s.Members, s.Rooms, wantMembers[i], wantRooms[i])
		}
	}

	sends := map[string]int{"a1": 3, "a2": 2, "b1": 4, "b3": 1, "c1": 2}
	roomOf := map[string]string{}
	for room, nicks := range rooms {
		for _, n := range nicks {
			roomOf[n] = room
		}
	}
	wantMsgs := make([]uint64, g.Len())
	wantDeliveries := make([]uint64, g.Len())
	wantRecv := map[string]int{}
	var totalSent, totalRecv uint64
	for n, k := range sends {
		room := roomOf[n]
		for i := range k {
			if err := clients[n].Send("message", map[string]any{"body": fmt.Sprintf("%s-%d", n, i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		sh := g.RoomShard(room)
		wantMsgs[sh] += uint64(k)
		wantDeliveries[sh] += uint64(k * len(rooms[room]))
		for _, m := range rooms[room] {
			wantRecv[m] += k
		}
		totalSent += uint64(k)
		totalRecv += uint64(k * len(rooms[room]))
	}
	want := make([]int, len(all))
	for i, c := range all {
		want[i] = wantRecv[c.Nick]
	}
	got := recvAll(t, all, want)
	for i, c := range all {
		for _, f := range got[i] {
			if f.Str("room") != roomOf[c.Nick] {
				t.Errorf("%s got %v", c.Nick, f)
			}
		}
	}

	// Loop counters are bumped right after the write; poll until they settle.
	var after *adminv1.GetStatsResponse
	sumLoops := func(r *adminv1.GetStatsResponse) (frames, bytes, msgs uint64) {
		for _, l := range r.Loops {
			frames += l.Frames
			bytes += l.BytesOut
			msgs += l.MessagesIn
		}
		return
	}
	f0, b0, m0 := sumLoops(before)
	eventually(t, "loop counters", func() bool {
		var err error
		after, err = e.api.GetStats(ctx, &adminv1.GetStatsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		f1, _, _ := sumLoops(after)
		return f1-f0 >= totalRecv
	})
	var shardBytes uint64
	for i := range after.Shards {
		a, b := after.Shards[i], before.Shards[i]
		if d := a.MessagesIn - b.MessagesIn; d != wantMsgs[i] {
			t.Errorf("shard %d messages_in +%d, want +%d", i, d, wantMsgs[i])
		}
		if d := a.Commands - b.Commands; d != wantMsgs[i] {
			t.Errorf("shard %d commands +%d, want +%d (one publish op per message)", i, d, wantMsgs[i])
		}
		if d := a.DeliveriesOut - b.DeliveriesOut; d != wantDeliveries[i] {
			t.Errorf("shard %d deliveries_out +%d, want +%d", i, d, wantDeliveries[i])
		}
		shardBytes += a.BytesOut - b.BytesOut
	}
	f1, b1, m1 := sumLoops(after)
	if f1-f0 != totalRecv {
		t.Errorf("loops wrote %d frames, clients received %d", f1-f0, totalRecv)
	}
	if b1-b0 != shardBytes {
		t.Errorf("loops wrote %d bytes, shards queued %d", b1-b0, shardBytes)
	}
	if m1-m0 != totalSent {
		t.Errorf("loops counted %d messages in, clients sent %d", m1-m0, totalSent)
	}
	n := after.Node
	if n.Version == "" || n.Connections != int64(len(all)) || n.Goroutines <= 0 || n.HeapAllocBytes == 0 ||
		n.ShardCount != 4 || n.LoopCount != 2 || n.Uptime.AsDuration() <= 0 || n.Draining {
		t.Errorf("node stats: %v", n)
	}
	for _, l := range after.Loops {
		if l.WriteCalls > 0 && l.FramesPerWrite < 1 {
			t.Errorf("loop %d: frames_per_write %v", l.Index, l.FramesPerWrite)
		}
		// The live window is within [-flush-interval, -flush-max].
		if w := l.GetFlushWindow().AsDuration(); w < config.DefaultFlushInterval || w > config.DefaultFlushMax {
			t.Errorf("loop %d: flush_window %v, want within [%v, %v]", l.Index, w, config.DefaultFlushInterval, config.DefaultFlushMax)
		}
	}
}

func TestRoomsLandOnTheirShardAndPagingWalksAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	g := e.srv.Shards()
	want := []string{command.GlobalRoom}
	for i := range 23 {
		name := fmt.Sprintf("room_%02d", i)
		r, err := e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if int(r.Room.Shard) != g.RoomShard(name) {
			t.Errorf("CreateRoom %s: shard %d, want %d", name, r.Room.Shard, g.RoomShard(name))
		}
		want = append(want, name)
	}
	slices.Sort(want)
	_, err := e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: "room_00"})
	wantCode(t, err, codes.AlreadyExists)
	_, err = e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: "9bad name"})
	wantCode(t, err, codes.InvalidArgument)

	var names []string
	perShard := map[int32]int64{}
	token, pages := "", 0
	for {
		r, err := e.api.ListRooms(ctx, &adminv1.ListRoomsRequest{PageSize: 5, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(r.Rooms) > 5 {
			t.Fatalf("page of %d rooms", len(r.Rooms))
		}
		for _, rm := range r.Rooms {
			names = append(names, rm.Name)
			if int(rm.Shard) != g.RoomShard(rm.Name) {
				t.Errorf("%s listed on shard %d, hashes to %d", rm.Name, rm.Shard, g.RoomShard(rm.Name))
			}
			perShard[rm.Shard]++
		}
		if token = r.NextPageToken; token == "" {
			break
		}
	}
	if !slices.Equal(names, want) {
		t.Fatalf("walk listed %v, want %v", names, want)
	}
	if pages != 5 {
		t.Errorf("%d pages for 24 rooms of 5", pages)
	}
	st, err := e.api.GetStats(ctx, &adminv1.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Shards {
		if s.Rooms != perShard[s.Index] {
			t.Errorf("shard %d reports %d rooms, list has %d", s.Index, s.Rooms, perShard[s.Index])
		}
	}

	_, err = e.api.ListRooms(ctx, &adminv1.ListRoomsRequest{PageToken: "garbage!"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = e.api.ListRooms(ctx, &adminv1.ListRoomsRequest{PageSize: -1})
	wantCode(t, err, codes.InvalidArgument)
	_, err = e.api.ListRooms(ctx, &adminv1.ListRoomsRequest{PageSize: admin.MaxPageSize + 1})
	wantCode(t, err, codes.InvalidArgument)
}

func TestListUsersPagingAndFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	start := time.Now().Add(-time.Second)
	if _, err := e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: "lobby"}); err != nil {
		t.Fatal(err)
	}
	nicks := []string{"eve", "alice", "dave", "bob", "carol"}
	cs := map[string]*wstest.Client{}
	var all []*wstest.Client
	for _, n := range nicks {
		c := wstest.Dial(t, e.addr, n)
		cs[n] = c
		all = append(all, c)
	}
	join(t, cs["bob"], "lobby")
	join(t, cs["dave"], "lobby")
	for range 3 {
		if err := cs["alice"].Send("message", map[string]any{"body": "x"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// alice, carol and eve (global) get the 3 messages; bob and dave none.
	recvAll(t, all, []int{3, 3, 0, 0, 3})

	walk := func(room string, size int32) []*adminv1.User {
		var us []*adminv1.User
		token := ""
		for {
			r, err := e.api.ListUsers(ctx, &adminv1.ListUsersRequest{Room: room, PageSize: size, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Users) > int(size) {
				t.Fatalf("page of %d users, size %d", len(r.Users), size)
			}
			us = append(us, r.Users...)
			if token = r.NextPageToken; token == "" {
				return us
			}
		}
	}
	us := walk("", 2)
	var got []string
	for _, u := range us {
		got = append(got, u.Nickname)
		c := cs[u.Nickname]
		wantRoom := command.GlobalRoom
		if u.Nickname == "bob" || u.Nickname == "dave" {
			wantRoom = "lobby"
		}
		if u.Room != wantRoom {
			t.Errorf("%s in %s, want %s", u.Nickname, u.Room, wantRoom)
		}
		if u.RemoteAddr != c.Conn.LocalAddr().String() {
			t.Errorf("%s remote %s, want %s", u.Nickname, u.RemoteAddr, c.Conn.LocalAddr())
		}
		if s := u.ConnectedSince.AsTime(); s.Before(start) || s.After(time.Now()) {
			t.Errorf("%s connected since %v", u.Nickname, s)
		}
		wantSent := uint64(0)
		if u.Nickname == "alice" {
			wantSent = 3
		}
		if u.MessagesSent != wantSent || u.BacklogBytes != 0 {
			t.Errorf("%s: sent %d backlog %d", u.Nickname, u.MessagesSent, u.BacklogBytes)
		}
	}
	want := slices.Sorted(slices.Values(nicks))
	if !slices.Equal(got, want) {
		t.Fatalf("walk listed %v, want %v", got, want)
	}
	var lobby []string
	for _, u := range walk("lobby", 1) {
		lobby = append(lobby, u.Nickname)
	}
	if !slices.Equal(lobby, []string{"bob", "dave"}) {
		t.Fatalf("lobby: %v", lobby)
	}
	_, err := e.api.ListUsers(ctx, &adminv1.ListUsersRequest{Room: "nowhere"})
	wantCode(t, err, codes.NotFound)
	_, err = e.api.ListUsers(ctx, &adminv1.ListUsersRequest{Room: "x y"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = e.api.ListUsers(ctx, &adminv1.ListUsersRequest{PageToken: "djE6"}) // "v1:" with no key
	wantCode(t, err, codes.InvalidArgument)
}

func TestKickClosesWith4001AndFreesNickname(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	alice := wstest.Dial(t, e.addr, "alice")
	bob := wstest.Dial(t, e.addr, "bob")
	carol := wstest.Dial(t, e.addr, "carol")
	quietAll(t, []*wstest.Client{alice, bob, carol}, 100*time.Millisecond)

	if _, err := e.api.Kick(ctx, &adminv1.KickRequest{Nickname: "bob", Reason: "spamming"}); err != nil {
		t.Fatal(err)
	}
	if code, reason := bob.ExpectClose(t, 3*time.Second); code != command.CloseKicked || reason != "spamming" {
		t.Fatalf("bob closed with %d %q, want 4001 spamming", code, reason)
	}
	// The nickname is free at once: /auth for it succeeds.
	if _, st, err := wstest.Auth(e.addr, "bob"); err != nil || st != http.StatusCreated {
		t.Fatalf("auth bob after kick: %d %v", st, err)
	}
	// The others stay, and see bob leave.
	for _, c := range []*wstest.Client{alice, carol} {
		f, _ := c.Until(t, "left")
		if f.Str("nickname") != "bob" {
			t.Fatalf("%s: %v", c.Nick, f)
		}
	}
	// The kicked token no longer connects.
	if _, err := e.api.Kick(ctx, &adminv1.KickRequest{Nickname: "carol"}); err != nil {
		t.Fatal(err)
	}
	if code, reason := carol.ExpectClose(t, 3*time.Second); code != 4001 || reason != "kicked by admin" {
		t.Fatalf("carol closed with %d %q", code, reason)
	}
	var de *wstest.DialError
	if _, err := wstest.DialToken(e.addr, carol.Token); !errors.As(err, &de) || de.Status != http.StatusUnauthorized {
		t.Fatalf("reconnect with kicked token: %v, want 401", err)
	}
	if err := alice.Send("listusers", nil, "1"); err != nil {
		t.Fatal(err)
	}
	f, _ := alice.Until(t, "users")
	if u := f.Strings("users"); !slices.Equal(u, []string{"alice"}) {
		t.Fatalf("users after kicks: %v", u)
	}

	_, err := e.api.Kick(ctx, &adminv1.KickRequest{Nickname: "nobody"})
	wantCode(t, err, codes.NotFound)
	_, err = e.api.Kick(ctx, &adminv1.KickRequest{Nickname: "-bad"})
	wantCode(t, err, codes.InvalidArgument)
}

func TestBroadcastReachesRoomOrAllAndNobodyElse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	for _, r := range []string{"lobby", "dev"} {
		if _, err := e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: r}); err != nil {
			t.Fatal(err)
		}
	}
	roomOf := map[string]string{"alice": "global", "bob": "lobby", "carol": "lobby", "dave": "dev"}
	var all []*wstest.Client
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		c := wstest.Dial(t, e.addr, n)
		if roomOf[n] != "global" {
			join(t, c, roomOf[n])
		}
		all = append(all, c)
	}
	quietAll(t, all, 150*time.Millisecond)

	r, err := e.api.Broadcast(ctx, &adminv1.BroadcastRequest{Room: "lobby", Body: "maintenance at noon"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rooms != 1 || r.Recipients != 2 {
		t.Errorf("broadcast to lobby: %v", r)
	}
	want := make([]int, len(all))
	for i, c := range all {
		if roomOf[c.Nick] == "lobby" {
			want[i] = 1
		}
	}
	got := recvAll(t, all, want)
	for i, c := range all {
		for _, f := range got[i] {
			// The server's own message is marked by structure, not only by name.
			if f.Str("from") != "system" || f["server"] != true || f.Str("room") != "lobby" || f.Str("body") != "maintenance at noon" {
				t.Fatalf("%s got %v", c.Nick, f)
			}
		}
	}

	r, err = e.api.Broadcast(ctx, &adminv1.BroadcastRequest{Body: "hello everyone"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rooms != 3 || r.Recipients != 4 {
		t.Errorf("broadcast to all: %v", r)
	}
	got = recvAll(t, all, []int{1, 1, 1, 1})
	for i, c := range all {
		f := got[i][0]
		if f.Str("from") != "system" || f.Str("room") != roomOf[c.Nick] || f.Str("body") != "hello everyone" {
			t.Fatalf("%s got %v", c.Nick, f)
		}
	}

	_, err = e.api.Broadcast(ctx, &adminv1.BroadcastRequest{Room: "nowhere", Body: "x"})
	wantCode(t, err, codes.NotFound)
	_, err = e.api.Broadcast(ctx, &adminv1.BroadcastRequest{Room: "lobby"})
	wantCode(t, err, codes.InvalidArgument)
}

func TestDeleteRoomMovesMembersToGlobal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	if _, err := e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: "lobby"}); err != nil {
		t.Fatal(err)
	}
	alice := wstest.Dial(t, e.addr, "alice")
	bob := wstest.Dial(t, e.addr, "bob")
	carol := wstest.Dial(t, e.addr, "carol")
	join(t, bob, "lobby")
	join(t, carol, "lobby")
	quietAll(t, []*wstest.Client{alice, bob, carol}, 100*time.Millisecond)

	r, err := e.api.DeleteRoom(ctx, &adminv1.DeleteRoomRequest{Name: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Moved != 2 {
		t.Errorf("moved %d", r.Moved)
	}
	for _, c := range []*wstest.Client{bob, carol} {
		for {
			f, _ := c.Until(t, "joined")
			if f.Str("nickname") == c.Nick {
				if f.Str("room") != command.GlobalRoom {
					t.Fatalf("%s moved to %v", c.Nick, f)
				}
				break
			}
		}
	}
	eventually(t, "lobby gone", func() bool {
		_, err := e.api.ListUsers(ctx, &adminv1.ListUsersRequest{Room: "lobby"})
		return err != nil
	})
	rooms, err := e.api.ListRooms(ctx, &adminv1.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms.Rooms) != 1 || rooms.Rooms[0].Name != "global" || rooms.Rooms[0].MemberCount != 3 {
		t.Fatalf("rooms after delete: %v", rooms.Rooms)
	}
	_, err = e.api.DeleteRoom(ctx, &adminv1.DeleteRoomRequest{Name: "global"})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = e.api.DeleteRoom(ctx, &adminv1.DeleteRoomRequest{Name: "lobby"})
	wantCode(t, err, codes.NotFound)
	// The name is free again.
	if _, err := e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: "lobby"}); err != nil {
		t.Fatal(err)
	}
}

func TestDrainFlipsHealthAndClosesClients1012(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	alice := wstest.Dial(t, e.addr, "alice")
	bob := wstest.Dial(t, e.addr, "bob")
	hc, err := e.health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before drain: %v %v", hc, err)
	}
	hc, err = e.health.Check(ctx, &healthpb.HealthCheckRequest{Service: admin.ServiceName})
	if err != nil || hc.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("service health before drain: %v %v", hc, err)
	}
	// Watch health: the first change must be to NOT_SERVING.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	watch, err := e.health.Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := watch.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", m, err)
	}

	dr, err := e.api.Drain(ctx, &adminv1.DrainRequest{Timeout: durationpb.New(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if dr.Remaining != 0 {
		t.Errorf("remaining %d", dr.Remaining)
	}
	for _, c := range []*wstest.Client{alice, bob} {
		if code, _ := c.ExpectClose(t, 3*time.Second); code != command.CloseServiceRestart {
			t.Fatalf("%s closed with %d, want 1012", c.Nick, code)
		}
	}
	if m, err := watch.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch after drain: %v %v", m, err)
	}
	hc, err = e.health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after drain: %v %v", hc, err)
	}
	if st := readyz(t, e.addr); st != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d after drain", st)
	}
	select {
	case <-e.drained:
	default:
		t.Error("OnDrain not called")
	}
	// Changes are refused while draining; reads still work.
	_, err = e.api.Kick(ctx, &adminv1.KickRequest{Nickname: "alice"})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = e.api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: "late"})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = e.api.Broadcast(ctx, &adminv1.BroadcastRequest{Body: "x"})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = e.api.Drain(ctx, &adminv1.DrainRequest{})
	wantCode(t, err, codes.FailedPrecondition)
	st, err := e.api.GetStats(ctx, &adminv1.GetStatsRequest{})
	if err != nil || !st.Node.Draining {
		t.Fatalf("stats while draining: %v %v", st.GetNode(), err)
	}
}

func TestHealthFollowsDrainFromSIGTERMPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx := e.ctx(t)
	// What cmd/server does on SIGTERM: Server.Drain, not the RPC.
	if err := e.srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "health NOT_SERVING", func() bool {
		hc, err := e.health.Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && hc.Status == healthpb.HealthCheckResponse_NOT_SERVING
	})
}

func TestAdminTokenEnforced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{token: "s3cret"})
	bare, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.api.GetStats(bare, &adminv1.GetStatsRequest{})
	wantCode(t, err, codes.Unauthenticated)
	wrong := metadata.AppendToOutgoingContext(bare, "authorization", "Bearer nope")
	_, err = e.api.ListRooms(wrong, &adminv1.ListRoomsRequest{})
	wantCode(t, err, codes.Unauthenticated)
	basic := metadata.AppendToOutgoingContext(bare, "authorization", "Basic s3cret")
	_, err = e.api.ListRooms(basic, &adminv1.ListRoomsRequest{})
	wantCode(t, err, codes.Unauthenticated)
	stream, err := e.api.WatchStats(bare, &adminv1.WatchStatsRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	wantCode(t, err, codes.Unauthenticated)
	_, err = e.api.Drain(bare, &adminv1.DrainRequest{})
	wantCode(t, err, codes.Unauthenticated)
	if e.srv.Draining() {
		t.Fatal("unauthenticated Drain drained")
	}
	// Health needs no token.
	if hc, err := e.health.Check(bare, &healthpb.HealthCheckRequest{}); err != nil || hc.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without token: %v %v", hc, err)
	}
	if _, err := e.api.GetStats(e.ctx(t), &adminv1.GetStatsRequest{}); err != nil {
		t.Fatalf("with token: %v", err)
	}
}

func TestWatchStatsStreamsAndStopsOnCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	ctx, cancel := context.WithCancel(e.ctx(t))
	defer cancel()
	// 10 ms is raised to the 100 ms minimum.
	stream, err := e.api.WatchStats(ctx, &adminv1.WatchStatsRequest{Interval: durationpb.New(10 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for range 3 {
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Shards) != 4 || len(r.Loops) != 2 || r.Node == nil {
			t.Fatalf("snapshot: %v", r)
		}
		times = append(times, r.Time.AsTime())
	}
	if gap := times[2].Sub(times[0]); gap < 180*time.Millisecond {
		t.Errorf("3 snapshots in %v: interval not clamped to 100ms", gap)
	}
	if n := e.adm.Watchers(); n != 1 {
		t.Fatalf("%d watchers", n)
	}
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("after cancel: %v", err)
	}
	eventually(t, "watch stream to end on the server", func() bool { return e.adm.Watchers() == 0 })
}

func TestNonLoopbackWithoutTokenRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opt{})
	for _, tc := range []struct {
		cfg admin.Config
		ok  bool
	}{
		{admin.Config{Addr: "0.0.0.0:0"}, false},
		{admin.Config{Addr: ":0"}, false},
		{admin.Config{Addr: "0.0.0.0:0", Token: "t"}, true},
		{admin.Config{Addr: "0.0.0.0:0", Insecure: true}, true},
		{admin.Config{Addr: "localhost:0"}, true},
		{admin.Config{Addr: "[::1]:0"}, true},
	} {
		a, err := admin.New(e.srv, tc.cfg)
		if tc.ok != (err == nil) {
			t.Errorf("%+v: err %v", tc.cfg, err)
		}
		if !tc.ok && !errors.Is(err, admin.ErrInsecureAddr) {
			t.Errorf("%+v: err %v, want ErrInsecureAddr", tc.cfg, err)
		}
		if a != nil {
			if err := a.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}
}
