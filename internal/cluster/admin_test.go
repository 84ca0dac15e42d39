package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ics-chat/ics/internal/admin"
	"github.com/ics-chat/ics/internal/server"
	"github.com/ics-chat/ics/internal/servertest"
	"github.com/ics-chat/ics/internal/wstest"
	adminv1 "github.com/ics-chat/ics/proto/ics/admin/v1"
)

// adminOf serves the admin API of srv on a loopback port until the test ends.
func adminOf(t *testing.T, srv *server.Server) adminv1.AdminServiceClient {
	t.Helper()
	adm, err := admin.New(srv, admin.Config{Addr: "127.0.0.1:0", Logger: servertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- adm.Serve(context.Background()) }()
	conn, err := grpc.NewClient(adm.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = adm.Stop(ctx)
		<-served
	})
	return adminv1.NewAdminServiceClient(conn)
}

func testAdminClusterWide(t *testing.T, c *cluster) {
	api := adminOf(t, c.nodes[0])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	nodes, err := api.ListNodes(ctx, &adminv1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range nodes.Nodes {
		ids = append(ids, n.Id)
		if n.Self != (n.Id == "n1") || n.HttpAddr == "" {
			t.Fatalf("node record %v", n)
		}
	}
	if !slices.Equal(ids, []string{"n1", "n2", "n3"}) {
		t.Fatalf("ListNodes: %v", ids)
	}
	st, err := api.GetStats(ctx, &adminv1.GetStatsRequest{})
	if err != nil || st.Node.NodeId != "n1" || !st.Node.Clustered {
		t.Fatalf("GetStats: %v %v", st.GetNode(), err)
	}

	u1 := wstest.Dial(t, c.addr(0), "adm1")
	u2 := wstest.Dial(t, c.addr(1), "adm2")
	u3 := wstest.Dial(t, c.addr(2), "adm3")
	join(t, u3, "far", true)
	users, err := api.ListUsers(ctx, &adminv1.ListUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]string{}
	for _, u := range users.Users {
		where[u.Nickname] = u.Node + "/" + u.Room
	}
	for nick, want := range map[string]string{"adm1": "n1/global", "adm2": "n2/global", "adm3": "n3/far"} {
		if where[nick] != want {
			t.Fatalf("ListUsers from n1: %s at %q, want %q (all: %v)", nick, where[nick], want, where)
		}
	}
	rooms, err := api.ListRooms(ctx, &adminv1.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rooms.Rooms {
		names = append(names, r.Name)
	}
	if !slices.Contains(names, "far") {
		t.Fatalf("ListRooms from n1 misses far (on n3): %v", names)
	}
	if _, err := api.Broadcast(ctx, &adminv1.BroadcastRequest{Body: "hello all"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*wstest.Client{u1, u2, u3} {
		if f, _ := u.Until(t, "message"); f.Str("body") != "hello all" || f.Str("from") != "system" {
			t.Fatalf("%s got %v", u.Nick, f)
		}
	}
	// far exists on n3: creating it from n1 is refused, deleting it from
	// n1 moves adm3 (on n3) to global.
	if _, err := api.CreateRoom(ctx, &adminv1.CreateRoomRequest{Name: "far"}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("CreateRoom far from n1 while it exists on n3: %v, want AlreadyExists", err)
	}
	del, err := api.DeleteRoom(ctx, &adminv1.DeleteRoomRequest{Name: "far"})
	if err != nil || del.Moved != 1 {
		t.Fatalf("DeleteRoom far from n1: %v %v, want 1 moved (adm3 on n3)", del, err)
	}
	if f, _ := u3.Until(t, "joined"); f.Str("room") != "global" || f.Str("nickname") != "adm3" {
		t.Fatalf("adm3 after far was deleted from n1: %v, want joined global", f)
	}
	if _, err := api.DeleteRoom(ctx, &adminv1.DeleteRoomRequest{Name: "far"}); status.Code(err) != codes.NotFound {
		t.Fatalf("DeleteRoom far again: %v, want NotFound", err)
	}
	if _, err := api.Kick(ctx, &adminv1.KickRequest{Nickname: "adm3", Reason: "bye"}); err != nil {
		t.Fatalf("kick of a user on n3 from n1: %v", err)
	}
	if code, _ := u3.ExpectClose(t, 5*time.Second); code != 4001 {
		t.Fatalf("kicked user closed with %d, want 4001", code)
	}
	_ = u1.Send("exit", nil, nil)
	_ = u2.Send("exit", nil, nil)
}
