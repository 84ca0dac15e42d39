package server_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ics-chat/ics/internal/shard"
	"github.com/ics-chat/ics/internal/wstest"
)

// nextRooms reads frames until a pushed `rooms` frame (one without an id)
// and returns its list; it fails after timeout.
func nextRooms(t *testing.T, c *wstest.Client, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, err := c.Next(time.Until(deadline))
		if err != nil {
			t.Fatalf("%s: waiting for a pushed rooms frame: %v", c.Nick, err)
		}
		if _, hasID := f["id"]; f.Type() == "rooms" && !hasID {
			return f.Strings("rooms")
		}
	}
}

// roomsReply reads c's frames up to the `rooms` reply with id, past any
// pushed list (a push may come first: the watch starts before the reply).
func roomsReply(t *testing.T, c *wstest.Client, id string) wstest.Frame {
	t.Helper()
	for {
		if f, _ := c.Until(t, "rooms"); f.Str("id") == id {
			return f
		}
	}
}

// TestRoomListPushedToWatchers: a connection that asked listrooms with
// watch gets the new list when a room is created or deleted, without asking;
// one that did not ask gets nothing; watch:false stops it.
func TestRoomListPushedToWatchers(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	watcher := wstest.Dial(t, addr, "watcher")
	other := wstest.Dial(t, addr, "other")
	maker := wstest.Dial(t, addr, "maker")
	if err := watcher.Send("listrooms", map[string]any{"watch": true}, "w1"); err != nil {
		t.Fatal(err)
	}
	if f := roomsReply(t, watcher, "w1"); !slices.Equal(f.Strings("rooms"), []string{"global"}) {
		t.Fatalf("listrooms reply: %v", f)
	}
	wait := 3 * shard.DefaultRoomsPushInterval

	if err := maker.Send("createroom", map[string]any{"name": "lobby"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := nextRooms(t, watcher, wait); !slices.Equal(got, []string{"global", "lobby"}) {
		t.Fatalf("after createroom lobby: pushed %v", got)
	}
	// The room is deleted when its last member leaves.
	if err := maker.Send("switchroom", map[string]any{"room": "global"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := nextRooms(t, watcher, wait); !slices.Equal(got, []string{"global"}) {
		t.Fatalf("after lobby emptied: pushed %v", got)
	}
	// other never asked to watch: it saw membership events, no rooms frame.
	for {
		f, err := other.Next(500 * time.Millisecond)
		if err != nil {
			break
		}
		if f.Type() == "rooms" {
			t.Fatalf("a connection that did not watch got %v", f)
		}
	}
	// watch:false ends the subscription.
	if err := watcher.Send("listrooms", map[string]any{"watch": false}, "w2"); err != nil {
		t.Fatal(err)
	}
	roomsReply(t, watcher, "w2")
	if err := maker.Send("createroom", map[string]any{"name": "den"}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		f, err := watcher.Next(time.Until(deadline))
		if err != nil {
			break
		}
		if f.Type() == "rooms" {
			t.Fatalf("pushed after watch:false: %v", f)
		}
	}
}

// TestRoomListPushIsRateBounded: a storm of room creations reaches a watcher
// as at most one list per push interval (plus the one in flight), and the
// last list it gets is the final one.
func TestRoomListPushIsRateBounded(t *testing.T) {
	srv := start(t, nil)
	addr := srv.Addr().String()
	watcher := wstest.Dial(t, addr, "watcher")
	if err := watcher.Send("listrooms", map[string]any{"watch": true}, "w"); err != nil {
		t.Fatal(err)
	}
	watcher.Until(t, "rooms")
	const makers, perMaker = 4, 15 // 60 room creations, each a change of the list
	var cs []*wstest.Client
	for i := range makers {
		cs = append(cs, wstest.Dial(t, addr, fmt.Sprintf("maker%d", i)))
	}
	start := time.Now()
	for j := range perMaker {
		for i, c := range cs {
			if err := c.Send("createroom", map[string]any{"name": fmt.Sprintf("storm%d_%d", i, j)}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The final list: each maker sits in its last room.
	want := []string{"global"}
	for i := range makers {
		want = append(want, fmt.Sprintf("storm%d_%d", i, perMaker-1))
	}
	slices.Sort(want)
	pushes := 0
	for {
		got := nextRooms(t, watcher, 10*shard.DefaultRoomsPushInterval)
		pushes++
		if slices.Equal(got, want) {
			break
		}
	}
	elapsed := time.Since(start)
	if max := int(elapsed/shard.DefaultRoomsPushInterval) + 1; pushes > max {
		t.Fatalf("%d room lists pushed in %v: more than one per %v", pushes, elapsed, shard.DefaultRoomsPushInterval)
	}
	t.Logf("%d creations reached the watcher as %d lists in %v", makers*perMaker, pushes, elapsed)
}
