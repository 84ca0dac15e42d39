package cluster_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/wstest"
)

// TestThreeNodes runs one three-node cluster through what a user would
// notice: chat, nicknames, lists and a node dying and coming back. The
// steps share the cluster (JetStream takes seconds to form) and run in
// order; the death of a node comes last.
func TestThreeNodes(t *testing.T) {
	c := startCluster(t, 3)
	steps := []struct {
		name string
		run  func(*testing.T, *cluster)
	}{
		{"same nickname on three nodes at once: one 201", testClaimOnce},
		{"1000 messages from n1 reach n2 and n3 in order", testOrderedFanout},
		{"listrooms and listusers identical from every node", testListsIdentical},
		{"a room created or deleted on n1 is pushed to a watcher on n2", testRoomListPushAcrossNodes},
		{"setnick to a name held on another node is refused", testSetNickRemote},
		{"a token given up by exit is refused on every node", testExitRevokesEverywhere},
		{"the same token on another node takes the name over", testTakeoverAcrossNodes},
		{"admin API from n1 acts on every node", testAdminClusterWide},
		{"loadgen fanout -url spreads rooms over the nodes", testLoadgenAcrossNodes},
		{"history: each node's line of a room, recovery on the same node, complete:false on another", testHistoryLines},
		{"a killed node's users leave and its names are free; it rejoins", testNodeDeath},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(t, c) }) {
			return
		}
	}
}

func testClaimOnce(t *testing.T, c *cluster) {
	for round, names := range [][]string{{"zed", "zed", "zed"}, {"Yan", "yan", "YAN"}} {
		statuses := make([]int, 3)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				_, st, err := wstest.Auth(c.addr(i), names[i])
				if err != nil {
					t.Errorf("auth on n%d: %v", i+1, err)
				}
				statuses[i] = st
			})
		}
		wg.Wait()
		created := 0
		for _, st := range statuses {
			switch st {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Fatalf("round %d: status %d", round, st)
			}
		}
		if created != 1 {
			t.Fatalf("round %d (%v): %d nodes answered 201 (statuses %v), want exactly 1", round, names, created, statuses)
		}
	}
}

// join moves cl into room (creating it when create) and waits for its own joined.
func join(t *testing.T, cl *wstest.Client, room string, create bool) {
	t.Helper()
	typ := "switchroom"
	args := map[string]any{"room": room}
	if create {
		typ, args = "createroom", map[string]any{"name": room}
	}
	if err := cl.Send(typ, args, nil); err != nil {
		t.Fatal(err)
	}
	for {
		f, _ := cl.Until(t, "joined")
		if f.Str("nickname") == cl.Nick && f.Str("room") == room {
			return
		}
	}
}

// waitJoined reads cl's frames until it has seen every nick join room.
func waitJoined(t *testing.T, cl *wstest.Client, room string, nicks ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range nicks {
		want[n] = true
	}
	for len(want) > 0 {
		f, _ := cl.Until(t, "joined")
		if f.Str("room") == room {
			delete(want, f.Str("nickname"))
		}
	}
}

func testOrderedFanout(t *testing.T, c *cluster) {
	const n = 1000
	alice := wstest.Dial(t, c.addr(0), "alice")
	bob := wstest.Dial(t, c.addr(1), "bob")
	carl := wstest.Dial(t, c.addr(2), "carl")
	join(t, alice, "ordered", true)
	join(t, bob, "ordered", false)
	join(t, carl, "ordered", false)
	waitJoined(t, alice, "ordered", "bob", "carl")
	waitJoined(t, bob, "ordered", "carl")
	outName := `ics_cluster_messages_out_total{node="n1"}`
	inName := `ics_cluster_messages_in_total{node="n2"}`
	out0, in0 := c.metric(0, outName), c.metric(1, inName)
	go func() {
		for i := range n {
			if err := alice.Send("message", map[string]any{"body": strconv.Itoa(i)}, nil); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
	}()
	for _, cl := range []*wstest.Client{alice, bob, carl} {
		for i := range n {
			f, skipped := cl.Until(t, "message")
			if len(skipped) > 0 {
				t.Fatalf("%s: unexpected frames between messages: %v", cl.Nick, skipped)
			}
			if f.Str("body") != strconv.Itoa(i) || f.Str("from") != "alice" || f.Str("room") != "ordered" {
				t.Fatalf("%s: message %d is %v", cl.Nick, i, f)
			}
		}
		if f, err := cl.Next(200 * time.Millisecond); err == nil {
			t.Fatalf("%s: got %v after the last message (doubled?)", cl.Nick, f)
		}
	}
	// One NATS message per room message, whatever the members per node.
	if d := c.metric(0, outName) - out0; d != n {
		t.Fatalf("n1 published %v NATS messages for %d room messages, want %d", d, n, n)
	}
	if d := c.metric(1, inName) - in0; d != n {
		t.Fatalf("n2 received %v NATS messages for %d room messages, want %d", d, n, n)
	}
	for _, cl := range []*wstest.Client{alice, bob, carl} {
		_ = cl.Send("exit", nil, nil)
	}
}

// list sends typ (listrooms/listusers) and returns the sorted names.
func list(t *testing.T, cl *wstest.Client, typ, key string) []string {
	t.Helper()
	if err := cl.Send(typ, nil, "q"); err != nil {
		t.Fatal(err)
	}
	f, _ := cl.Until(t, key)
	return f.Strings(key)
}

func testListsIdentical(t *testing.T, c *cluster) {
	var cls []*wstest.Client
	for i := range 3 {
		cl := wstest.Dial(t, c.addr(i), fmt.Sprintf("lister%d", i+1))
		join(t, cl, fmt.Sprintf("room%d", i+1), true)
		cls = append(cls, cl)
	}
	// Everyone into room1, created on n1: a switch into a room of
	// another node.
	for _, cl := range cls[1:] {
		join(t, cl, "room1", false)
	}
	waitJoined(t, cls[0], "room1", "lister2", "lister3")
	wantUsers := []string{"lister1", "lister2", "lister3"}
	for _, cl := range cls {
		if got := list(t, cl, "listusers", "users"); !slices.Equal(got, wantUsers) {
			t.Fatalf("%s: listusers %v, want %v", cl.Nick, got, wantUsers)
		}
	}
	// room2 and room3 emptied and are gone; a fresh room on n3 is seen by all.
	other := wstest.Dial(t, c.addr(2), "other")
	join(t, other, "elsewhere", true)
	wantRooms := []string{"elsewhere", "global", "room1"}
	for _, cl := range cls {
		if got := list(t, cl, "listrooms", "rooms"); !slices.Equal(got, wantRooms) {
			t.Fatalf("%s: listrooms %v, want %v", cl.Nick, got, wantRooms)
		}
	}
	// createroom of a room that exists on another node is refused.
	if err := cls[0].Send("createroom", map[string]any{"name": "elsewhere"}, "c"); err != nil {
		t.Fatal(err)
	}
	if f, _ := cls[0].Until(t, "error"); f.Str("code") != "room_exists" {
		t.Fatalf("createroom of a remote room: %v", f)
	}
	for _, cl := range append(cls, other) {
		_ = cl.Send("exit", nil, nil)
	}
}

func testSetNickRemote(t *testing.T, c *cluster) {
	holder := wstest.Dial(t, c.addr(0), "holder")
	renamer := wstest.Dial(t, c.addr(1), "renamer")
	if err := renamer.Send("setnick", map[string]any{"nickname": "HOLDER"}, "s"); err != nil {
		t.Fatal(err)
	}
	if f, _ := renamer.Until(t, "error"); f.Str("code") != "nickname_taken" {
		t.Fatalf("setnick to a name held on n1: %v", f)
	}
	if err := renamer.Send("setnick", map[string]any{"nickname": "renamed"}, "s2"); err != nil {
		t.Fatal(err)
	}
	if f, _ := renamer.Until(t, "nick"); f.Str("nickname") != "renamed" {
		t.Fatalf("setnick: %v", f)
	}
	// The old name is free cluster-wide again.
	eventually(t, 5*time.Second, "renamer free on n3", func() bool {
		_, st, err := wstest.Auth(c.addr(2), "renamer")
		return err == nil && st == http.StatusCreated
	})
	_ = holder.Send("exit", nil, nil)
	_ = renamer.Send("exit", nil, nil)
}

func testNodeDeath(t *testing.T, c *cluster) {
	stay := wstest.Dial(t, c.addr(0), "stay")
	peer := wstest.Dial(t, c.addr(1), "peer")
	_ = wstest.Dial(t, c.addr(2), "doomed")
	waitJoined(t, stay, "global", "peer", "doomed")
	waitJoined(t, peer, "global", "doomed")
	killed := time.Now()
	c.kill(2)
	// While the dead node is still in the registry, cluster-wide lists
	// wait one request deadline for it, not the client's whole allowance.
	if err := stay.Send("listrooms", nil, "r"); err != nil {
		t.Fatal(err)
	}
	sawLeft := false
	for {
		f, err := stay.Next(5 * time.Second)
		if err != nil {
			t.Fatalf("listrooms with a dead node in the registry: %v", err)
		}
		if f.Type() == "rooms" {
			break
		}
		sawLeft = sawLeft || (f.Type() == "left" && f.Str("nickname") == "doomed")
	}
	for _, cl := range []*wstest.Client{stay, peer} {
		for !(cl == stay && sawLeft) {
			f, err := cl.Next(10 * time.Second)
			if err != nil {
				t.Fatalf("%s: no left for doomed within 10s: %v", cl.Nick, err)
			}
			if f.Type() == "left" && f.Str("nickname") == "doomed" {
				break
			}
		}
	}
	eventually(t, 10*time.Second-time.Since(killed), "doomed claimable on n1 within 10s of the kill", func() bool {
		_, st, err := wstest.Auth(c.addr(0), "doomed")
		return err == nil && st == http.StatusCreated
	})
	t.Logf("left and nickname free %v after the kill", time.Since(killed))
	// The two others still chat.
	if err := stay.Send("message", map[string]any{"body": "still here"}, nil); err != nil {
		t.Fatal(err)
	}
	if f, _ := peer.Until(t, "message"); f.Str("body") != "still here" {
		t.Fatalf("peer got %v", f)
	}
	// The node comes back and chats again.
	// The node comes back; at once (no waiting for the others' next
	// registry poll) its rooms are visible from the others.
	c.restart(2)
	back := wstest.Dial(t, c.addr(2), "back")
	waitJoined(t, stay, "global", "back")
	waitJoined(t, peer, "global", "back")
	join(t, back, "reborn", true)
	join(t, stay, "reborn", false)
	join(t, peer, "reborn", false)
	waitJoined(t, back, "reborn", "stay", "peer")
	if err := back.Send("message", map[string]any{"body": "rejoined"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*wstest.Client{stay, peer, back} {
		if f, _ := cl.Until(t, "message"); f.Str("body") != "rejoined" || f.Str("from") != "back" {
			t.Fatalf("%s got %v", cl.Nick, f)
		}
	}
	c.waitLive(3)
}

func testExitRevokesEverywhere(t *testing.T, c *cluster) {
	leaver := wstest.Dial(t, c.addr(0), "leaver")
	if err := leaver.Send("exit", nil, nil); err != nil {
		t.Fatal(err)
	}
	if code, _ := leaver.ExpectClose(t, 5*time.Second); code != 1000 {
		t.Fatalf("exit closed with %d", code)
	}
	for _, i := range []int{1, 2} {
		eventually(t, 5*time.Second, fmt.Sprintf("the exited token refused on n%d", i+1), func() bool {
			cl, err := wstest.DialToken(c.addr(i), leaver.Token)
			if err == nil {
				cl.Close()
				return false
			}
			var de *wstest.DialError
			return errors.As(err, &de) && de.Status == http.StatusUnauthorized
		})
	}
	// The name itself is free again.
	eventually(t, 5*time.Second, "leaver claimable on n3", func() bool {
		_, st, err := wstest.Auth(c.addr(2), "leaver")
		return err == nil && st == http.StatusCreated
	})
}

func testTakeoverAcrossNodes(t *testing.T, c *cluster) {
	// A token from /auth on n1, used on n2: n1 lets go of its
	// reservation, so the name is n1's to give again after n2's user leaves.
	tok, st, err := wstest.Auth(c.addr(0), "mover")
	if err != nil || st != http.StatusCreated {
		t.Fatalf("auth: %d %v", st, err)
	}
	first, err := wstest.DialToken(c.addr(1), tok)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.Nick = "mover"
	first.Expect(t, "joined")
	// The same token again on n3 while the n2 socket is still open: the
	// newcomer takes over, the old socket is closed with 4409.
	second, err := wstest.DialToken(c.addr(2), tok)
	if err != nil {
		t.Fatal(err)
	}
	second.Nick = "mover"
	second.Expect(t, "joined")
	if code, _ := first.ExpectClose(t, 5*time.Second); code != 4409 {
		t.Fatalf("old session closed with %d, want 4409", code)
	}
	_ = second.Send("exit", nil, nil)
	if code, _ := second.ExpectClose(t, 5*time.Second); code != 1000 {
		t.Fatalf("exit closed with %d", code)
	}
	eventually(t, 5*time.Second, "mover claimable again on n1, where it was first reserved", func() bool {
		_, st, err := wstest.Auth(c.addr(0), "mover")
		return err == nil && st == http.StatusCreated
	})
}
